"""The ledger hook: reserve the worst case before forwarding, settle or release afterwards.

Registered as ``gateway.ledger.hook:build_ledger_hook``; it is active when the gateway config
has a ``budgets`` section (a :class:`BudgetsConfig`).

* ``on_admitted`` reserves the request's worst case (see :mod:`gateway.ledger.reservations`)
  at the highest price among the model's deployments, as any of them may serve it; a
  refusal is a 429 ``budget_exceeded`` (or 503 ``budget_unavailable``).
* ``transform_request`` forwards the default output cap when the request sets none and a
  budget applies, so the reservation really is the worst case.
* ``on_complete`` settles to the reported usage at the serving deployment's price and leaves
  the :class:`UsageEvent` in ``ctx.state["ledger.usage"]`` (the audit event records its
  cost). An answer without usage is settled at the reserved worst case.
* ``on_failed`` settles at the worst case when an upstream already answered 2xx without
  usage (a stream broken midway: tokens were spent, how many is unknown), else releases.
* ``startup`` loads the budgets set through the admin API, restores this period's spend from
  the store's usage events, frees reservations left by crashed replicas (and keeps doing so
  periodically); budget threshold crossings are published on the event bus as
  ``budget.threshold``.
* Every usage event goes to the store through the outbox (:mod:`gateway.ledger.outbox`);
  ``shutdown`` writes what is still pending.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from gateway.config import ConfigError, GatewayConfig
from gateway.context import RequestContext
from gateway.errors import GatewayError
from gateway.hooks import Hook, HookServices
from gateway.ledger.budgets import BudgetsConfig
from gateway.ledger.durable import DurableLedger
from gateway.ledger.estimate import request_estimate, with_output_cap
from gateway.ledger.events import ThresholdCrossed
from gateway.ledger.pricing import ConfigPrice, Price, Usage, worst_price
from gateway.ledger.reservations import BudgetEngine, Reservation, Subject, create_budget_engine
from gateway.ledger.tasks import stop_task
from gateway.limits.store import StoreUnavailable, redis_for

RESERVATION_KEY = "ledger.reservation"
USAGE_KEY = "ledger.usage"
THRESHOLD_EVENT = "budget.threshold"
MAX_CACHED = 4096
"""callers and deployment prices the hook keeps converted; past that it starts afresh"""
_log = logging.getLogger("gatehouse.ledger")


def route_prices(config: GatewayConfig) -> dict[str, Price]:
    """Per model alias, the highest price any of its deployments charges."""
    return {
        route.name: worst_price(Price.from_config(d.price) for d in route.deployments)
        for route in config.models
    }


PRICE_DECIMALS = 6
"""decimals per million tokens a price may have: costs are then exact in pico-units"""


def check_prices(config: GatewayConfig) -> None:
    """Refuse prices finer than the ledger records exactly (see :mod:`gateway.ledger.tables`)."""
    bad = []
    for i, route in enumerate(config.models):
        for j, deployment in enumerate(route.deployments):
            price = Price.from_config(deployment.price)
            for name in ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok"):
                value = getattr(price, name)
                exponent = value.as_tuple().exponent if value is not None else 0
                if isinstance(exponent, int) and exponent < -PRICE_DECIMALS:
                    bad.append(
                        f"models[{i}].deployments[{j}].price.{name}: got {value}; expected at "
                        f"most {PRICE_DECIMALS} decimal places (the ledger records exact costs)"
                    )
    if bad:
        raise ConfigError("\n".join(bad))


def threshold_payload(event: ThresholdCrossed, currency: str) -> dict[str, Any]:
    budget = event.budget
    return {
        "budget_id": budget.budget_id,
        "scope": budget.scope,
        "subject": budget.subject,
        "period": budget.period,
        "amount": str(budget.amount),
        "spent": str(event.spent),
        "currency": currency,
        "threshold": event.threshold,
        "reason": event.reason,
        "period_start": event.period_start.isoformat(),
        "resets_at": event.resets_at.isoformat(),
    }


class LedgerHook(Hook):
    name = "ledger"

    def __init__(
        self,
        engine: BudgetEngine,
        prices: dict[str, Price],
        *,
        redis: Redis | None = None,
        durable: DurableLedger | None = None,
    ) -> None:
        self.engine = engine
        self.durable = durable
        self._prices = prices
        self._bytes_per_token = engine.config.prompt_bytes_per_token
        self._default_cap = engine.config.default_max_output_tokens
        self._served: dict[int, tuple[ConfigPrice, Price]] = {}
        """a serving deployment's config price (by identity) and its :class:`Price`"""
        self._subjects: dict[tuple[str, str | None, str | None], Subject] = {}
        """the :class:`Subject` of each caller seen (built once, not per request)"""
        self._redis = redis
        self._expiry: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        if self.durable is not None:
            await self.durable.start(self.engine)
        try:
            await self.engine.expire_stale()
        except StoreUnavailable as exc:
            _log.warning("budget reservation expiry at start-up skipped: %s", exc)
        interval = self.engine.config.expiry_interval_seconds
        self._expiry = asyncio.create_task(
            self.engine.expiry_loop(interval), name="budget-reservation-expiry"
        )

    async def shutdown(self) -> None:
        await stop_task(self._expiry)
        if self.durable is not None:
            await self.durable.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    async def on_admitted(self, ctx: RequestContext) -> None:
        identity = ctx.identity
        if identity is None or ctx.body is None or ctx.model not in self._prices:
            return
        prompt, cap = request_estimate(ctx, self._bytes_per_token, self._default_cap)
        ctx.state[RESERVATION_KEY] = await self.engine.reserve(
            ctx.request_id,
            self._subject(identity.subject, identity.team, identity.cost_center),
            price=self._prices[ctx.model],
            prompt_tokens=prompt,
            max_output_tokens=cap,
        )

    async def transform_request(self, ctx: RequestContext) -> None:
        reservation = _reservation(ctx)
        if reservation is not None and reservation.holds and ctx.body is not None:
            ctx.body = with_output_cap(ctx.body, self._default_cap)

    async def on_complete(self, ctx: RequestContext) -> None:
        reservation = _reservation(ctx)
        if reservation is None:
            return
        if ctx.usage:
            usage = Usage.from_openai(ctx.usage)
        else:
            _log.warning("no usage reported for %s; settling the worst case", ctx.request_id)
            usage = Usage(reservation.prompt_tokens, reservation.max_output_tokens)
        await self._settle(ctx, reservation, usage)

    async def on_failed(self, ctx: RequestContext, error: GatewayError) -> None:
        reservation = _reservation(ctx)
        if reservation is None:
            return
        if ctx.usage:
            await self._settle(ctx, reservation, Usage.from_openai(ctx.usage))
        elif any(a.status is not None and 200 <= a.status < 300 for a in ctx.attempts):
            worst = Usage(reservation.prompt_tokens, reservation.max_output_tokens)
            await self._settle(ctx, reservation, worst)
        else:
            await self.engine.release(reservation)

    async def _settle(self, ctx: RequestContext, reservation: Reservation, usage: Usage) -> None:
        if ctx.deployment is not None:
            price = self._served_price(ctx.deployment.price)
        else:
            price = self._prices[ctx.model or ""]
        settlement = await self.engine.settle(
            reservation,
            usage,
            price=price,
            model_alias=ctx.model or "",
            deployment=ctx.deployment_id,
            region=ctx.region,
        )
        event = settlement.event
        if event is not None:
            ctx.state[USAGE_KEY] = event
            if self.durable is not None:
                await self.durable.outbox.put(event)  # DurableLedger.record, one await less

    def _subject(self, key_id: str, team: str | None, cost_center: str | None) -> Subject:
        found = self._subjects.get((key_id, team, cost_center))
        if found is None:
            if len(self._subjects) >= MAX_CACHED:
                self._subjects.clear()
            found = self._subjects[(key_id, team, cost_center)] = Subject(key_id, team, cost_center)
        return found

    def _served_price(self, config_price: ConfigPrice) -> Price:
        """The :class:`Price` of a deployment's config price, converted once per object.

        Keyed by identity (hashing the config model per request costs more than the
        conversion saves); the entry holds the object, so its id is not reused meanwhile.
        """
        found = self._served.get(id(config_price))
        if found is not None and found[0] is config_price:
            return found[1]
        price = Price.from_config(config_price)
        if len(self._served) >= MAX_CACHED:
            self._served.clear()
        self._served[id(config_price)] = (config_price, price)
        return price


