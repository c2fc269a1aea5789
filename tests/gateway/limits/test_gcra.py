"""The GCRA arithmetic: derived quota values and the one-pass decision, against a reference.

The reference below is the arithmetic of :mod:`gateway.limits.gcra` written out charge by
charge, straight from the module's formulas; the one-pass :func:`decide` (which both
backends use) must agree with it exactly, float for float.
"""

from __future__ import annotations

import math
import random

import pytest

from gateway.limits.gcra import (
    MICROS,
    SLACK_US,
    Charge,
    Dimension,
    Quota,
    QuotaState,
    RateDecision,
    Scope,
    adjusted,
    advance,
    decide,
    evaluate,
    fits,
    settle,
    standing,
)

SCOPES: tuple[Scope, ...] = ("key", "team")
DIMENSIONS: tuple[Dimension, ...] = ("requests", "tokens")


def reference_interval(q: Quota) -> float:
    return q.period_seconds * MICROS / q.limit


def reference_state(charge: Charge, tat: float | None, now: float, commit: bool) -> QuotaState:
    q = charge.quota
    interval = reference_interval(q)
    tolerance = q.burst * interval
    base = now if tat is None or tat < now else tat
    new_tat = base + charge.cost * interval
    allowed = new_tat - now <= tolerance + SLACK_US
    after = new_tat if commit else base
    remaining = math.floor((tolerance - (after - now) + SLACK_US) / interval)
    retry_after: float | None
    if allowed:
        retry_after = 0.0
    elif charge.cost > q.burst:
        retry_after = None
    else:
        retry_after = (new_tat - now - tolerance) / MICROS
    return QuotaState(
        quota=q,
        cost=charge.cost,
        allowed=allowed,
        remaining=max(0, min(q.burst, remaining)),
        reset_after=max(0.0, after - now) / MICROS,
        retry_after=retry_after,
    )


def reference_stored(charge: Charge, tat: float | None, now: float) -> float:
    base = now if tat is None or tat < now else tat
    return max(now, base + charge.cost * reference_interval(charge.quota))


def reference_decide(
    charges: list[Charge], tats: list[float | None], now: float, admitted: bool | None
) -> tuple[RateDecision, list[float]]:
    pairs = list(zip(charges, tats, strict=True))
    if admitted is None:
        admitted = all(reference_state(c, t, now, False).allowed for c, t in pairs)
    states = tuple(reference_state(c, t, now, admitted) for c, t in pairs)
    return RateDecision(admitted, states), [reference_stored(c, t, now) for c, t in pairs]


def reference_binding(decision: RateDecision, dimension: Dimension) -> QuotaState | None:
    candidates = [s for s in decision.states if s.quota.dimension == dimension]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (s.remaining, -s.reset_after))


def test_derived_quota_values_are_computed_once_and_match_the_formulas() -> None:
    q = Quota("team", "risk", "tokens", 7_777, 1_234, 60.0)
    assert q.storage_key == "team:risk:tokens"
    assert q.interval_us == reference_interval(q)
    assert q.tolerance_us == 1_234 * reference_interval(q)
    # identity, equality and wording are those of the six declared fields only
    assert q == Quota("team", "risk", "tokens", 7_777, 1_234)
    assert hash(q) == hash(Quota("team", "risk", "tokens", 7_777, 1_234))
    assert repr(q) == (
        "Quota(scope='team', subject='risk', dimension='tokens', limit=7777, burst=1234, "
        "period_seconds=60.0)"
    )
    with pytest.raises(ValueError, match="limit, burst and period must be > 0"):
        Quota("key", "k1", "requests", 0, 1)


