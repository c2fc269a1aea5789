"""Circuit-breaker transitions: closed → open → half-open (one probe) → closed or open."""

from __future__ import annotations

from gateway.routing import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def state(cb: CircuitBreaker) -> str:
    """The state as a plain string (mypy would otherwise narrow it across calls)."""
    return cb.state


def breaker(clock: Clock, threshold: int = 3, cooldown: float = 10.0) -> CircuitBreaker:
    return CircuitBreaker("chat#0", threshold, cooldown, clock=clock)


def test_opens_after_consecutive_failures_only() -> None:
    clock = Clock()
    cb = breaker(clock)
    cb.record_failure()
    cb.record_failure()
    cb.record_success()  # the streak is broken
    cb.record_failure()
    cb.record_failure()
    assert state(cb) == "closed" and cb.allow()
    cb.record_failure()
    assert state(cb) == "open"
    assert not cb.allow()


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = Clock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record_failure()
    clock.now += 9.9
    assert not cb.allow()
    clock.now += 0.1
    assert cb.allow()  # the probe
    assert state(cb) == "half_open"
    assert not cb.allow()  # a second caller while the probe is in flight
    cb.record_success()
    assert state(cb) == "closed"
    assert cb.allow() and cb.allow()


def test_a_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record_failure()
    clock.now += 10
    assert cb.allow()
    cb.record_failure()
    assert state(cb) == "open"
    clock.now += 9
    assert not cb.allow()
    clock.now += 1
    assert cb.allow()


def test_a_cancelled_probe_lets_another_probe() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=1)
    cb.record_failure()
    clock.now += 10
    assert cb.allow()
    assert not cb.allow()
    cb.release()
    assert cb.allow()


def test_late_failures_while_open_do_not_extend_the_cooldown() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=1)
    cb.record_failure()
    clock.now += 5
    cb.record_failure()  # a request that was in flight when it opened
    clock.now += 5
    assert cb.allow()
