"""Rate limits and lockouts: how often one key (an IP, a user) may do one thing.

Two shapes, one seam (`RateLimits`):

- a token bucket (`Rule`): ``capacity`` actions at once, refilled evenly over ``per_s``
  seconds. ``take`` spends one token, or says how long until one is back;
- a lockout (`Lockout`): failures (wrong passwords) counted in a window; past ``failures``,
  the key waits ``base_s`` doubled for every further failure, up to ``most_s``.

`MemoryRateLimits` keeps them in this process. Several API processes share them through
another implementation of the same protocol (Redis, when OS1_REDIS_URL is set): every method
is async and names its key, so such an implementation needs nothing else.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Rule:
    """``capacity`` actions, refilled evenly over ``per_s`` seconds (30 per 60 s: a burst of
    30, then one every 2 s)."""

    capacity: int
    per_s: float

    @property
    def refill_per_s(self) -> float:
        return self.capacity / self.per_s


@dataclass(frozen=True)
class Lockout:
    """After ``failures`` failures within ``window_s``, each further try waits ``base_s``,
    doubled per failure beyond the limit, at most ``most_s``."""

    failures: int = 5
    window_s: float = 15 * 60
    base_s: float = 30.0
    most_s: float = 15 * 60

    def wait_s(self, count: int) -> float:
        if count < self.failures:
            return 0.0
        return min(self.most_s, self.base_s * 2.0 ** (count - self.failures))


@dataclass(frozen=True)
class Limits:
    """The server's rules. Keys are built with `key` ("turn", user id) → "turn:7"."""

    turns: Rule = Rule(30, 60.0)  # chat turns per user
    api: Rule = Rule(600, 60.0)  # API requests per user
    sign_ups: Rule = Rule(10, 3600.0)  # new accounts per client IP
    logins: Rule = Rule(30, 60.0)  # log-in attempts per client IP (each costs an argon2 hash)
    login_failures: Lockout = field(default_factory=Lockout)  # per account name, per IP


def key(*parts: object) -> str:
    return ":".join(str(p) for p in parts)


class RateLimits(Protocol):
    rules: Limits  # the rules this server runs with

    async def take(self, key: str, rule: Rule) -> float | None:
        """Spend one token of ``key``'s bucket: None when allowed, else seconds to wait."""
        ...

    async def locked_for(self, key: str, rule: Lockout) -> float | None:
        """Seconds ``key`` must still wait before its next try, or None."""
        ...

    async def fail(self, key: str, rule: Lockout) -> None:
        """Count one failure of ``key``."""
        ...

    async def forgive(self, key: str) -> None:
        """Forget ``key``'s failures (the right password came)."""
        ...

    async def aclose(self) -> None:
        """Let go of any connection (Redis) when the server stops."""
        ...


def retry_after(wait_s: float) -> str:
    """The Retry-After header's value: whole seconds, never 0 (0 invites a hot loop)."""
    return str(max(1, math.ceil(wait_s)))


async def turn_wait(limits: RateLimits, user_id: int) -> int | None:
    """Spend one of the user's turns (every socket, text or voice, draws on the same bucket):
    None when the turn may start, else the whole seconds to wait."""
    wait = await limits.take(key("turn", user_id), limits.rules.turns)
    return None if wait is None else max(1, round(wait))


def too_fast(wait_s: int) -> str:
    return f"You are sending messages very fast; wait {wait_s} seconds."


def claim_turn(running: set[int], user_id: int) -> bool:
    """One reply at a time per user, however many tabs and sockets (the app's ``running``):
    takes the user's place, or False when a reply of theirs is under way. Checking and taking
    happen with no await between them, so two sockets can never both pass; whoever claims
    gives the place back (``running.discard``) when the turn ends or does not start."""
    if user_id in running:
        return False
    running.add(user_id)
    return True


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)


class MemoryRateLimits:
    """This process's buckets and failure counts. Old entries are dropped as the maps grow, so
    a flood of distinct keys (spoofed names, many IPs) cannot grow memory without end."""

    def __init__(self, rules: Limits | None = None, clock: Callable[[], float] = time.monotonic,
                 prune_above: int = 10_000) -> None:
        self.rules = rules or Limits()
        self._clock = clock
        self._buckets: dict[str, tuple[_Bucket, Rule]] = {}
        self._failures: dict[str, tuple[_Failures, Lockout]] = {}
        self._prune_above = prune_above
        # One lock: the methods are short, and this keeps a check-then-spend atomic even if
        # a method ever awaits in between.
        self._lock = asyncio.Lock()

    async def take(self, key: str, rule: Rule) -> float | None:
        async with self._lock:
            now = self._clock()
            held = self._buckets.get(key)
            bucket = held[0] if held else _Bucket(float(rule.capacity), now)
            bucket.tokens = min(float(rule.capacity),
                                bucket.tokens + (now - bucket.at) * rule.refill_per_s)
            bucket.at = now
            if held is None:
                self._buckets[key] = (bucket, rule)
                self._prune(now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / rule.refill_per_s

    async def locked_for(self, key: str, rule: Lockout) -> float | None:
        async with self._lock:
            now = self._clock()
            held = self._failures.get(key)
            if held is None:
                return None
            times = _recent(held[0], rule, now)
            if not times:
                del self._failures[key]
                return None
            wait = times[-1] + rule.wait_s(len(times)) - now
            return wait if wait > 0 else None

    async def fail(self, key: str, rule: Lockout) -> None:
        async with self._lock:
            now = self._clock()
            held = self._failures.get(key)
            if held is None:
                held = (_Failures(), rule)
                self._failures[key] = held
                self._prune(now)
            _recent(held[0], rule, now).append(now)

    async def forgive(self, key: str) -> None:
        async with self._lock:
            self._failures.pop(key, None)

    async def aclose(self) -> None:
        pass  # nothing held outside this process

    def _prune(self, now: float) -> None:
        """Drop buckets that are full again and failures out of their window."""
        if len(self._buckets) > self._prune_above:
            self._buckets = {
                k: (b, r) for k, (b, r) in self._buckets.items()
                if b.tokens + (now - b.at) * r.refill_per_s < r.capacity
            }
        if len(self._failures) > self._prune_above:
            self._failures = {k: (f, r) for k, (f, r) in self._failures.items()
                              if _recent(f, r, now)}


def _recent(failures: _Failures, rule: Lockout, now: float) -> list[float]:
    """The failures inside the window; older ones are dropped from the record."""
    failures.times = [t for t in failures.times if t > now - rule.window_s]
    return failures.times
