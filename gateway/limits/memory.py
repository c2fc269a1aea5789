"""Rate limits held in process memory: exact, but for a single replica only."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from gateway.limits.gcra import MICROS, Charge, RateDecision, adjusted, decide

_MIN_PRUNE = 1024


class MemoryBackend:
    """GCRA state in a dict, for one event loop.

    Every operation runs without awaiting, so it is atomic within the event loop. Entries
    whose bucket has refilled are equivalent to absent ones and are pruned when the table
    has doubled since the last pruning, which keeps memory proportional to active subjects.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}
        self._prune_at = _MIN_PRUNE

    def _now(self) -> float:
        return self._clock() * MICROS

    async def acquire(self, charges: Sequence[Charge]) -> RateDecision:
        now = self._now()
        keys = [c.quota.storage_key for c in charges]
        decision, new_tats = decide(charges, [self._tats.get(k) for k in keys], now)
        if decision.allowed:
            self._tats.update(zip(keys, new_tats, strict=True))
            self._maybe_prune(now)
        return decision

    async def adjust(self, charges: Sequence[Charge]) -> None:
        now = self._now()
        for charge in charges:
            key = charge.quota.storage_key
            self._tats[key] = adjusted(charge, self._tats.get(key), now)

    def _maybe_prune(self, now: float) -> None:
        if len(self._tats) < self._prune_at:
            return
        self._tats = {k: tat for k, tat in self._tats.items() if tat > now}
        self._prune_at = max(_MIN_PRUNE, 2 * len(self._tats))

    def __len__(self) -> int:
        return len(self._tats)
