"""Budgets: an amount per period on an API key, a team or a cost center.

Periods are calendar periods in UTC: ``daily`` resets at 00:00 UTC, ``monthly`` at 00:00 UTC
on the first day of the month. Spend is counted per period in a *counter* named
``<scope>:<subject>:<period>:<label>``, e.g. ``team:risk:monthly:2026-11``, so a new period
starts from zero without any reset job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.ledger.estimate import DEFAULT_BYTES_PER_TOKEN, DEFAULT_OUTPUT_CAP

BudgetScope = Literal["key", "team", "cost_center"]
BudgetPeriod = Literal["daily", "monthly"]
BudgetStoreErrorPolicy = Literal["fail_closed", "fail_open_unsafe"]
_SCOPES: tuple[BudgetScope, ...] = ("key", "team", "cost_center")
_PERIODS: tuple[BudgetPeriod, ...] = ("daily", "monthly")
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


def period_start(period: BudgetPeriod, at: datetime) -> datetime:
    """The start (UTC) of the period that contains ``at``."""
    at = at.astimezone(UTC)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == "daily" else day.replace(day=1)


def period_end(period: BudgetPeriod, start: datetime) -> datetime:
    """When the period that begins at ``start`` ends: the next period's start."""
    if period == "daily":
        return start + timedelta(days=1)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_label(period: BudgetPeriod, start: datetime) -> str:
    return start.strftime("%Y-%m-%d" if period == "daily" else "%Y-%m")


@dataclass(frozen=True, slots=True)
class Budget:
    """One budget: ``amount`` (gateway currency) per ``period`` for one subject."""

    scope: BudgetScope
    subject: str
    period: BudgetPeriod
    amount: Decimal

    @property
    def budget_id(self) -> str:
        """Stable name of the budget across periods: ``team:risk:monthly``."""
        return f"{self.scope}:{self.subject}:{self.period}"

    def counter(self, start: datetime) -> str:
        """The counter of the period that begins at ``start``."""
        return f"{self.budget_id}:{period_label(self.period, start)}"

    def describe(self) -> str:
        scope = self.scope.replace("_", " ")
        return f"{scope} '{self.subject}' has a {self.period} budget of {self.amount}"


def parse_budget_id(budget_id: str) -> tuple[BudgetScope, str, BudgetPeriod]:
    """Split ``<scope>:<subject>:<period>`` (the subject may itself contain colons)."""
    scope, _, rest = budget_id.partition(":")
    subject, _, period = rest.rpartition(":")
    if scope in _SCOPES and period in _PERIODS and subject:
        return scope, subject, period
    raise ValueError(
        f"budget id {budget_id!r} is not '<scope>:<subject>:<period>' with scope one of "
        f"{', '.join(_SCOPES)} and period one of {', '.join(_PERIODS)}"
    )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BudgetSpec(_Model):
    """One budget as configured, or as sent with a key: ``{"amount": 50, "period": "monthly"}``."""

    amount: Decimal = Field(
        ge=0, le=1_000_000_000, decimal_places=6, description="in the gateway's currency"
    )
    period: BudgetPeriod = Field(default="monthly", description="default: monthly (UTC)")


def _as_list(value: object) -> object:
    """Accept one budget or a list of budgets per subject."""
    if isinstance(value, dict):
        return {k: [v] if isinstance(v, dict | BudgetSpec) else v for k, v in value.items()}
    return value


class UsageOutboxConfig(_Model):
    """How settled usage events are written to the store: in batches, off the request path."""

    flush_interval_seconds: float = Field(
        default=0.2, gt=0, le=10, description="longest wait before pending events are written"
    )
    batch_size: int = Field(
        default=500, ge=1, le=1000, description="events per INSERT; a full batch is written at once"
    )
    max_pending: int = Field(
        default=100_000,
        ge=1000,
        description="events held while the store cannot be written; when full, answers wait "
        "for room (no event is dropped)",
    )
    shutdown_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="how long shutdown keeps retrying the last write"
    )


