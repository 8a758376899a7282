"""Background jobs on Redis: the API side enqueues, `os1 worker` (an arq Worker) runs them.

Real parts: a real redis-server on a free port, a real database (the SQLite file, and
PostgreSQL with pgvector where a test takes ``database_url``) opened separately by the
"API process" side and the worker side, the real embedder, real companion turns. The chat model
is ScriptedModel (tests/conftest.py), a test double: these tests are about where the work runs
and that nothing is lost, never about what a model would extract.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from conftest import ScriptedModel, free_port
from databases import database_url, postgres  # noqa: F401  (fixtures)
from os1.app import open_memory
from os1.companion import Companion
from os1.config import Settings
from os1.persona import default_persona
from os1.server.jobs import QueuedMemoryWriter, job_queue
from os1.server.limits import Lockout, Rule
from os1.server.limits_redis import RedisRateLimits
from os1.server.worker import WorkerParts, make_worker, open_parts, remember_turn
from os1.store.base import Database
from os1.store.open import open_store
from os1.system_packages import SystemPackage, command, ensure

NOW = datetime(2026, 11, 23, 18, 0).astimezone()
# arq 0.28 closes its pool with redis-py's deprecated close(): noise, not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
REDIS = SystemPackage("redis-server", "the background-job tests", command("redis-server"))


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ensure(REDIS)
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
async def flushed(redis_url: str) -> AsyncIterator[str]:
    client: Redis = Redis.from_url(redis_url)
    await client.flushdb()
    yield redis_url
    await client.aclose()


def fact(statement: str, **fields: Any) -> dict[str, Any]:
    base = {"kind": "fact", "subject": "user", "relation": "", "attribute": "", "value": "",
            "statement": statement, "date": "", "importance": 3}
    return {**base, **fields}


def api_side(settings: Settings, queue_url: str) -> tuple[Companion, QueuedMemoryWriter,
                                                          Database]:
    """What `os1 serve` holds with OS1_REDIS_URL set: its own store connection and a queued
    writer. The companion's model is the test double (replies "Mm.")."""
    store = open_store(settings)
    writer = QueuedMemoryWriter(open_memory(settings, store), ScriptedModel([]),
                                "os1", lambda: NOW, queue=job_queue(queue_url),
                                idle_s=settings.memory_idle_s)
    companion = Companion(ScriptedModel([]), store, settings, default_persona(), lambda: NOW,
                          writer)
    return companion, writer, store


async def run_worker_burst(settings: Settings, url: str, parts: WorkerParts) -> None:
    worker = make_worker(settings, url=url, burst=True, parts=lambda: parts,
                         handle_signals=False)
    try:
        await asyncio.wait_for(worker.async_run(), 60)
    finally:
        await worker.close()


def counts(store: Database, user_id: int) -> dict[str, int]:
    def work(db: Any) -> dict[str, int]:
        return {
            "episodes": db.execute("SELECT count(*) FROM memories WHERE user_id = ? AND "
                                   "kind = 'episode'", (user_id,)).fetchone()[0],
            "facts": db.execute("SELECT count(*) FROM memories WHERE user_id = ? AND "
                                "kind = 'fact'", (user_id,)).fetchone()[0],
            "waiting": db.execute("SELECT count(*) FROM memory_jobs WHERE user_id = ?",
                                  (user_id,)).fetchone()[0],
        }

    return store.run(work)


def fact_texts(store: Database, user_id: int) -> list[str]:
    return [r[0] for r in store.run(lambda db: db.execute(
        "SELECT text FROM memories WHERE user_id = ? AND kind = 'fact'", (user_id,)).fetchall())]


async def test_the_api_only_enqueues_and_the_worker_remembers(
        settings: Settings, flushed: str, database_url: str) -> None:  # noqa: F811
    # idle 1 s: the quiet job is deferred that long, after the two episode jobs.
    settings = settings.with_overrides(memory_idle_s=1.0, database_url=database_url)
    companion, writer, store = api_side(settings, flushed)
    me = store.user("me")
    [e async for e in companion.turn(me, "I have a cat called Miso.")]
    await writer.settle()
    assert writer.fallbacks == 0
    # Nothing was embedded or stored as memory in the API process: only enqueued.
    assert counts(store, me.id) == {"episodes": 0, "facts": 0, "waiting": 0}
    queued = await Redis.from_url(flushed).zcard("os1:jobs")
    assert queued == 3  # two episode writes and one deferred quiet job

    model = ScriptedModel([{"memories": [fact("The user has a cat named Miso.",
                                              attribute="pet", value="Miso")]}])
    parts = open_parts(settings, model=model, clock=lambda: NOW)
    await run_worker_burst(settings, flushed, parts)

    assert counts(store, me.id) == {"episodes": 2, "facts": 1, "waiting": 0}
    assert fact_texts(store, me.id) == ["The user has a cat named Miso."]
    assert len(model.calls) == 1  # extracted once, though a sweep also ran
    await companion.memory.aclose() if companion.memory else None
    store.close()


