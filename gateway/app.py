"""The gateway ASGI application: :func:`create_app` builds it from a config.

All state lives on the returned :class:`GatewayApp` (no module-level mutable state). The
ASGI lifespan migrates the store, loads the API-key cache, starts its refresher and the
hooks; shutdown closes the hooks, the upstream connection pools and the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Callable, Mapping, Sequence

from gateway.admin import KEYS_PATH, AdminAPI
from gateway.asgi import AnyResponse, Receive, Request, Scope, Send, json_response
from gateway.audit.recorder import find_recorder
from gateway.auth import Authenticator, TokenVerifier
from gateway.auth.admin import AdminGuard
from gateway.auth.api_keys import KeyCache
from gateway.config import ConfigError, Deployment, GatewayConfig
from gateway.context import RequestContext
from gateway.errors import GatewayError, method_not_allowed, not_found
from gateway.events import EventBus
from gateway.hooks import HOOK_FACTORIES, Handler, Hook, HookChain, HookServices, build_hooks
from gateway.ledger.admin import LedgerAdmin
from gateway.middleware import context_middleware, context_of, error_middleware
from gateway.providers import create_adapter
from gateway.providers.base import Adapter
from gateway.proxy import Proxy
from gateway.routing import CircuitBreaker, Failover, Target
from gateway.routing.residency import normalise
from gateway.store import Store
from gateway.telemetry.endpoint import METRICS_PATH, MetricsEndpoint
from gateway.upstream import ClientPool

log = logging.getLogger("gateway")

AdapterFactory = Callable[[Deployment, Mapping[str, str]], Adapter]
TokenVerifierFactory = Callable[[GatewayConfig, ClientPool], TokenVerifier | None]


class Router:
    """Exact paths, plus one ``prefix/{id}`` family; 404 and 405 as OpenAI errors."""

    def __init__(
        self,
        exact: Mapping[str, Mapping[str, Handler]],
        prefixed: Mapping[str, Mapping[str, Handler]],
    ) -> None:
        self._exact = exact
        self._prefixed = prefixed

    def _methods(self, path: str) -> Mapping[str, Handler] | None:
        methods = self._exact.get(path)
        if methods is not None:
            return methods
        for prefix, handlers in self._prefixed.items():
            if path.startswith(prefix + "/") and "/" not in path[len(prefix) + 1 :]:
                return handlers
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        methods = self._methods(request.path)
        if methods is None:
            raise not_found(f"no such endpoint: {request.path}")
        handler = methods.get(request.method)
        if handler is None:
            raise method_not_allowed(request.method, ", ".join(methods))
        response = await handler(request, context_of(scope))
        await response(send)


def build_routes(
    config: GatewayConfig, environ: Mapping[str, str], adapter_factory: AdapterFactory
) -> dict[str, tuple[Target, ...]]:
    """One :class:`Target` per deployment; a missing secret fails here, at start-up."""
    routes: dict[str, tuple[Target, ...]] = {}
    breaker = config.circuit_breaker
    for i, route in enumerate(config.models):
        targets = []
        for j, deployment in enumerate(route.deployments):
            try:
                adapter = adapter_factory(deployment, environ)
            except ConfigError as exc:
                raise ConfigError(f"models[{i}].deployments[{j}].{exc}") from None
            target_id = f"{route.name}#{j}"
            targets.append(
                Target(
                    id=target_id,
                    model=route.name,
                    deployment=deployment,
                    adapter=adapter,
                    breaker=CircuitBreaker(
                        target_id, breaker.failure_threshold, breaker.cooldown_seconds
                    ),
                )
            )
        routes[route.name] = tuple(targets)
    return routes


def _default_token_verifier(config: GatewayConfig, pool: ClientPool) -> TokenVerifier | None:
    if not config.auth.oidc:
        return None
    from gateway.auth.oidc import OIDCVerifier

    return OIDCVerifier(config.auth.oidc, pool)


class GatewayApp:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        environ: Mapping[str, str],
        hooks: Sequence[Hook] | None,
        hook_factories: Sequence[str],
        adapter_factory: AdapterFactory,
        token_verifier_factory: TokenVerifierFactory,
        store: Store | None,
        rng: random.Random | None,
    ) -> None:
        self.config = config
        self.store = store or Store(config.store)
        self.pool = ClientPool(config.timeouts, config.upstream_pool)
        self.routes = build_routes(config, environ, adapter_factory)
        self.keys = KeyCache(self.store.keys) if config.auth.api_keys else None
        self.metrics = MetricsEndpoint(
            config.telemetry.metrics, environ, admin_key_env=config.auth.admin_key_env
        )
        self.events = EventBus()
        services = HookServices(
            config,
            environ,
            self.store,
            registry=self.metrics.registry,
            events=self.events,
            routes=self.routes,
        )
        self.hooks = HookChain(
            hooks if hooks is not None else build_hooks(services, hook_factories)
        )
        self.ready = False
        self._refresher: asyncio.Task[None] | None = None
        rng = rng or random.Random()  # noqa: S311 - load spreading, not security
        auth = Authenticator(self.keys, token_verifier_factory(config, self.pool))
        proxy = Proxy(
            auth=auth,
            routes=self.routes,
            default_jurisdictions=normalise(config.jurisdictions),
            hooks=self.hooks,
            failover=Failover(config.retry, rng=rng),
            pool=self.pool,
            max_body_bytes=config.max_body_bytes,
            rng=rng,
        )
        guard = AdminGuard(config.auth.admin_key_env, environ)
        ledger_admin = LedgerAdmin.from_hooks(guard, self.hooks.hooks)
        admin = AdminAPI(
            guard,
            self.store.keys,
            self.keys,
            [m.name for m in config.models],
            key_budgets=ledger_admin.set_key_budget,
            audit=find_recorder(self.hooks.hooks),
        )
        core: dict[str, Mapping[str, Handler]] = {
            "/v1/chat/completions": {"POST": proxy.chat},
            "/v1/embeddings": {"POST": proxy.embeddings},
            "/v1/models": {"GET": proxy.models},
            "/healthz": {"GET": self.healthz},
            "/readyz": {"GET": self.readyz},
            METRICS_PATH: {"GET": self.metrics.serve},
            KEYS_PATH: {"POST": admin.create_key, "GET": admin.list_keys},
            **ledger_admin.routes(),
        }
        router = Router(
            exact={**core, **self.hooks.routes(taken=list(core))},
            prefixed={KEYS_PATH: {"DELETE": admin.revoke_key}},
        )
        self._http = context_middleware(error_middleware(router))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self._http(scope, receive, send)

    # -- health ------------------------------------------------------------------------

    async def healthz(self, request: Request, ctx: RequestContext) -> AnyResponse:
        return json_response(200, {"status": "ok"})

    async def readyz(self, request: Request, ctx: RequestContext) -> AnyResponse:
        problems: list[str] = []
        if not self.ready:
            problems.append("starting or stopping")
        try:
            async with asyncio.timeout(2.0):
                await self.store.ping()
        except Exception as exc:
            problems.append(f"store unreachable: {type(exc).__name__}")
        if self.keys is not None and self.ready:
            # revocations only propagate while the key cache refreshes: a replica that
            # cannot refresh leaves the load balancer rather than serve stale keys
            limit = max(2.0, 5 * self.config.auth.key_refresh_seconds)
            age = self.keys.age()
            if age is None or age > limit:
                problems.append(f"API keys not refreshed from the store for over {limit:g} s")
        problems += self.hooks.problems()
        if problems:
            raise GatewayError(503, "; ".join(problems), type="server_error", code="not_ready")
        return json_response(200, {"status": "ready", "models": len(self.routes)})

    # -- lifespan ----------------------------------------------------------------------

    async def startup(self) -> None:
        await self.store.migrate()
        if self.keys is not None:
            await self.keys.refresh()
            interval = self.config.auth.key_refresh_seconds
            self._refresher = asyncio.create_task(self.keys.run(interval), name="key-refresh")
        await self.hooks.startup()
        self.ready = True

    async def shutdown(self) -> None:
        self.ready = False
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        await self.hooks.shutdown()
        await self.pool.aclose()
        for targets in self.routes.values():
            for target in targets:
                close = getattr(target.adapter, "aclose", None)
                if close is not None:
                    await close()
        await self.store.aclose()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("gateway start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(
    config: GatewayConfig,
    *,
    environ: Mapping[str, str] = os.environ,
    hooks: Sequence[Hook] | None = None,
    hook_factories: Sequence[str] = HOOK_FACTORIES,
    adapter_factory: AdapterFactory = create_adapter,
    token_verifier_factory: TokenVerifierFactory = _default_token_verifier,
    store: Store | None = None,
    rng: random.Random | None = None,
) -> GatewayApp:
    """Build the gateway. Raises :class:`ConfigError` for a missing secret or admin key.

    ``hooks``: the governance hooks in order; by default they are built from
    ``hook_factories`` (default: the registered ones, see :mod:`gateway.hooks`), each active
    when its config section is. The other keywords exist for tests and embedding.
    """
    return GatewayApp(
        config,
        environ=environ,
        hooks=hooks,
        hook_factories=hook_factories,
        adapter_factory=adapter_factory,
        token_verifier_factory=token_verifier_factory,
        store=store,
        rng=rng,
    )


__all__ = ["GatewayApp", "create_app"]
