"""Background jobs on Redis (arq): the API process only enqueues; `os1 worker` runs them.

    turn stored ──► enqueue remember_turn(user_id, turn_id) ──► worker: embed, store the episode,
                                                                 queue the turn for extraction
    turn finished ─► enqueue quiet(user_id, turn_id), deferred by memory_idle_s ──► worker: if
                     no newer turn came, extract facts (memory_jobs rows), then reflect if due
    every minute ──► worker sweep: extraction rows of users gone quiet, reflection, check-ins

Redis holds ids only, never what anyone said, and jobs are JSON (not pickle: a Redis that is
reached by someone else must not be a way to run code in the workers).

Nothing is lost when Redis is down: the API process then writes the episode itself (today's
in-process path), which leaves the extraction job as a row in ``memory_jobs``; the worker's
sweep finds those rows once Redis and the worker are back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from os1.config import Settings
from os1.llm.base import ChatModel
from os1.memory.engine import MemoryEngine
from os1.memory.writer import MemoryWriter
from os1.store.base import Turn, User

log = logging.getLogger(__name__)

QUEUE = "os1:jobs"
REMEMBER_TURN = "remember_turn"
QUIET = "quiet"
SWEEP = "sweep"
CHECKIN_TICK = "checkin_tick"
ENQUEUE_TIMEOUT_S = 2.0  # a Redis that does not answer must not hold a turn's bookkeeping
_REDIS_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


def shown_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, parts.query, ""))


def dump_job(job: dict[str, Any]) -> bytes:
    return json.dumps(job, separators=(",", ":")).encode()


def load_job(raw: bytes) -> dict[str, Any]:
    loaded = json.loads(raw)
    if not isinstance(loaded, dict):
        raise ValueError("a job must be a JSON object")
    return loaded


def redis_settings(url: str) -> RedisSettings:
    """For the worker: a few seconds of retries at start, then a clear error."""
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 3
    return settings


def job_queue(url: str) -> ArqRedis:
    """A client that connects on first use (no ping here): the API process starts, and keeps
    serving, while Redis is down."""
    pool = ConnectionPool.from_url(url, socket_connect_timeout=1.0,
                                   socket_timeout=ENQUEUE_TIMEOUT_S)
    return ArqRedis(pool, job_serializer=dump_job, job_deserializer=load_job,
                    default_queue_name=QUEUE)


class QueuedMemoryWriter(MemoryWriter):
    """The companion's memory writer when Redis is configured: the same engine for recall, but
    episode writes, extraction and reflection go to `os1 worker` processes instead of this
    process's threads and idle timers."""

    def __init__(self, engine: MemoryEngine, model: ChatModel, companion_name: str,
                 clock: Callable[[], datetime], *, queue: ArqRedis, idle_s: float,
                 extract: bool = True) -> None:
        super().__init__(engine, model, companion_name, clock, idle_s=idle_s, extract=extract)
        self._queue = queue
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_turn: dict[int, int] = {}  # user id -> the newest turn handed to memory
        self._sent: list[Future[None]] = []
        self.fallbacks = 0  # episode writes done here because Redis was unreachable

    def _known_loop(self) -> asyncio.AbstractEventLoop | None:
        with contextlib.suppress(RuntimeError):  # from a worker thread: the loop seen last
            self._loop = asyncio.get_running_loop()
        return self._loop

    def turn_stored(self, user: User, turn: Turn) -> None:
        self._last_turn[user.id] = max(turn.id, self._last_turn.get(user.id, 0))
        loop = self._known_loop()
        if loop is None or loop.is_closed():
            super().turn_stored(user, turn)
            return
        self._track(asyncio.run_coroutine_threadsafe(self._send_turn(user, turn), loop))

    def _track(self, future: Future[None]) -> None:
        self._sent = [f for f in self._sent if not f.done()] + [future]

    async def _send_turn(self, user: User, turn: Turn) -> None:
        try:
            await asyncio.wait_for(
                self._queue.enqueue_job(REMEMBER_TURN, user.id, turn.id,
                                        _job_id=f"turn:{turn.id}"),
                ENQUEUE_TIMEOUT_S)
        except _REDIS_ERRORS as error:
            # Redis is away: write the episode here, as without Redis. Its extraction job is
            # then a memory_jobs row, which the worker's sweep picks up when it is back.
            self.fallbacks += 1
            log.warning("Redis unreachable (%s): storing turn %d as a memory in this process",
                        type(error).__name__, turn.id)
            super().turn_stored(user, turn)

    def turn_started(self) -> None:
        self._known_loop()

    def turn_finished(self, user: User) -> None:
        loop = self._known_loop()
        if loop is None:
            return
        last = self._last_turn.get(user.id, 0)
        self._track(asyncio.run_coroutine_threadsafe(self._send_quiet(user, last), loop))

    async def _send_quiet(self, user: User, last_turn_id: int) -> None:
        try:
            await asyncio.wait_for(
                self._queue.enqueue_job(QUIET, user.id, last_turn_id,
                                        _job_id=f"quiet:{user.id}:{last_turn_id}",
                                        _defer_by=self._idle_s),
                ENQUEUE_TIMEOUT_S)
        except _REDIS_ERRORS as error:  # the sweep does it within a minute of Redis's return
            log.warning("Redis unreachable (%s): extraction waits for the worker's sweep",
                        type(error).__name__)

    async def settle(self) -> None:
        """Wait until every turn is handed over (to Redis, or to this process's writer)."""
        sent, self._sent = self._sent, []
        for future in sent:
            await asyncio.wrap_future(future)
        await super().settle()

    async def aclose(self) -> None:
        await super().aclose()
        await self._queue.aclose()


def open_queued_writer(settings: Settings, engine: MemoryEngine, model: ChatModel,
                       companion_name: str, clock: Callable[[], datetime]) -> QueuedMemoryWriter:
    return QueuedMemoryWriter(engine, model, companion_name, clock,
                              queue=job_queue(settings.redis_url),
                              idle_s=settings.memory_idle_s, extract=settings.memory_extraction)
