"""The ledger: prices and costs, budgets, and the reserve-then-settle budget engine.

Build the engine with :func:`create_budget_engine` from a :class:`BudgetsConfig`; call
:meth:`BudgetEngine.reserve_request` before forwarding, then :meth:`BudgetEngine.settle`
with the reported usage, or :meth:`BudgetEngine.release` when the request failed.
"""

from gateway.ledger.budgets import (
    Budget,
    BudgetPeriod,
    BudgetsConfig,
    BudgetScope,
    BudgetSource,
    BudgetSpec,
    ConfigBudgets,
    period_end,
    period_start,
)
from gateway.ledger.errors import RESET_HEADER, BudgetExceeded, BudgetUnavailable
from gateway.ledger.estimate import estimate_prompt_tokens, output_cap, with_output_cap
from gateway.ledger.events import ThresholdCrossed, UsageEvent
from gateway.ledger.memory_store import MemoryReservationStore
from gateway.ledger.pricing import Price, Usage, cost, worst_case_cost, worst_price
from gateway.ledger.redis_store import RedisReservationStore
from gateway.ledger.reservations import (
    BudgetEngine,
    BudgetStatus,
    Hold,
    Reservation,
    Settlement,
    Subject,
    create_budget_engine,
)

__all__ = [
    "RESET_HEADER",
    "Budget",
    "BudgetEngine",
    "BudgetExceeded",
    "BudgetPeriod",
    "BudgetScope",
    "BudgetSource",
    "BudgetSpec",
    "BudgetStatus",
    "BudgetUnavailable",
    "BudgetsConfig",
    "ConfigBudgets",
    "Hold",
    "MemoryReservationStore",
    "Price",
    "RedisReservationStore",
    "Reservation",
    "Settlement",
    "Subject",
    "ThresholdCrossed",
    "Usage",
    "UsageEvent",
    "cost",
    "create_budget_engine",
    "estimate_prompt_tokens",
    "output_cap",
    "period_end",
    "period_start",
    "with_output_cap",
    "worst_case_cost",
    "worst_price",
]
