"""Rate limits in Redis, so several API processes share them (`RateLimits`, os1.server.limits).

Each check is one Lua script: read, refill, spend and write happen atomically inside Redis, so
two processes can never both spend the last token. Time is Redis's own clock (``TIME``), not
each API machine's: machines whose clocks disagree still share one bucket fairly. Every key
expires once it would be full again (buckets) or out of its window (failures), so a flood of
distinct keys costs Redis memory only for as long as it matters.

Redis unreachable: each process falls back to its own in-memory limits (logged) — limits are
then per process, never lifted, and a request never fails because Redis is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from os1.server.limits import Limits, Lockout, MemoryRateLimits, Rule

log = logging.getLogger(__name__)
T = TypeVar("T")

PREFIX = "os1:limit:"
_TIMEOUT_S = 1.0

# KEYS[1] bucket; ARGV: capacity, refill per second. Returns -1 (allowed) or ms to wait.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or capacity
local at = tonumber(held[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = -1
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return wait
"""

# KEYS[1] failures (a sorted set of times); ARGV: window s, 1 = add one now.
# Returns {count within the window, ms since the latest failure}.
_FAILURES = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[1], now, tostring(now) .. ':' .. tostring(math.random(1000000)))
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
end
local count = redis.call('ZCARD', KEYS[1])
if count == 0 then return {0, 0} end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return {count, math.floor((now - tonumber(last[2])) * 1000)}
"""


class RedisRateLimits:
    def __init__(self, redis: Redis, rules: Limits | None = None) -> None:
        self.rules = rules or Limits()
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._failures = redis.register_script(_FAILURES)
        self._local = MemoryRateLimits(self.rules)
        self._down = False

    @classmethod
    def from_url(cls, url: str, rules: Limits | None = None) -> RedisRateLimits:
        return cls(Redis.from_url(url, socket_connect_timeout=_TIMEOUT_S,
                                  socket_timeout=_TIMEOUT_S), rules)

    async def _shared(self, call: Callable[[], Awaitable[T]],
                      local: Callable[[], Awaitable[T]]) -> T:
        try:
            result = await asyncio.wait_for(call(), _TIMEOUT_S * 2)
        except (TimeoutError, RedisError, OSError) as error:
            if not self._down:
                log.warning("Redis unreachable (%s): rate limits are per process until it is "
                            "back", type(error).__name__)
            self._down = True
            return await local()
        if self._down:
            log.warning("Redis is back: rate limits are shared again")
            self._down = False
        return result

    async def take(self, key: str, rule: Rule) -> float | None:
        async def shared() -> float | None:
            wait_ms = int(await self._take(keys=[PREFIX + "b:" + key],
                                           args=[rule.capacity, repr(rule.refill_per_s)]))
            return None if wait_ms < 0 else wait_ms / 1000

        return await self._shared(shared, lambda: self._local.take(key, rule))

    async def _count(self, key: str, rule: Lockout, add: bool) -> tuple[int, float]:
        reply: Any = await self._failures(keys=[PREFIX + "f:" + key],
                                          args=[repr(rule.window_s), "1" if add else "0"])
        return int(reply[0]), int(reply[1]) / 1000

    async def locked_for(self, key: str, rule: Lockout) -> float | None:
        async def shared() -> float | None:
            count, since_last_s = await self._count(key, rule, add=False)
            wait = rule.wait_s(count) - since_last_s if count else 0.0
            return wait if wait > 0 else None

        return await self._shared(shared, lambda: self._local.locked_for(key, rule))

    async def fail(self, key: str, rule: Lockout) -> None:
        async def shared() -> None:
            await self._count(key, rule, add=True)

        await self._shared(shared, lambda: self._local.fail(key, rule))

    async def forgive(self, key: str) -> None:
        async def shared() -> None:
            await self._redis.delete(PREFIX + "f:" + key)

        async def already_done() -> None:
            return None

        # Failures counted here while Redis was away are forgiven too, whatever Redis says.
        await self._local.forgive(key)
        await self._shared(shared, already_done)

    async def aclose(self) -> None:
        await self._redis.aclose()
