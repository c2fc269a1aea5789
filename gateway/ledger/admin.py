"""The ledger's admin endpoints: ``/admin/budgets`` and ``/admin/spend``.

Both are authorised by the admin key (:class:`~gateway.auth.admin.AdminGuard`).

``GET /admin/budgets``
    every budget in force, with its origin (``config`` or ``admin``) and this period's spend.
``PUT`` or ``POST /admin/budgets`` with ``{"scope": "team", "subject": "risk",
"amount": 50, "period": "monthly"}``
    sets (creates or replaces) a budget; ``scope`` is ``key``, ``team`` or ``cost_center``.
    It is in force on this replica at once and on the others within
    ``budgets.refresh_seconds``; its counter starts from this period's recorded spend.
``DELETE /admin/budgets?scope=team&subject=risk&period=monthly``
    deletes a budget set through the API (a budget of the config is changed in the config).
``GET /admin/spend?group_by=cost_center|team|key|model&from=&to=``
    totals of the recorded usage, as JSON, or CSV with ``Accept: text/csv`` or
    ``format=csv``; ``from`` defaults to the start of the current month (UTC), ``to`` to now.

Every budget change is recorded in the audit trail first (``budget.set``, ``budget.delete``):
if the trail cannot take it, the change is not made and the answer is 503.

Without a ``budgets`` section the ledger is off and these endpoints answer 404
``ledger_disabled``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pydantic import Field, ValidationError

from gateway.asgi import AnyResponse, Request, Response, json_response
from gateway.audit.events import DetailValue
from gateway.audit.recorder import ADMIN_ACTOR, AdminRecorder, find_recorder
from gateway.auth.admin import AdminGuard
from gateway.body import parse_object
from gateway.context import RequestContext
from gateway.errors import GatewayError, bad_request, not_found
from gateway.hooks import Hook
from gateway.ledger.budgets import Budget, BudgetPeriod, BudgetScope, BudgetSpec, period_start
from gateway.ledger.durable import DurableLedger
from gateway.ledger.hook import LedgerHook
from gateway.ledger.reports import Report, ReportError, money_text, parse_group_by, parse_time
from gateway.ledger.reservations import BudgetEngine
from gateway.limits.store import StoreUnavailable
from gateway.validation import problems

BUDGETS_PATH = "/admin/budgets"
SPEND_PATH = "/admin/spend"
_BODY_LIMIT = 64 * 1024
_SPEND_PARAMS = ("group_by", "from", "to", "format")
_DELETE_PARAMS = ("scope", "subject", "period")

Handler = Callable[[Request, RequestContext], Awaitable[AnyResponse]]


class BudgetRequest(BudgetSpec):
    """Body of ``PUT /admin/budgets``."""

    scope: BudgetScope
    subject: str = Field(min_length=1, max_length=200)


def query_params(request: Request, allowed: Sequence[str]) -> dict[str, str]:
    """The query string as a dict; 400 naming an unknown or repeated parameter."""
    pairs = parse_qsl(request.scope.get("query_string", b"").decode("latin-1"))
    found: dict[str, str] = {}
    for name, value in pairs:
        if name not in allowed:
            raise bad_request(f"{name}: unknown parameter; expected {', '.join(allowed)}", name)
        if name in found:
            raise bad_request(f"{name}: given twice; expected it at most once", name)
        found[name] = value
    return found


def _budget_request(data: Any) -> BudgetRequest:
    try:
        return BudgetRequest.model_validate(data)
    except ValidationError as exc:
        first = problems(exc, data)[0]
        raise bad_request(str(first), first.path or None) from None


def _details(budget: Budget, currency: str) -> dict[str, DetailValue]:
    return {
        "scope": budget.scope,
        "subject": budget.subject,
        "period": budget.period,
        "amount": money_text(budget.amount),
        "currency": currency,
    }


def ledger_disabled() -> GatewayError:
    return not_found(
        "the ledger is off: add a 'budgets' section to the gateway config to record spend "
        "and set budgets",
        code="ledger_disabled",
    )


class LedgerAdmin:
    """The handlers; ``ledger`` None (no ``budgets`` section) makes each answer 404."""

    def __init__(
        self,
        guard: AdminGuard,
        ledger: LedgerHook | None,
        audit: AdminRecorder | None = None,
    ) -> None:
        self._guard = guard
        self._hook = ledger
        self._audit = audit

    @classmethod
    def from_hooks(cls, guard: AdminGuard, hooks: Sequence[Hook]) -> LedgerAdmin:
        """Finds the ledger hook and the audit recorder among the gateway's hooks."""
        ledger = next((h for h in hooks if isinstance(h, LedgerHook)), None)
        return cls(guard, ledger, find_recorder(hooks))

    def routes(self) -> dict[str, dict[str, Handler]]:
        budgets: dict[str, Handler] = {
            "GET": self.list_budgets,
            "PUT": self.set_budget,
            "POST": self.set_budget,
            "DELETE": self.delete_budget,
        }
        return {BUDGETS_PATH: budgets, SPEND_PATH: {"GET": self.spend}}

    @property
    def enabled(self) -> bool:
        return self._hook is not None and self._hook.durable is not None

    def _ledger(self, request: Request) -> tuple[BudgetEngine, DurableLedger]:
        self._guard.check(request.headers)
        hook = self._hook
        if hook is None or hook.durable is None:
            raise ledger_disabled()
        return hook.engine, hook.durable

    # -- budgets -----------------------------------------------------------------------

    async def _describe(
        self, engine: BudgetEngine, durable: DurableLedger, budget: Budget
    ) -> dict[str, Any]:
        described: dict[str, Any] = {
            "id": budget.budget_id,
            **_details(budget, engine.currency),
            "origin": durable.budgets.origin(budget),
            "spent": None,
            "reserved": None,
            "resets_at": None,
        }
        try:
            status = await engine.budget_status(budget)
        except StoreUnavailable:
            return described  # counters unreachable: the budget itself is still listed
        described.update(
            spent=money_text(status.spent),
            reserved=money_text(status.reserved),
            resets_at=status.resets_at.isoformat(),
        )
        return described

    async def list_budgets(self, request: Request, ctx: RequestContext) -> AnyResponse:
        engine, durable = self._ledger(request)
        data = [await self._describe(engine, durable, b) for b in durable.budgets.all()]
        return json_response(200, {"object": "list", "data": data})

    async def _record(
        self, action: str, budget: Budget, ctx: RequestContext, currency: str
    ) -> None:
        if self._audit is not None:
            await self._audit.admin_change(
                actor=ADMIN_ACTOR,
                action=action,
                target=budget.budget_id,
                details=_details(budget, currency),
                request_id=ctx.request_id,
            )

    async def _put(
        self, engine: BudgetEngine, durable: DurableLedger, budget: Budget, ctx: RequestContext
    ) -> Budget:
        table = durable.budgets.table
        assert table is not None
        await self._record("budget.set", budget, ctx, engine.currency)
        record = await table.put(budget)
        applied = await durable.apply(engine, record)
        assert applied is not None
        return applied

    async def set_budget(self, request: Request, ctx: RequestContext) -> AnyResponse:
        engine, durable = self._ledger(request)
        data = parse_object(await request.json_body(_BODY_LIMIT))
        spec = _budget_request(data)
        budget = Budget(spec.scope, spec.subject, spec.period, spec.amount)
        applied = await self._put(engine, durable, budget, ctx)
        return json_response(200, await self._describe(engine, durable, applied))

    async def set_key_budget(
        self, key_id: str, spec: BudgetSpec, ctx: RequestContext
    ) -> dict[str, Any]:
        """The budget sent with a new key (``"budget"`` of ``POST /admin/keys``)."""
        hook = self._hook
        if hook is None or hook.durable is None:
            raise bad_request(
                "budget: the ledger is off, so a key budget cannot be enforced; add a "
                "'budgets' section to the gateway config",
                "budget",
            )
        budget = Budget("key", key_id, spec.period, spec.amount)
        await self._put(hook.engine, hook.durable, budget, ctx)
        return {"amount": money_text(budget.amount), "period": budget.period}

    async def delete_budget(self, request: Request, ctx: RequestContext) -> AnyResponse:
        engine, durable = self._ledger(request)
        params = query_params(request, _DELETE_PARAMS)
        spec = _budget_request({**params, "amount": 0})
        scope: BudgetScope = spec.scope
        period: BudgetPeriod = spec.period
        table = durable.budgets.table
        assert table is not None
        existing = await table.get(scope, spec.subject, period)
        if existing is None or existing.budget is None:
            if durable.budgets.in_config(scope, spec.subject, period):
                raise GatewayError(
                    409,
                    f"the {period} budget of {scope} {spec.subject!r} is set in the gateway "
                    "config; change it there",
                    code="budget_in_config",
                )
            raise not_found(
                f"no {period} budget for {scope} {spec.subject!r}", code="budget_not_found"
            )
        await self._record("budget.delete", existing.budget, ctx, engine.currency)
        record = await table.delete(scope, spec.subject, period)
        if record is not None:
            await durable.apply(engine, record)
        return json_response(200, {"deleted": True, "id": existing.budget.budget_id})

    # -- spend -------------------------------------------------------------------------

    async def spend(self, request: Request, ctx: RequestContext) -> AnyResponse:
        _, durable = self._ledger(request)
        params = query_params(request, _SPEND_PARAMS)
        wants = params.get("format")
        if wants not in (None, "json", "csv"):
            raise bad_request(f"format: got {wants!r}; expected json or csv", "format")
        as_csv = wants == "csv" or (
            wants is None and "text/csv" in request.headers.get("accept", "")
        )
        try:
            group_by = parse_group_by(params.get("group_by", "cost_center"))
            start = (
                parse_time(params["from"], "from")
                if "from" in params
                else period_start("monthly", datetime.now(UTC))
            )
            end = parse_time(params["to"], "to") if "to" in params else None
        except ReportError as exc:
            raise bad_request(str(exc), exc.field) from None
        if end is not None and end <= start:
            raise bad_request(
                f"to: got {params['to']!r}; expected a time after from ({start.isoformat()})", "to"
            )
        await durable.outbox.flush()  # this replica's pending events are included
        rows = await durable.usage.totals(group_by, start=start, end=end)
        report = Report(group_by, start, end, rows)
        if as_csv:
            headers = [(b"content-type", b"text/csv; charset=utf-8")]
            return Response(200, report.as_csv().encode(), headers)
        return json_response(200, report.as_json())
