"""The refusals of the budget engine, in the gateway's OpenAI-style error shape."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal

from gateway.errors import GatewayError
from gateway.ledger.budgets import Budget

RESET_HEADER = "x-gatehouse-budget-reset"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class BudgetExceeded(GatewayError):
    """429 ``budget_exceeded``: the request's worst case does not fit a budget."""

    def __init__(
        self,
        budget: Budget,
        *,
        currency: str,
        spent: Decimal,
        reserved: Decimal,
        needed: Decimal,
        resets_at: datetime,
        now: datetime,
    ) -> None:
        self.budget = budget
        self.spent = spent
        self.reserved = reserved
        self.needed = needed
        self.resets_at = resets_at
        wait = max(1, math.ceil((resets_at - now).total_seconds()))
        super().__init__(
            429,
            f"budget exceeded: {budget.describe()} {currency}; {spent} {currency} is spent "
            f"and {reserved} {currency} is held by requests in flight, and this request may "
            f"cost up to {needed} {currency}; the budget resets at {_iso(resets_at)}",
            type="insufficient_quota",
            code="budget_exceeded",
            headers={RESET_HEADER: _iso(resets_at), "retry-after": str(wait)},
        )


class BudgetUnavailable(GatewayError):
    """503 ``budget_unavailable``: the budget store is unreachable and budgets fail closed."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            503,
            "the budget store cannot be reached, so the request is refused "
            f"(budgets.on_store_error is 'fail_closed'): {detail}",
            type="server_error",
            code="budget_unavailable",
        )
