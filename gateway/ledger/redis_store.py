"""Budget counters and reservations in Redis, shared by every replica.

Keys (under the configured prefix):

* ``c:<counter>``: hash with ``spent``, ``reserved`` and one flag per reported threshold;
  it expires a while after its period ends;
* ``r:<request id>``: hash of a held reservation (``state``, ``amount``, its counter keys);
  an expired reservation stays as a tombstone for a while so a late settle still counts;
* ``expiry``: sorted set of held reservations by expiry time (ms), which :meth:`expire`
  walks to free the amounts of requests whose replica crashed.

Each operation is one Lua script, so reserving across N budgets is all-or-nothing and
settling is atomic and idempotent. Amounts are integers below 2⁵³, exact in Lua numbers.
In Redis Cluster, put a hash tag in the prefix (``{gatehouse}:budget:``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from gateway.ledger.store import (
    APPLIED,
    NOT_APPLIED,
    CounterSpec,
    CounterState,
    Crossing,
    Refusal,
    ReservationConflict,
    SettleOutcome,
)
from gateway.limits.store import call_store

_UNHOLD = """
local function unhold(k, held)
  if held > 0 and redis.call('EXISTS', k) == 1 then
    if redis.call('HINCRBY', k, 'reserved', -held) < 0 then
      redis.call('HSET', k, 'reserved', 0)
    end
  end
end
"""

# KEYS: reservation, expiry set, counters...
# ARGV: amount, expires_at (ms), request id, refused flag or '',
#       then per counter: limit, expire-at (s)
# returns {1} reserved (or already held), {-1} id conflict,
#         {0, index, spent, reserved, first refusal} refused
_RESERVE = """
local state = redis.call('HGET', KEYS[1], 'state')
if state then
  if state == 'held' and redis.call('HGET', KEYS[1], 'amount') == ARGV[1] then return {1} end
  return {-1}
end
local amount = tonumber(ARGV[1])
local n = #KEYS - 2
for i = 1, n do
  local k = KEYS[i + 2]
  local v = redis.call('HMGET', k, 'spent', 'reserved')
  local spent, reserved = tonumber(v[1] or '0'), tonumber(v[2] or '0')
  if spent + reserved + amount > tonumber(ARGV[3 + 2 * i]) then
    local first = 0
    if ARGV[4] ~= '' then
      first = redis.call('HSETNX', k, ARGV[4], '1')
      redis.call('EXPIREAT', k, ARGV[4 + 2 * i])
    end
    return {0, i, spent, reserved, first}
  end
end
for i = 1, n do
  local k = KEYS[i + 2]
  redis.call('HINCRBY', k, 'reserved', amount)
  redis.call('EXPIREAT', k, ARGV[4 + 2 * i])
  redis.call('HSET', KEYS[1], 'k' .. i, k)
end
redis.call('HSET', KEYS[1], 'state', 'held', 'amount', ARGV[1], 'n', n)
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return {1}
"""

# KEYS: reservation, expiry set, counters...
# ARGV: actual, request id, unreserved tombstone end (epoch ms) or '', levels per counter (L),
#       then per counter: expire-at (s), then L pairs of (flag, level)
# returns {0} nothing to settle, or {1, counter, level, spent, ...} for each crossing
_SETTLE = (
    _UNHOLD
    + """
