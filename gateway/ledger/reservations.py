"""The budget reservation engine: reserve the worst case, then settle to the actual cost.

Before a request is forwarded, :meth:`BudgetEngine.reserve` atomically holds its worst-case
cost (prompt estimate * input price + output cap * output price) on every budget that applies
to it (key, team, cost center; daily and monthly), all or nothing. A budget admits a
request only if ``spent + reserved + worst case <= amount``, so concurrent requests can never
push settled spend past a budget. Afterwards :meth:`BudgetEngine.settle` replaces the hold by
the real cost and yields the :class:`UsageEvent` to persist; :meth:`BudgetEngine.release`
frees it when the request failed. Both are idempotent by request id.

Reservations carry an expiry (``reservation_ttl_seconds``): :meth:`BudgetEngine.expire_stale`,
run at start-up and periodically (:meth:`BudgetEngine.expiry_loop`), frees the holds of
requests whose replica crashed. A request settled after its hold expired still has its spend
counted.

Store outages follow ``on_store_error``: ``fail_closed`` (default) refuses with 503
``budget_unavailable``; ``fail_open_unsafe`` serves the request unchecked, logs a warning and
counts it in ``gatehouse_budget_fail_open_total``; its spend is still counted at settlement
if the store is back by then. A settlement that cannot reach the store still returns the
usage event, so the durable record is complete and counters can be re-seeded from it
(:meth:`BudgetEngine.seed`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from gateway.errors import GatewayError
from gateway.ledger.budgets import (
    Budget,
    BudgetsConfig,
    BudgetSource,
    ConfigBudgets,
    parse_budget_id,
    period_end,
    period_start,
)
from gateway.ledger.errors import BudgetExceeded, BudgetUnavailable
from gateway.ledger.estimate import estimate_prompt_tokens, output_cap
from gateway.ledger.events import ThresholdCrossed, UsageEvent
from gateway.ledger.memory_store import MemoryReservationStore
from gateway.ledger.pricing import (
    Price,
    Usage,
    budget_micros,
    cost,
    from_micros,
    to_micros,
    worst_case_cost,
)
from gateway.ledger.redis_store import RedisReservationStore
from gateway.ledger.store import CounterSpec, ReservationConflict, ReservationStore
from gateway.limits.store import FailOpenMeter, StoreUnavailable

_log = logging.getLogger("gatehouse.ledger")
COUNTER_RETENTION = timedelta(days=7)
"""How long a counter outlives its period (late settlements, status pages)."""
MAX_CACHED_PERIODS = 65_536
"""Budgets whose current period the engine keeps built; past that it starts afresh."""


@dataclass(frozen=True, slots=True)
class Subject:
    """Who pays: the API key, and the team and cost center it belongs to."""

    key_id: str
    team: str | None = None
    cost_center: str | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """One budget's part of a reservation, in the period the request started in."""

    budget: Budget
    period_start: datetime
    resets_at: datetime

    @property
    def counter(self) -> str:
        return self.budget.counter(self.period_start)


@dataclass(frozen=True, slots=True)
class _Period:
    """One budget in one period, with its counter as each store operation needs it.

    Built once per budget and period (see :meth:`BudgetEngine._period`), not per request.
    """

    hold: Hold
    plain: CounterSpec
    """reserve and release: the limit and expiry"""
    levelled: CounterSpec
    """settle: also the threshold levels to report"""


class Reservation(NamedTuple):
    """The worst case held for one request; pass it back to settle or release it.

    A named tuple rather than a frozen dataclass: one is built per request, and a tuple is
    several times cheaper to build (it is just as immutable).
    """

    request_id: str
    subject: Subject
    amount: Decimal
    holds: tuple[Hold, ...]
    reserved_at: datetime
    expires_at: datetime
    prompt_tokens: int
    max_output_tokens: int
    failed_open: bool = False
    """the store was unreachable and ``fail_open_unsafe`` let the request through unchecked"""


class Settlement(NamedTuple):
    """What one settle call did (a named tuple, like :class:`Reservation`: one per request).

    ``applied``: the cost reached the budget counters now. ``event``: the usage record this
    call produced (None for a repeated settle). ``store_error``: why the counters could not be
    updated (the event is still produced, so nothing is lost).
    """

    applied: bool
    event: UsageEvent | None
    thresholds: tuple[ThresholdCrossed, ...] = ()
    store_error: str | None = None


_NOT_APPLIED = Settlement(False, None)
"""a repeated settlement: nothing counted, no event"""


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    budget: Budget
    period_start: datetime
    resets_at: datetime
    spent: Decimal
    reserved: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.budget.amount - self.spent - self.reserved)


def _flag(threshold: float) -> str:
    return f"t{threshold:g}"


