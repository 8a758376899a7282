"""`os1 worker`: runs the background jobs the API processes enqueue on Redis (arq).

    os1 worker            run jobs until stopped (SIGTERM/Ctrl-C finish the running ones)
    os1 worker --burst    run the jobs waiting now and one sweep, then exit

The jobs run the same engine code as a single os1 process does in its own threads, on the same
rows: the episode write (os1.memory.engine), fact extraction from ``memory_jobs`` rows
(os1.memory.writer), reflection (os1.persona.reflection) and check-in ticks (os1.checkins).
Every job names its user and touches only that user's rows; a per-user lock in Redis keeps two
workers from extracting the same user's turns at once (facts would be counted twice).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from arq import cron
from arq.connections import ArqRedis
from arq.worker import Retry, Worker, func

from os1.app import open_memory_writer
from os1.checkins.scheduler import CheckIns
from os1.config import Settings
from os1.llm.base import ChatModel, ModelError
from os1.llm.select import open_chat_model
from os1.memory.writer import MemoryWriter
from os1.persona.reflection import Reflection
from os1.server.jobs import (
    CHECKIN_TICK,
    QUEUE,
    QUIET,
    REMEMBER_TURN,
    SWEEP,
    dump_job,
    load_job,
    redis_settings,
)
from os1.store.base import Database, Turn, User
from os1.store.open import open_store
from os1.store.scope import user_scope
from os1.store.sqlite import from_text, to_text

log = logging.getLogger(__name__)

REFLECT_WINDOW = timedelta(days=2)  # users who talked this recently are asked "reflect now?"
USER_LOCK_S = 600  # longest a user's quiet work may hold its lock (a crashed worker's expires)
EPISODE_WAIT_S = 2.0  # a quiet job that finds its turn's episode not yet written waits this long
QUIET_TRIES = 10
_EXTRACT_ROUNDS = 8  # extract_pending takes 16 jobs a round: at most 128 turns a quiet moment

Clock = Callable[[], datetime]


@dataclass
class WorkerParts:
    """What the jobs run on: one store, one chat model, the memory writer's engine."""

    settings: Settings
    store: Database
    model: ChatModel
    writer: MemoryWriter | None  # None with memory off: nothing is remembered or reflected
    reflection: Reflection | None
    checkins: CheckIns
    clock: Clock

    async def aclose(self) -> None:
        if self.writer is not None:
            await self.writer.aclose()
        await self.model.aclose()
        self.store.close()


def open_parts(settings: Settings, model: ChatModel | None = None,
               clock: Clock | None = None) -> WorkerParts:
    now: Clock = clock or (lambda: datetime.now().astimezone())
    store = open_store(settings)
    try:
        chat = model if model is not None else open_chat_model(settings, None)
    except BaseException:
        store.close()
        raise
    writer = open_memory_writer(settings, store, chat, now) if settings.memory else None
    reflection = (Reflection(store, chat, writer.engine, now) if writer is not None else None)
    checkins = CheckIns(store, settings, users_choose=True)
    return WorkerParts(settings, store, chat, writer, reflection, checkins, now)


# -- reading rows (every statement names the user) ---------------------------------------


def _user(store: Database, user_id: int) -> User | None:
    row = store.run(lambda db: db.execute(
        "SELECT id, name, created_at FROM users WHERE id = ?", (user_id,)).fetchone())
    return User(int(row[0]), str(row[1]), from_text(row[2])) if row else None


def _turn(store: Database, user: User, turn_id: int) -> Turn | None:
    row = store.run(lambda db: db.execute(
        "SELECT id, conversation_id, role, content, context, status, created_at FROM turns "
        "WHERE user_id = ? AND id = ?", (user.id, turn_id)).fetchone())
    if row is None:
        return None
    return Turn(int(row[0]), int(row[1]), row[2], str(row[3]), str(row[4]), row[5],
                from_text(row[6]))


def _has_episode(store: Database, user: User, turn_id: int) -> bool:
    return store.run(lambda db: db.execute(
        "SELECT 1 FROM memories WHERE user_id = ? AND turn_id = ?",
        (user.id, turn_id)).fetchone()) is not None