local state = redis.call('HGET', KEYS[1], 'state')
local unreserved = ARGV[3] ~= ''
if state == 'settled' or (not state and not unreserved) then return {0} end
local held = 0
if state == 'held' then held = tonumber(redis.call('HGET', KEYS[1], 'amount')) end
local actual = tonumber(ARGV[1])
local levels = tonumber(ARGV[4])
local out = {1}
local pos = 5
for i = 1, #KEYS - 2 do
  local k = KEYS[i + 2]
  unhold(k, held)
  local spent = redis.call('HINCRBY', k, 'spent', actual)
  redis.call('EXPIREAT', k, ARGV[pos])
  pos = pos + 1
  for j = 1, levels do
    if spent >= tonumber(ARGV[pos + 1]) and redis.call('HSETNX', k, ARGV[pos], '1') == 1 then
      out[#out + 1] = i
      out[#out + 1] = j
      out[#out + 1] = spent
    end
    pos = pos + 2
  end
end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
if unreserved then
  redis.call('HSET', KEYS[1], 'state', 'settled')
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
return out
"""
)

# KEYS: reservation, expiry set, its counters...
# ARGV: request id, now (epoch ms), tombstone end (epoch ms)
_EXPIRE = (
    _UNHOLD
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'held' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
local due = redis.call('ZSCORE', KEYS[2], ARGV[1])
if due and tonumber(due) > tonumber(ARGV[2]) then return 0 end
local held = tonumber(redis.call('HGET', KEYS[1], 'amount'))
for i = 3, #KEYS do unhold(KEYS[i], held) end
redis.call('HSET', KEYS[1], 'state', 'expired')
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""
)

# KEYS: counter; ARGV: spent, expire-at (s)
_SEED = """
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
if tonumber(ARGV[1]) > spent then
  spent = tonumber(ARGV[1])
  redis.call('HSET', KEYS[1], 'spent', ARGV[1])
end
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return spent
"""

_EXPIRE_BATCH = 200


def _text(value: bytes | str) -> str:
    """Replies are bytes, or str when the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value


def _ms(seconds: float) -> int:
    return math.ceil(seconds * 1000)


class RedisReservationStore:
    """The Redis store; see the module docstring. ``timeout`` bounds every call."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "gatehouse:budget:",
        timeout: float = 0.5,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._timeout = timeout
        self._expiry = prefix + "expiry"
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)
        self._expire = redis.register_script(_EXPIRE)
        self._seed = redis.register_script(_SEED)

    def _rkey(self, request_id: str) -> str:
        return f"{self._prefix}r:{request_id}"

    def _ckey(self, counter: str) -> str:
        return f"{self._prefix}c:{counter}"

    async def _call(self, what: str, call: Any) -> Any:
        return await call_store(call, within=self._timeout, what=what)

    async def reserve(
        self,
        request_id: str,
        counters: Sequence[CounterSpec],
        amount: int,
        *,
        expires_at: float,
        refused_flag: str | None,
    ) -> Refusal | None:
        args: list[Any] = [amount, _ms(expires_at), request_id, refused_flag or ""]
        for spec in counters:
            args += [spec.limit, math.ceil(spec.expires_at)]
        keys = [self._rkey(request_id), self._expiry, *(self._ckey(s.counter) for s in counters)]
        reply = await self._call("budget reservation", self._reserve(keys=keys, args=args))
        if reply[0] == -1:
            raise ReservationConflict(request_id)
        if reply[0] == 1:
            return None
        _, index, spent, reserved, first = reply
        return Refusal(int(index) - 1, int(spent), int(reserved), bool(first))

    async def settle(
        self,
        request_id: str,
        counters: Sequence[CounterSpec],
        actual: int,
        *,
        unreserved_until: float | None = None,
    ) -> SettleOutcome:
        levels = {len(s.levels) for s in counters}
        if len(levels) > 1:
            raise ValueError("every counter of one settlement must report the same levels")
        tombstone = "" if unreserved_until is None else _ms(unreserved_until)
        args: list[Any] = [actual, request_id, tombstone, levels.pop() if levels else 0]
        for spec in counters:
            args.append(math.ceil(spec.expires_at))
            for flag, level in spec.levels:
                args += [flag, level]
        keys = [self._rkey(request_id), self._expiry, *(self._ckey(s.counter) for s in counters)]
        reply = await self._call("budget settlement", self._settle(keys=keys, args=args))
        if reply[0] == 0:
            return NOT_APPLIED
        if len(reply) == 1:
            return APPLIED
        flat = [int(v) for v in reply[1:]]
        crossings = tuple(
            Crossing(flat[i] - 1, flat[i + 1] - 1, flat[i + 2]) for i in range(0, len(flat), 3)
        )
        return SettleOutcome(True, crossings)

    async def expire(self, now: float, *, tombstone_until: float) -> int:
        expired = 0
        while True:
            due = await self._call(
                "budget expiry scan",
                self._redis.zrangebyscore(
                    self._expiry, "-inf", _ms(now), start=0, num=_EXPIRE_BATCH
                ),
            )
            for raw in due:
                expired += await self._expire_one(_text(raw), now, tombstone_until)
            if len(due) < _EXPIRE_BATCH:
                return expired

    async def _expire_one(self, request_id: str, now: float, tombstone_until: float) -> int:
        held = await self._call("budget expiry", self._redis.hgetall(self._rkey(request_id)))
        fields = {_text(k): _text(v) for k, v in held.items()}
        counters = [v for k, v in fields.items() if k.startswith("k")]
        keys = [self._rkey(request_id), self._expiry, *counters]
        args: list[Any] = [request_id, _ms(now), _ms(tombstone_until)]
        return int(await self._call("budget expiry", self._expire(keys=keys, args=args)))

    async def seed(self, counter: str, spent: int, *, expires_at: float) -> int:
        keys = [self._ckey(counter)]
        args = [spent, math.ceil(expires_at)]
        return int(await self._call("budget seed", self._seed(keys=keys, args=args)))

    async def read(self, counter: str) -> CounterState:
        spent, reserved = await self._call(
            "budget read", self._redis.hmget(self._ckey(counter), ["spent", "reserved"])
        )
        return CounterState(int(spent or 0), int(reserved or 0))