def random_case(rnd: random.Random) -> tuple[list[Charge], list[float | None], float]:
    now = rnd.choice([1e12, 1_000_000.0 * MICROS, 1.7e15 + 0.5])
    charges: list[Charge] = []
    tats: list[float | None] = []
    for scope in SCOPES[: rnd.randint(1, 2)]:
        for dimension in DIMENSIONS:
            limit = rnd.choice([1, 2, 7, 60, 1_000, 100_000_000, 10**12])
            burst = max(1, math.floor(limit * rnd.choice([0.1, 1, 13.7, 60]) / 60))
            quota = Quota(scope, "s", dimension, limit, burst)
            charges.append(Charge(quota, rnd.choice([0, 1, 2, burst, burst + 1, 5_000])))
            tats.append(
                rnd.choice([None, now - 5.0, now, now + rnd.random() * quota.tolerance_us * 1.2])
            )
    return charges, tats, now


@pytest.mark.parametrize("seed", range(40))
def test_one_pass_decision_equals_the_charge_by_charge_reference(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(50):
        charges, tats, now = random_case(rnd)
        for admitted in (None, True, False):
            expected = reference_decide(charges, tats, now, admitted)
            assert decide(charges, tats, now, admitted=admitted) == expected
        # and the per-charge functions agree with the same reference
        for c, t in zip(charges, tats, strict=True):
            for commit in (True, False):
                assert evaluate(c, t, now, commit=commit) == reference_state(c, t, now, commit)
            assert fits(c, t, now) == reference_state(c, t, now, False).allowed
            assert adjusted(c, t, now) == reference_stored(c, t, now)
            refund = Charge(c.quota, -c.cost)
            assert adjusted(refund, t, now) == reference_stored(refund, t, now)


def test_decide_refuses_mismatched_lengths() -> None:
    charge = Charge(Quota("key", "k1", "requests", 1, 1), 1)
    with pytest.raises(ValueError):
        decide([charge], [], 0.0)


@pytest.mark.parametrize("seed", range(20))
def test_tightest_is_the_binding_quota_of_each_dimension(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(50):
        charges, tats, now = random_case(rnd)
        decision, _ = decide(charges, tats, now)
        tightest = decision.tightest()
        for dimension in DIMENSIONS:
            expected = reference_binding(decision, dimension)
            assert tightest.get(dimension) is expected
            assert decision.binding(dimension) is expected


def test_ties_go_to_the_first_state_as_with_min() -> None:
    key = Quota("key", "k1", "requests", 60, 60)
    team = Quota("team", "t", "requests", 60, 60)
    decision, _ = decide([Charge(key, 1), Charge(team, 1)], [None, None], 1e12)
    first, second = decision.states
    assert (first.remaining, first.reset_after) == (second.remaining, second.reset_after)
    assert decision.tightest() == {"requests": first}
    assert decision.tightest()["requests"] is first


@pytest.mark.parametrize("seed", range(20))
def test_the_column_step_and_the_in_place_correction_equal_the_reference(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(50):
        charges, tats, now = random_case(rnd)
        # corrections refund as well as add
        charges = [Charge(c.quota, c.cost * rnd.choice([1, -1])) for c in charges]
        quotas = [c.quota for c in charges]
        costs = [c.cost for c in charges]
        intervals = [q.interval_us for q in quotas]
        after, fit = advance(tats, costs, intervals, [q.tolerance_us for q in quotas], now)
        assert after == [reference_stored(c, t, now) for c, t in zip(charges, tats, strict=True)]
        assert fit == all(
            reference_state(c, t, now, False).allowed for c, t in zip(charges, tats, strict=True)
        )
        table = {q.storage_key: t for q, t in zip(quotas, tats, strict=True) if t is not None}
        untouched = {"other:bucket": now + 5.0}
        table.update(untouched)
        settle(table, [q.storage_key for q in quotas], costs, intervals, now)
        assert table == {
            **untouched,
            **dict(zip([q.storage_key for q in quotas], after, strict=True)),
        }


@pytest.mark.parametrize("seed", range(10))
def test_standing_is_the_remaining_and_reset_of_the_reference(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(50):
        charges, tats, now = random_case(rnd)
        for c, t in zip(charges, tats, strict=True):
            expected = reference_state(c, t, now, True)
            after = reference_stored(c, t, now)
            assert standing(c.quota, after, now) == (expected.remaining, expected.reset_after)