class BudgetEngine:
    """Budgets over one reservation store (memory or Redis); see the module docstring.

    ``currency`` is the gateway's (``GatewayConfig.currency``): every amount is in it.
    ``on_threshold`` and ``on_usage`` are called for every threshold crossing and every
    usage event (e.g. to enqueue them); an exception they raise is logged, never propagated.
    """

    def __init__(
        self,
        config: BudgetsConfig,
        store: ReservationStore,
        *,
        budgets: BudgetSource | None = None,
        currency: str = "USD",
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry | None = None,
        on_threshold: Callable[[ThresholdCrossed], None] | None = None,
        on_usage: Callable[[UsageEvent], None] | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._budgets = budgets if budgets is not None else ConfigBudgets(config)
        self._currency = currency
        self._clock = clock
        self._on_threshold = on_threshold
        self._on_usage = on_usage
        self._ttl = timedelta(seconds=config.reservation_ttl_seconds)
        self._refused_flag = _flag(1.0) if 1.0 in config.thresholds else None
        self._periods: dict[Budget, _Period] = {}
        self._by_budget: dict[int, _Period] = {}
        """the same periods by ``id`` of their budget object (checked by identity)"""
        self._by_hold: dict[int, _Period] = {}
        """every period built (until evicted) by ``id`` of its hold"""
        self._meter = FailOpenMeter(
            "gatehouse_budget_fail_open",
            "Requests served without a budget reservation because the store was unreachable",
            logger=_log,
            registry=registry,
        )

    @property
    def config(self) -> BudgetsConfig:
        return self._config

    @property
    def currency(self) -> str:
        return self._currency

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # -- reserve -------------------------------------------------------------------------

    def holds_for(self, subject: Subject, at: datetime) -> tuple[Hold, ...]:
        """The budgets that apply to ``subject``, in the periods containing ``at``."""
        return tuple(p.hold for p in self._periods_for(subject, at))

    def _periods_for(self, subject: Subject, at: datetime) -> list[_Period]:
        if not self._config.enabled:
            return []
        found = self._budgets.budgets_for(subject.key_id, subject.team, subject.cost_center)
        return [self._period(budget, at) for budget in found]

    def _period(self, budget: Budget, at: datetime) -> _Period:
        """``budget`` in the period containing ``at``: built once, then reused until it ends.

        Keyed by the budget's value, so a budget whose amount changes gets new counter specs;
        found first by identity (budget sources hand out the same objects each time, and
        hashing a budget costs more than the rest of the lookup).
        """
        cached = self._by_budget.get(id(budget))
        if cached is None or cached.hold.budget is not budget:
            cached = self._periods.get(budget)
        if cached is not None and cached.hold.period_start <= at < cached.hold.resets_at:
            return cached
        start = period_start(budget.period, at)
        hold = Hold(budget, start, period_end(budget.period, start))
        if len(self._by_hold) >= MAX_CACHED_PERIODS:
            self._periods.clear()
            self._by_budget.clear()
            self._by_hold.clear()
        built = _Period(
            hold, self._spec(hold, with_levels=False), self._spec(hold, with_levels=True)
        )
        self._periods[budget] = self._by_budget[id(budget)] = self._by_hold[id(hold)] = built
        return built

    def _specs(self, holds: tuple[Hold, ...], *, with_levels: bool) -> list[CounterSpec]:
        """The counter specs of a reservation's holds (built already, unless evicted)."""
        specs = []
        for hold in holds:
            # by identity: each entry keeps its hold alive, so an id found is that hold's
            cached = self._by_hold.get(id(hold))
            if cached is None or cached.hold is not hold:
                specs.append(self._spec(hold, with_levels=with_levels))
            else:
                specs.append(cached.levelled if with_levels else cached.plain)
        return specs

    async def reserve(
        self,
        request_id: str,
        subject: Subject,
        *,
        price: Price,
        prompt_tokens: int,
        max_output_tokens: int,
    ) -> Reservation:
        """Hold the worst-case cost on every applicable budget, or raise.

        Raises :class:`BudgetExceeded` (429) when a budget has no room, and
        :class:`BudgetUnavailable` (503) when the store is unreachable and budgets fail
        closed. ``price`` is the highest price the request may be served at (see
        :func:`gateway.ledger.pricing.worst_price`).
        """
        now = self.now()
        amount = worst_case_cost(price, prompt_tokens, max_output_tokens)
        periods = self._periods_for(subject, now)
        holds = tuple([p.hold for p in periods])
        reservation = Reservation(
            request_id,
            subject,
            amount,
            holds,
            now,
            now + self._ttl,
            prompt_tokens,
            max_output_tokens,
        )
        if not holds:
            return reservation
        full = self._refused_flag
        try:
            refusal = await self._store.reserve(
                request_id,
                [p.plain for p in periods],
                to_micros(amount),
                expires_at=reservation.expires_at.timestamp(),
                refused_flag=full,
            )
        except StoreUnavailable as exc:
            return self._reserve_unreachable(reservation, exc)
        except ReservationConflict as exc:
            raise GatewayError(
                409,
                f"request id {request_id!r} already holds a different reservation",
                code="duplicate_request_id",
            ) from exc
        if refusal is None:
            return reservation
        hold = holds[refusal.index]
        spent = from_micros(refusal.spent)
        if refusal.first and full is not None:
            self._emit_threshold(
                ThresholdCrossed(
                    hold.budget, hold.period_start, hold.resets_at, 1.0, spent, "refused"
                )
            )
        raise BudgetExceeded(
            hold.budget,
            currency=self._currency,
            spent=spent,
            reserved=from_micros(refusal.reserved),
            needed=amount,
            resets_at=hold.resets_at,
            now=now,
        )

    async def reserve_request(
        self, request_id: str, subject: Subject, body: Mapping[str, Any], *, price: Price
    ) -> Reservation:
        """:meth:`reserve` with the estimates of :mod:`gateway.ledger.estimate`."""
        return await self.reserve(
            request_id,
            subject,
            price=price,
            prompt_tokens=estimate_prompt_tokens(body, self._config.prompt_bytes_per_token),
            max_output_tokens=output_cap(body, self._config.default_max_output_tokens),
        )

    def _reserve_unreachable(self, reservation: Reservation, exc: StoreUnavailable) -> Reservation:
        if self._config.on_store_error == "fail_closed":
            _log.error("budget store unreachable, refusing the request: %s", exc)
            raise BudgetUnavailable(str(exc)) from exc
        self._meter.record("reserve", exc)
        return reservation._replace(failed_open=True)

    def _spec(self, hold: Hold, *, with_levels: bool) -> CounterSpec:
        limit = budget_micros(hold.budget.amount)
        levels: tuple[tuple[str, int], ...] = ()
        if with_levels and limit > 0:
            levels = tuple(
                (_flag(t), math.ceil(Decimal(repr(t)) * limit)) for t in self._config.thresholds
            )
        expires = (hold.resets_at + COUNTER_RETENTION).timestamp()
        return CounterSpec(hold.counter, limit, expires, levels)

    # -- settle / release ------------------------------------------------------------------

    async def settle(
        self,
        reservation: Reservation,
        usage: Usage,
        *,
        price: Price,
        model_alias: str,
        deployment: str | None,
        region: str | None = None,
    ) -> Settlement:
        """Count the actual cost against the held budgets and produce the usage event.

        A repeated settle of the same reservation does nothing (``applied`` false, no event).
        """
        now = self.now()
        actual = cost(price, usage)
        subject = reservation.subject
        event = UsageEvent(  # positional: keyword arguments cost a frozen dataclass dearly
            reservation.request_id,
            # the reservation's time, not the settle's: the budget counters were charged in
            # its period, and a request that ends after midnight belongs to the day it began
            reservation.reserved_at,
            subject.key_id,
            subject.team,
            subject.cost_center,
            model_alias,
            deployment,
            usage.input_tokens,
            usage.output_tokens,
            usage.cached_input_tokens,
            actual,
            self._currency,
            region,
        )
        if not reservation.holds:
            self._emit_usage(event)
            return Settlement(True, event)
        specs = self._specs(reservation.holds, with_levels=True)
        unreserved = (now + self._ttl).timestamp() if reservation.failed_open else None
        try:
            outcome = await self._store.settle(
                reservation.request_id, specs, to_micros(actual), unreserved_until=unreserved
            )
        except StoreUnavailable as exc:
            _log.error(
                "budget store unreachable at settlement of %s; spend of %s %s is in the usage "
                "event only until counters are re-seeded: %s",
                reservation.request_id,
                actual,
                self._currency,
                exc,
            )
            self._emit_usage(event)
            return Settlement(False, event, (), str(exc))
        if not outcome.applied:
            return _NOT_APPLIED
        if not outcome.crossings:
            self._emit_usage(event)
            return Settlement(True, event)
        crossings = []
        for crossing in outcome.crossings:
            hold = reservation.holds[crossing.index]
            found = ThresholdCrossed(
                hold.budget,
                hold.period_start,
                hold.resets_at,
                self._config.thresholds[crossing.level],
                from_micros(crossing.spent),
                "spend",
            )
            crossings.append(found)
            self._emit_threshold(found)
        self._emit_usage(event)
        return Settlement(True, event, tuple(crossings))

    async def release(self, reservation: Reservation) -> bool:
        """Free the hold of a request that failed before it cost anything.

        Returns whether a hold was freed. An unreachable store is logged: the hold then
        expires on its own.
        """
        if not reservation.holds or reservation.failed_open:
            return False
        specs = self._specs(reservation.holds, with_levels=False)
        try:
            outcome = await self._store.settle(reservation.request_id, specs, 0)
        except StoreUnavailable as exc:
            _log.warning(
                "budget store unreachable releasing %s; the hold expires at %s: %s",
                reservation.request_id,
                reservation.expires_at.isoformat(),
                exc,
            )
            return False
        return outcome.applied

    # -- maintenance -----------------------------------------------------------------------

    async def expire_stale(self) -> int:
        """Free the holds of reservations past their expiry; return how many.

        Raises :class:`StoreUnavailable` when the store cannot be reached.
        """
        now = self.now()
        expired = await self._store.expire(
            now.timestamp(), tombstone_until=(now + self._ttl).timestamp()
        )
        if expired:
            _log.warning(
                "freed %d budget reservations left by requests that never settled", expired
            )
        return expired

    async def expiry_loop(self, interval: float = 30.0) -> None:
        """Run :meth:`expire_stale` now and every ``interval`` seconds until cancelled."""
        while True:
            try:
                await self.expire_stale()
            except StoreUnavailable as exc:
                _log.warning("budget reservation expiry skipped: %s", exc)
            except Exception:  # keep the loop alive; the next round may succeed
                _log.exception("budget reservation expiry failed")
            await asyncio.sleep(interval)

    async def seed(self, budget_id: str, period_start_at: datetime, spent: Decimal) -> Decimal:
        """Restore a counter's spend from the durable record (e.g. SQL totals at start-up).

        Spend is only ever raised: a shared counter that is ahead of the record (events not
        yet flushed) keeps its value. Returns the counter's spend afterwards.
        """
        scope, subject, period = parse_budget_id(budget_id)
        start = period_start_at.astimezone(UTC)
        if period_start(period, start) != start:
            raise ValueError(
                f"period_start {period_start_at.isoformat()} is not the start of a {period} "
                "period (00:00 UTC, on the 1st for monthly)"
            )
        hold = Hold(Budget(scope, subject, period, Decimal(0)), start, period_end(period, start))
        result = await self._store.seed(
            hold.counter,
            to_micros(spent),
            expires_at=(hold.resets_at + COUNTER_RETENTION).timestamp(),
        )
        return from_micros(result)

    async def status(self, subject: Subject) -> list[BudgetStatus]:
        """Spent and reserved amounts of every budget of ``subject``, this period."""
        now = self.now()
        return [await self._status(hold) for hold in self.holds_for(subject, now)]

    async def budget_status(self, budget: Budget) -> BudgetStatus:
        """Spent and reserved amounts of one budget, this period."""
        start = period_start(budget.period, self.now())
        return await self._status(Hold(budget, start, period_end(budget.period, start)))

    async def _status(self, hold: Hold) -> BudgetStatus:
        state = await self._store.read(hold.counter)
        return BudgetStatus(
            hold.budget,
            hold.period_start,
            hold.resets_at,
            from_micros(state.spent),
            from_micros(state.reserved),
        )

    # -- callbacks -------------------------------------------------------------------------

    def _emit_threshold(self, event: ThresholdCrossed) -> None:
        if self._on_threshold is not None:
            try:
                self._on_threshold(event)
            except Exception:
                _log.exception("budget threshold callback failed for %s", event.budget.budget_id)

    def _emit_usage(self, event: UsageEvent) -> None:
        if self._on_usage is not None:
            try:
                self._on_usage(event)
            except Exception:
                _log.exception("usage event callback failed for %s", event.request_id)


def create_budget_engine(
    config: BudgetsConfig,
    *,
    redis: Redis | None = None,
    budgets: BudgetSource | None = None,
    currency: str = "USD",
    registry: CollectorRegistry | None = None,
    on_threshold: Callable[[ThresholdCrossed], None] | None = None,
    on_usage: Callable[[UsageEvent], None] | None = None,
) -> BudgetEngine:
    """The engine ``config`` describes; ``redis`` is required for the redis backend."""
    store: ReservationStore
    if config.backend == "redis":
        if redis is None:
            raise ValueError(
                "budgets.backend is 'redis' but no Redis client was given; configure the "
                "gateway's Redis connection or set budgets.backend to 'memory'"
            )
        store = RedisReservationStore(
            redis, prefix=config.key_prefix, timeout=config.store_timeout_seconds
        )
    else:
        store = MemoryReservationStore()
    return BudgetEngine(
        config,
        store,
        budgets=budgets,
        currency=currency,
        registry=registry,
        on_threshold=on_threshold,
        on_usage=on_usage,
    )