def _reservation(ctx: RequestContext) -> Reservation | None:
    found = ctx.state.get(RESERVATION_KEY)
    return found if isinstance(found, Reservation) else None


def build_ledger_hook(services: HookServices) -> LedgerHook | None:
    """The hook factory listed in ``gateway.hooks.HOOK_FACTORIES``; None without budgets."""
    config: BudgetsConfig | None = getattr(services.config, "budgets", None)
    if config is None or not config.enabled:
        return None
    check_prices(services.config)
    redis = None
    if config.backend == "redis":
        redis = redis_for(
            "budgets", config.redis_url_env, services.environ, config.store_timeout_seconds
        )
    currency = services.config.currency
    bus: Any = getattr(services, "events", None)
    registry: CollectorRegistry | None = getattr(services, "registry", None)

    def publish(event: ThresholdCrossed) -> None:
        if bus is not None:
            bus.publish(THRESHOLD_EVENT, threshold_payload(event, currency))

    store: Any = getattr(services, "store", None)
    durable = None
    if store is not None:
        durable = DurableLedger(store.engine, config, registry=registry)
    engine = create_budget_engine(
        config,
        redis=redis,
        budgets=durable.budgets if durable is not None else None,
        currency=currency,
        registry=registry,
        on_threshold=publish,
    )
    return LedgerHook(engine, route_prices(services.config), redis=redis, durable=durable)
