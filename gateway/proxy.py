"""The proxied endpoints: ``/v1/chat/completions``, ``/v1/embeddings`` and ``/v1/models``.

One pipeline serves both operations:

1. authenticate the bearer credential → :class:`~gateway.context.Identity`;
2. read the body (415 / 413), parse it once with orjson and check field types (400);
3. resolve the model alias (404), check the caller may use it (403) and filter its
   deployments by the caller's jurisdictions (403 ``residency_violation``);
4. hooks: ``on_admitted`` then ``transform_request``;
5. try deployments in priority/weight order with retries, fallback and circuit breakers;
6. translate the answer to OpenAI form, run the response hooks, ``on_complete``, send.

Nothing here reads the store: API keys come from the in-memory cache.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence

import orjson

from gateway.asgi import (
    AnyResponse,
    Request,
    Response,
    StreamResponse,
    json_response,
    raw_json_response,
)
from gateway.auth import Authenticator
from gateway.body import parse_object, validate
from gateway.context import Identity, RequestContext
from gateway.errors import GatewayError, forbidden, from_upstream, internal, not_found
from gateway.hooks import HookChain
from gateway.providers.base import JSON, Operation, StreamTranslator, UpstreamError
from gateway.routing import Failover, Target, decide, order
from gateway.upstream import ClientPool, UpstreamResponse, exchange

log = logging.getLogger("gateway.proxy")

_DONE = b"data: [DONE]\n\n"


def sse_event(payload: JSON | bytes) -> bytes:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return b"data: " + data + b"\n\n"


def _failure(exc: BaseException) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, UpstreamError):
        return from_upstream(exc)
    log.error("unexpected error on the request path", exc_info=exc)
    return internal()


class Proxy:
    def __init__(
        self,
        *,
        auth: Authenticator,
        routes: Mapping[str, Sequence[Target]],
        default_jurisdictions: frozenset[str],
        hooks: HookChain,
        failover: Failover,
        pool: ClientPool,
        max_body_bytes: int,
        rng: random.Random,
    ) -> None:
        self._auth = auth
        self._routes = routes
        self._default = default_jurisdictions
        self._hooks = hooks
        self._failover = failover
        self._pool = pool
        self._limit = max_body_bytes
        self._rng = rng

    # -- endpoints ---------------------------------------------------------------------

    async def chat(self, request: Request, ctx: RequestContext) -> AnyResponse:
        return await self._handle("chat", request, ctx)

    async def embeddings(self, request: Request, ctx: RequestContext) -> AnyResponse:
        return await self._handle("embeddings", request, ctx)

    async def models(self, request: Request, ctx: RequestContext) -> AnyResponse:
        identity = await self._auth.authenticate(request.headers)
        ctx.identity = identity
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "gatehouse"}
            for name, targets in self._routes.items()
            if identity.may_use(name) and decide(identity, targets, self._default).eligible
        ]
        return json_response(200, {"object": "list", "data": data})

    # -- pipeline ----------------------------------------------------------------------

    def _admit(self, identity: Identity, ctx: RequestContext) -> list[Target]:
        alias = ctx.model
        assert alias is not None
        targets = self._routes.get(alias)
        if targets is None:
            raise not_found(f"the model {alias!r} does not exist", code="model_not_found")
        if not identity.may_use(alias):
            raise forbidden(f"this credential may not use the model {alias!r}", "model_not_allowed")
        decision = decide(identity, targets, self._default)
        ctx.residency = decision
        if not decision.eligible:
            allowed = ", ".join(sorted(decision.allowed)) or "none"
            served = ", ".join(sorted({j for _, j in decision.excluded}))
            raise forbidden(
                f"the model {alias!r} has no deployment in the jurisdictions allowed for this "
                f"caller ({allowed}; from the {decision.source}); it is served in: {served}",
                "residency_violation",
            )
        eligible = set(decision.eligible)
        return order([t for t in targets if t.id in eligible], self._rng)

    async def _accept(self, op: Operation, request: Request, ctx: RequestContext) -> list[Target]:
        """Steps 1-3: who is calling, what they send, where it may go."""
        ctx.op = op
        identity = await self._auth.authenticate(request.headers)
        ctx.identity = identity
        body = parse_object(await request.json_body(self._limit))
        validate(op, body)
        ctx.body, ctx.model = body, body["model"]
        ctx.stream = op == "chat" and body.get("stream") is True
        options = body.get("stream_options")
        ctx.include_usage = (
            ctx.stream and isinstance(options, dict) and options.get("include_usage") is True
        )
        return self._admit(identity, ctx)

    async def _handle(self, op: Operation, request: Request, ctx: RequestContext) -> AnyResponse:
        try:
            targets = await self._accept(op, request, ctx)
        except GatewayError as err:
            ctx.status = err.status
            await self._hooks.refused(ctx, err)
            raise
        try:
            await self._hooks.admitted(ctx)
        except GatewayError as err:
            ctx.status = err.status
            raise
        try:
            await self._hooks.request(ctx)
            if ctx.stream:
                return await self._start_stream(ctx, targets)
            return await self._complete(ctx, targets)
        except BaseException as exc:
            error = _failure(exc)
            ctx.status = error.status
            await self._hooks.failed(ctx, error)
            if error is exc or not isinstance(exc, Exception):
                raise
            raise error from exc

    async def _exchange(
        self, ctx: RequestContext, target: Target, *, stream: bool
    ) -> UpstreamResponse:
        assert ctx.op is not None and ctx.body is not None
        req = await target.adapter.build_request(ctx.op, ctx.body, stream=stream)
        started = time.perf_counter()
        try:
            response = await exchange(self._pool, req, stream=stream)
        finally:
            ctx.upstream_seconds += time.perf_counter() - started
        if not response.is_success:
            raise target.adapter.translate_error(
                response.status, response.headers, response.content
            )
        return response

    def _chose(self, ctx: RequestContext, target: Target) -> None:
        ctx.deployment_id = target.id
        ctx.deployment = target.deployment

    async def _complete(self, ctx: RequestContext, targets: Sequence[Target]) -> Response:
        op = ctx.op
        assert op is not None

        async def attempt(target: Target) -> JSON:
            response = await self._exchange(ctx, target, stream=False)
            return target.adapter.translate_response(op, response.status, response.content)

        target, result = await self._failover.run(ctx, targets, attempt)
        self._chose(ctx, target)
        usage = result.get("usage")
        ctx.usage = usage if isinstance(usage, dict) else None
        result["model"] = ctx.model
        result = await self._hooks.response(ctx, result)
        ctx.status = 200
        await self._hooks.complete(ctx)
        return raw_json_response(200, orjson.dumps(result))

    # -- streaming -----------------------------------------------------------------------

    async def _start_stream(self, ctx: RequestContext, targets: Sequence[Target]) -> StreamResponse:
        async def attempt(target: Target) -> UpstreamResponse:
            return await self._exchange(ctx, target, stream=True)

        target, upstream = await self._failover.run(ctx, targets, attempt)
        self._chose(ctx, target)
        assert ctx.model is not None
        translator = target.adapter.stream_translator(ctx.model)
        return StreamResponse(self._events(ctx, target, upstream, translator))

    async def _encode(self, ctx: RequestContext, chunks: list[JSON]) -> bytes:
        parts: list[bytes] = []
        for chunk in chunks:
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                ctx.usage = usage
            if not ctx.include_usage:
                if usage is not None and not chunk.get("choices"):
                    continue  # the usage-only chunk the client did not ask for
                chunk.pop("usage", None)
            if self._hooks.transforms_chunks:
                parts.extend(sse_event(c) for c in await self._hooks.chunk(ctx, chunk))
            else:
                parts.append(sse_event(chunk))
        return b"".join(parts)

    async def _events(
        self,
        ctx: RequestContext,
        target: Target,
        upstream: UpstreamResponse,
        translator: StreamTranslator,
    ) -> AsyncIterator[bytes]:
        """Relay the upstream stream chunk by chunk; end with ``[DONE]`` or an error event."""
        try:
            try:
                async for data in upstream.aiter_bytes():
                    out = await self._encode(ctx, translator.feed(data))
                    if out:
                        yield out
                tail = await self._encode(ctx, translator.close())
                flushed = await self._hooks.finish(ctx)
                tail += b"".join(sse_event(c) for c in flushed)
            except UpstreamError as exc:
                target.breaker.record_failure()
                raise _failure(exc) from exc
            await self._hooks.complete(ctx)
        except BaseException as exc:
            error = _failure(exc)
            ctx.status = error.status
            await self._hooks.failed(ctx, error)
            if not isinstance(exc, Exception):
                raise
            log.warning("stream %s ended with an error: %s", ctx.request_id, error.message)
            yield sse_event(error.body())
            return
        finally:
            await upstream.aclose()
        yield tail + _DONE