def _newest_turn(store: Database, user: User) -> tuple[int, datetime] | None:
    row = store.run(lambda db: db.execute(
        "SELECT id, created_at FROM turns WHERE user_id = ? ORDER BY id DESC LIMIT 1",
        (user.id,)).fetchone())
    return (int(row[0]), from_text(row[1])) if row else None


def _waiting_extraction(store: Database, user: User) -> int:
    return int(store.run(lambda db: db.execute(
        "SELECT count(*) FROM memory_jobs WHERE user_id = ?", (user.id,)).fetchone()[0]))


def _sweep_candidates(store: Database, since: datetime) -> list[int]:
    """Users with extraction rows waiting, or who talked since ``since`` (may reflect): a
    sweep costs the recently active, not everyone who ever signed up."""
    def work(db: Any) -> list[int]:
        waiting = {int(r[0]) for r in db.execute("SELECT DISTINCT user_id FROM memory_jobs")}
        talked = {int(r[0]) for r in db.execute(
            "SELECT DISTINCT user_id FROM turns WHERE created_at > ?", (to_text(since),))}
        return sorted(waiting | talked)

    return store.run(work)


def _all_users(store: Database) -> list[User]:
    return [User(int(r[0]), str(r[1]), from_text(r[2])) for r in store.run(
        lambda db: db.execute("SELECT id, name, created_at FROM users ORDER BY id").fetchall())]


# -- the jobs ---------------------------------------------------------------------------


def _parts(ctx: dict[str, Any]) -> WorkerParts:
    parts: WorkerParts = ctx["os1"]
    return parts


async def remember_turn(ctx: dict[str, Any], user_id: int, turn_id: int) -> str:
    """Store one turn as an episode and queue it for extraction (as MemoryWriter.turn_stored
    does in a single process). Idempotent: a job run twice stores one episode."""
    parts = _parts(ctx)
    if parts.writer is None:
        return "memory is off"
    writer = parts.writer
    with user_scope(user_id):
        user = await asyncio.to_thread(_user, parts.store, user_id)
        turn = await asyncio.to_thread(_turn, parts.store, user, turn_id) if user else None
        if user is None or turn is None:
            return "gone"  # erased or forgotten meanwhile: nothing to remember
        if await asyncio.to_thread(_has_episode, parts.store, user, turn_id):
            return "already stored"
        await asyncio.to_thread(writer.engine.remember_turn, user, turn,
                                writer.speaker_of(user, turn),
                                extract=parts.settings.memory_extraction)
    return "stored"


async def quiet(ctx: dict[str, Any], user_id: int, last_turn_id: int) -> str:
    """The user's conversation went quiet after ``last_turn_id``: unless a newer turn came
    (its own quiet job follows), extract facts and reflect."""
    parts = _parts(ctx)
    with user_scope(user_id):
        user = await asyncio.to_thread(_user, parts.store, user_id)
        if user is None:
            return "gone"
        newest = await asyncio.to_thread(_newest_turn, parts.store, user)
        if newest is not None and newest[0] > last_turn_id:
            return "a newer turn came"
        if (parts.writer is not None
                and await asyncio.to_thread(_turn, parts.store, user, last_turn_id) is not None
                and not await asyncio.to_thread(_has_episode, parts.store, user, last_turn_id)):
            # Its episode job has not run yet (a busy worker): extraction would miss that
            # exchange. Try again shortly; past QUIET_TRIES the minute's sweep takes it.
            raise Retry(defer=EPISODE_WAIT_S)
        return await _quiet_work(parts, ctx["redis"], user)


async def sweep(ctx: dict[str, Any]) -> str:
    """Every minute, and at start: whatever quiet work a lost or never-sent job left (Redis was
    down, a worker died): extraction rows of users quiet for memory_idle_s, reflection."""
    parts = _parts(ctx)
    quiet_for = timedelta(seconds=parts.settings.memory_idle_s)
    now = parts.clock()
    done = 0
    for user_id in await asyncio.to_thread(_sweep_candidates, parts.store,
                                           now - REFLECT_WINDOW):
        with user_scope(user_id):
            user = await asyncio.to_thread(_user, parts.store, user_id)
            newest = await asyncio.to_thread(_newest_turn, parts.store, user) if user else None
            if user is None or newest is None:
                continue
            age = now - newest[1]
            if age < quiet_for:
                continue  # still talking: the quiet job of their last turn comes later
            waiting = await asyncio.to_thread(_waiting_extraction, parts.store, user)
            if waiting or age < REFLECT_WINDOW:
                await _quiet_work(parts, ctx["redis"], user, waiting)
                done += 1
    return f"{done} users"