async def test_jobs_touch_only_the_user_they_name(settings: Settings, flushed: str) -> None:
    companion, writer, store = api_side(settings, flushed)
    me, other = store.user("me"), store.user("someone else")
    [e async for e in companion.turn(me, "My sister lives in Lyon.")]
    await writer.settle()
    turn_id = store.run(lambda db: db.execute(
        "SELECT max(id) FROM turns WHERE user_id = ?", (me.id,)).fetchone()[0])
    parts = open_parts(settings, model=ScriptedModel([]), clock=lambda: NOW)
    try:
        ctx = {"os1": parts}
        # Another user's id with this turn: nothing is read or written.
        assert await remember_turn(ctx, other.id, turn_id) == "gone"
        assert counts(store, other.id)["episodes"] == 0
        assert await remember_turn(ctx, me.id, turn_id) == "stored"
        assert await remember_turn(ctx, me.id, turn_id) == "already stored"  # run twice: once
        assert counts(store, me.id)["episodes"] == 1
    finally:
        await parts.aclose()
        await writer.aclose()
        store.close()


async def test_with_redis_down_nothing_is_lost_and_the_worker_catches_up(
        settings: Settings, flushed: str, database_url: str) -> None:  # noqa: F811
    settings = settings.with_overrides(memory_idle_s=30.0, database_url=database_url)
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    companion, writer, store = api_side(settings, dead)
    me = store.user("me")
    started = time.monotonic()
    [e async for e in companion.turn(me, "I start a new job at the bakery on Monday.")]
    await writer.settle()
    assert time.monotonic() - started < 10  # the turn did not hang on Redis
    # The API process wrote the episodes itself; extraction waits as rows in memory_jobs.
    assert writer.fallbacks == 2
    assert counts(store, me.id) == {"episodes": 2, "facts": 0, "waiting": 2}
    await writer.aclose()
    store.close()

    # Redis and a worker come back later: the start-up sweep finds the rows.
    model = ScriptedModel([{"memories": [fact("The user starts a job at a bakery.",
                                              kind="event", attribute="job", value="bakery")]}])
    later = NOW + timedelta(minutes=5)
    parts = open_parts(settings, model=model, clock=lambda: later)
    await run_worker_burst(settings, flushed, parts)
    check = open_store(settings)
    try:
        assert counts(check, me.id)["waiting"] == 0
        assert len(model.calls) == 1
        texts = [r[0] for r in check.run(lambda db: db.execute(
            "SELECT text FROM memories WHERE user_id = ? AND kind != 'episode'",
            (me.id,)).fetchall())]
        assert texts == ["The user starts a job at a bakery."]
    finally:
        check.close()


async def test_two_api_processes_share_one_rate_limit(flushed: str) -> None:
    first, second = RedisRateLimits.from_url(flushed), RedisRateLimits.from_url(flushed)
    rule = Rule(capacity=4, per_s=60.0)
    try:
        waits = [await limits.take("turn:7", rule) for limits in (first, second) * 3]
        assert waits[:4] == [None] * 4  # four tokens, spent across both processes
        assert all(w is not None and 10 < w <= 15 for w in waits[4:])  # one every 15 s
        assert await first.take("turn:8", rule) is None  # another key, its own bucket

        # Login failures counted by one process lock the name out in the other.
        lockout = Lockout(failures=3, window_s=60, base_s=30, most_s=120)
        for _ in range(3):
            await first.fail("login:ann", lockout)
        locked = await second.locked_for("login:ann", lockout)
        assert locked is not None and 25 < locked <= 30
        await second.forgive("login:ann")
        assert await first.locked_for("login:ann", lockout) is None

        # Concurrent takes never overspend: 20 at once against a bucket of 4.
        results = await asyncio.gather(*(limits.take("burst", rule)
                                         for limits in (first, second) * 10))
        assert sum(r is None for r in results) == 4
    finally:
        await first.aclose()
        await second.aclose()


async def test_rate_limits_stay_on_when_redis_is_down() -> None:
    limits = RedisRateLimits.from_url(f"redis://127.0.0.1:{free_port()}/0")
    rule = Rule(capacity=2, per_s=60.0)
    try:
        waits = [await limits.take("turn:1", rule) for _ in range(3)]
        assert waits[:2] == [None, None] and waits[2] is not None  # per process, not lifted
    finally:
        await limits.aclose()


def test_os1_worker_without_redis_says_what_to_set(tmp_path: Path) -> None:
    from rich.console import Console

    from os1.server.cli import run_worker

    out = Console(record=True, width=200)
    settings = Settings(data_dir=tmp_path)
    import os
    saved = os.environ.pop("OS1_REDIS_URL", None)
    try:
        assert run_worker(settings, type("Args", (), {"burst": True})(), out, out) == 2
    finally:
        if saved is not None:
            os.environ["OS1_REDIS_URL"] = saved
    assert "OS1_REDIS_URL" in out.export_text()
