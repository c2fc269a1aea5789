"""Rate limits held in Redis, shared by every replica.

One Lua script decides a request against all of its quotas (key and team, requests and
tokens) in one round trip and atomically: either every TAT advances or none does. By default
the script reads the Redis server's clock (``TIME``), so replicas with skewed clocks still
share one timeline. Each TAT key expires once its bucket has refilled, so idle subjects
cost no memory. The arithmetic is :mod:`gateway.limits.gcra`'s, step for step.

In Redis Cluster every key of one call must share a hash slot: put a hash tag in the
prefix (``{gatehouse}:rl:``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from gateway.limits.gcra import MICROS, SLACK_US, advance
from gateway.limits.plan import Acquired, Buckets
from gateway.limits.store import call_store

# KEYS[i]: the TAT of quota i (µs, as text)
# ARGV[1]: now in µs, or '' for the server clock; ARGV[2]: rounding slack in µs
# ARGV[3i], ARGV[3i+1], ARGV[3i+2]: interval (µs per unit), tolerance (µs), cost of quota i
# returns {admitted, now, stored TAT of quota 1 or '', ...}
_ACQUIRE = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local slack = tonumber(ARGV[2])
local stored, next_tat = {}, {}
local admitted = 1
for i = 1, #KEYS do
  local interval = tonumber(ARGV[3 * i])
  local tolerance = tonumber(ARGV[3 * i + 1])
  local cost = tonumber(ARGV[3 * i + 2])
  stored[i] = redis.call('GET', KEYS[i])
  local tat = now
  if stored[i] then tat = math.max(tonumber(stored[i]), now) end
  next_tat[i] = tat + cost * interval
  if next_tat[i] - now > tolerance + slack then admitted = 0 end
end
if admitted == 1 then
  for i = 1, #KEYS do
    local ttl = math.ceil((next_tat[i] - now) / 1000) + 1000
    redis.call('SET', KEYS[i], string.format('%.17g', next_tat[i]), 'PX', ttl)
  end
end
local out = {admitted, string.format('%.17g', now)}
for i = 1, #KEYS do out[i + 2] = stored[i] or '' end
return out
"""

# KEYS[i]: the TAT of quota i; ARGV[1]: now in µs or ''
# ARGV[2i], ARGV[2i+1]: interval (µs per unit) and units to add (negative: refund)
_ADJUST = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
for i = 1, #KEYS do
  local stored = redis.call('GET', KEYS[i])
  local tat = now
  if stored then tat = math.max(tonumber(stored), now) end
  local new_tat = math.max(now, tat + tonumber(ARGV[2 * i + 1]) * tonumber(ARGV[2 * i]))
  if new_tat > now then
    local ttl = math.ceil((new_tat - now) / 1000) + 1000
    redis.call('SET', KEYS[i], string.format('%.17g', new_tat), 'PX', ttl)
  else
    redis.call('DEL', KEYS[i])
  end
end
return 1
"""


class RedisBackend:
    """GCRA state in Redis; see the module docstring.

    ``clock`` (seconds) overrides the server clock; tests use it to step time exactly.
    ``timeout`` bounds each call, whatever the client's own retry policy.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "gatehouse:rl:",
        timeout: float = 0.5,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._prefix = prefix
        self._timeout = timeout
        self._clock = clock
        self._acquire = redis.register_script(_ACQUIRE)
        self._adjust = redis.register_script(_ADJUST)

    def _keys(self, buckets: Buckets) -> list[str]:
        return [self._prefix + k for k in buckets.keys]

    def _now_arg(self) -> str:
        return "" if self._clock is None else repr(self._clock() * MICROS)

    async def acquire(self, buckets: Buckets, costs: Sequence[int]) -> Acquired:
        args: list[Any] = [self._now_arg(), repr(SLACK_US)]
        for interval, tolerance, cost in zip(
            buckets.intervals, buckets.tolerances, costs, strict=True
        ):
            args += [repr(interval), repr(tolerance), cost]
        reply = await call_store(
            self._acquire(keys=self._keys(buckets), args=args),
            within=self._timeout,
            what="rate limit check",
        )
        admitted, now_text, *stored = reply
        now = float(now_text)
        before = [float(s) if s else None for s in stored]
        # the script's verdict stands; the TATs after it are the same arithmetic, for reports
        after, _ = advance(before, costs, buckets.intervals, buckets.tolerances, now)
        return Acquired(bool(admitted), now, before, after)

    async def adjust(self, buckets: Buckets, costs: Sequence[int]) -> None:
        args: list[Any] = [self._now_arg()]
        for interval, cost in zip(buckets.intervals, costs, strict=True):
            args += [repr(interval), cost]
        await call_store(
            self._adjust(keys=self._keys(buckets), args=args),
            within=self._timeout,
            what="rate limit correction",
        )
