"""Rate limits held in process memory: exact, but for a single replica only."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from gateway.limits.gcra import MICROS, advance, settle
from gateway.limits.plan import Acquired, Buckets

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

    async def acquire(self, buckets: Buckets, costs: Sequence[int]) -> Acquired:
        now = self._clock() * MICROS
        tats, keys = self._tats, buckets.keys
        before = list(map(tats.get, keys))
        after, admitted = advance(before, costs, buckets.intervals, buckets.tolerances, now)
        if admitted:
            tats.update(zip(keys, after, strict=True))
            if len(tats) >= self._prune_at:
                self._prune(now)
        return Acquired(admitted, now, before, after)

    async def adjust(self, buckets: Buckets, costs: Sequence[int]) -> None:
        settle(self._tats, buckets.keys, costs, buckets.intervals, self._clock() * MICROS)

    def _prune(self, now: float) -> None:
        self._tats = {k: tat for k, tat in self._tats.items() if tat > now}
        self._prune_at = max(_MIN_PRUNE, 2 * len(self._tats))

    def __len__(self) -> int:
        return len(self._tats)