class BudgetsConfig(_Model):
    """Budgets and how they are enforced (reserve the worst case, then settle)."""

    enabled: bool = Field(default=True, description="default: budgets are enforced")
    backend: Literal["memory", "redis"] = Field(
        default="memory",
        description="default: in process memory, correct for one replica only; use redis "
        "when several replicas serve the same budgets",
    )
    redis_url_env: EnvName = Field(
        default="GATEHOUSE_REDIS_URL",
        description="environment variable holding the Redis URL (backend redis)",
    )
    key_prefix: str = Field(default="gatehouse:budget:", min_length=1)
    on_store_error: BudgetStoreErrorPolicy = Field(
        default="fail_closed",
        description="default: a request is refused with 503 when the budget store cannot "
        "be reached; fail_open_unsafe serves it unchecked, so budgets can be overspent",
    )
    store_timeout_seconds: float = Field(default=0.5, gt=0, le=30)
    reservation_ttl_seconds: int = Field(
        default=900,
        ge=30,
        description="how long a reservation holds its amount if its request never settles "
        "(a crashed replica); keep it above the longest request the gateway allows",
    )
    expiry_interval_seconds: float = Field(
        default=30.0, gt=0, description="how often expired reservations are looked for"
    )
    default_max_output_tokens: int = Field(
        default=DEFAULT_OUTPUT_CAP,
        ge=1,
        description="output cap reserved (and forwarded) when a request sets no max_tokens",
    )
    prompt_bytes_per_token: float = Field(
        default=DEFAULT_BYTES_PER_TOKEN,
        gt=0,
        le=8,
        description="prompt estimate: UTF-8 bytes of text per token (1 is an upper bound)",
    )
    thresholds: tuple[float, ...] = Field(
        default=(0.8, 1.0), description="fractions of a budget whose crossing is reported"
    )
    refresh_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="how often each replica reads budget changes made through the admin API",
    )
    outbox: UsageOutboxConfig = UsageOutboxConfig()
    keys: dict[str, list[BudgetSpec]] = Field(default_factory=dict, description="by key id")
    teams: dict[str, list[BudgetSpec]] = Field(default_factory=dict, description="by team")
    cost_centers: dict[str, list[BudgetSpec]] = Field(
        default_factory=dict, description="by cost center"
    )

    _wrap = field_validator("keys", "teams", "cost_centers", mode="before")(_as_list)

    @field_validator("keys", "teams", "cost_centers")
    @classmethod
    def _one_per_period(cls, value: dict[str, list[BudgetSpec]]) -> dict[str, list[BudgetSpec]]:
        for subject, specs in value.items():
            periods = [s.period for s in specs]
            if len(periods) != len(set(periods)):
                raise ValueError(
                    f"{subject!r} has two budgets with the same period ({periods}); "
                    "expected at most one daily and one monthly budget"
                )
        return value

    @field_validator("thresholds")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < t <= 1 for t in value) or len(set(value)) != len(value):
            raise ValueError(f"got {list(value)}; expected distinct fractions in (0, 1]")
        return tuple(sorted(value))


class BudgetSource(Protocol):
    """Where the budgets of a request come from (the config now; the admin store later)."""

    def budgets_for(
        self, key_id: str, team: str | None, cost_center: str | None
    ) -> Sequence[Budget]: ...


class ConfigBudgets:
    """The budgets written in :class:`BudgetsConfig` (built once: the config is frozen)."""

    def __init__(self, config: BudgetsConfig) -> None:
        tables: tuple[tuple[BudgetScope, dict[str, list[BudgetSpec]]], ...] = (
            ("key", config.keys),
            ("team", config.teams),
            ("cost_center", config.cost_centers),
        )
        self._budgets: dict[tuple[BudgetScope, str], tuple[Budget, ...]] = {
            (scope, subject): tuple(
                Budget(scope, subject, spec.period, spec.amount) for spec in specs
            )
            for scope, table in tables
            for subject, specs in table.items()
        }

    def budgets_for(
        self, key_id: str, team: str | None, cost_center: str | None
    ) -> Sequence[Budget]:
        found = self._budgets.get(("key", key_id), ())
        if team is not None:
            found += self._budgets.get(("team", team), ())
        if cost_center is not None:
            found += self._budgets.get(("cost_center", cost_center), ())
        return found