async def checkin_tick(ctx: dict[str, Any]) -> str:
    """`os1 checkins tick` for every user: what is due now goes into their inbox."""
    parts = _parts(ctx)
    sent = 0
    now = parts.clock()
    for user in await asyncio.to_thread(_all_users, parts.store):
        with user_scope(user.id):
            sent += len(await asyncio.to_thread(parts.checkins.due, user, now))
    return f"{sent} check-ins"


async def _quiet_work(parts: WorkerParts, redis: ArqRedis, user: User,
                      waiting: int | None = None) -> str:
    """Extraction and reflection for a quiet user; ``waiting``: their extraction rows, when
    the caller has just counted them."""
    if parts.writer is None:
        return "memory is off"
    async with _user_lock(redis, user) as held:
        if not held:
            return "another worker has this user"
        if parts.settings.memory_extraction:
            await _extract_all(parts.writer, parts.store, user, waiting)
        if parts.reflection is not None:
            try:
                await parts.reflection.reflect_if_due(user)
            except ModelError as error:  # the model is away: the next sweep tries again
                log.warning("reflection paused: %s", error)
    return "done"


async def _extract_all(writer: MemoryWriter, store: Database, user: User,
                       waiting: int | None) -> None:
    before = (waiting if waiting is not None
              else await asyncio.to_thread(_waiting_extraction, store, user))
    for _ in range(_EXTRACT_ROUNDS):
        if before == 0:
            return
        await writer.extract_pending(user)
        after = await asyncio.to_thread(_waiting_extraction, store, user)
        if after >= before:
            return  # the model is away (jobs kept, attempts counted): the next sweep retries
        before = after


@asynccontextmanager
async def _user_lock(redis: ArqRedis, user: User) -> AsyncIterator[bool]:
    key, mine = f"os1:lock:user:{user.id}", uuid.uuid4().hex
    held = bool(await redis.set(key, mine, nx=True, ex=USER_LOCK_S))
    try:
        yield held
    finally:
        if held:
            # Release only our own lock (it may have expired and been taken by another).
            release: Any = redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                      "return redis.call('DEL', KEYS[1]) end return 0", 1, key,
                                      mine)
            await release


# -- the arq worker ------------------------------------------------------------------------


def make_worker(settings: Settings, *, url: str | None = None, burst: bool = False,
                parts: Callable[[], WorkerParts] | None = None,
                handle_signals: bool = True) -> Worker:
    """The arq Worker for these settings. ``parts`` opens what the jobs run on (tests pass one
    with a test-double model); it runs at worker start, and is closed at its end."""
    open_them = parts or (lambda: open_parts(settings))

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["os1"] = await asyncio.to_thread(open_them)

    async def shutdown(ctx: dict[str, Any]) -> None:
        opened: WorkerParts | None = ctx.pop("os1", None)
        if opened is not None:
            await opened.aclose()

    return Worker(
        [func(remember_turn, name=REMEMBER_TURN, max_tries=3),
         func(quiet, name=QUIET, max_tries=QUIET_TRIES)],
        queue_name=QUEUE,
        cron_jobs=[
            cron(sweep, name=SWEEP, second=0, run_at_startup=True,
                 timeout=USER_LOCK_S),
            cron(checkin_tick, name=CHECKIN_TICK, second=30,
                 run_at_startup=burst),
        ],
        redis_settings=redis_settings(url or settings.redis_url),
        burst=burst,
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=handle_signals,
        job_serializer=dump_job,
        job_deserializer=load_job,
        max_jobs=8,
        keep_result=600,
        job_timeout=USER_LOCK_S,
        log_results=False,
    )
