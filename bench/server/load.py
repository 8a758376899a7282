"""Load for the server benchmark: many real WebSocket clients on /api/chat.

Each session is one logged-in user with one socket (`websockets` client). `hold` opens them
and waits for each one's hello; `drive` sends `say` at a fixed rate across the idle sessions
and records, per turn, when the first token and each later token arrived. The model behind the
server is the test double in fake_model.py, whose own first-token delay and token interval are
known, so what is left is the time the server (and this client) added.

The client's own lateness is measured too (how late a 10 ms sleep wakes up on this event
loop): on a shared 2-core machine the client competes with the server for CPU, and its lag
shows up in every number; the report prints it beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

PROMPTS = ("I had a long day at work and I'm tired.", "Tell me something kind.",
           "My sister called me today.", "I can't decide what to cook tonight.",
           "I went for a walk by the river.", "Work was stressful again.")


@dataclass
class TurnRecord:
    session: int
    sent: float
    first_token: float | None = None
    tokens: list[float] = field(default_factory=list)
    done: float | None = None
    error: str = ""


@dataclass
class Session:
    index: int
    socket: ClientConnection
    current: TurnRecord | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None
    errors: list[str] = field(default_factory=list)


async def open_session(ws_url: str, token: str, index: int) -> Session:
    socket = await connect(f"{ws_url}?token={token}", max_size=2**20, open_timeout=60,
                           ping_interval=None, compression=None)
    hello = json.loads(await asyncio.wait_for(socket.recv(), 60))
    if hello.get("type") != "hello":
        raise RuntimeError(f"expected hello, got {hello}")
    session = Session(index, socket)
    session.reader = asyncio.create_task(_read(session))
    return session


async def _read(session: Session) -> None:
    with contextlib.suppress(Exception):
        async for raw in session.socket:
            now = time.monotonic()
            frame = json.loads(raw)
            kind, turn = frame.get("type"), session.current
            if turn is None:
                continue  # said_first and the like, between turns
            if kind == "token":
                if turn.first_token is None:
                    turn.first_token = now
                turn.tokens.append(now)
            elif kind == "done":
                turn.done = now
                session.current = None
                session.finished.set()
            elif kind in ("turn_error", "error"):  # either ends the turn: no reply comes
                turn.error = str(frame.get("message", kind))
                session.errors.append(turn.error)
                turn.done = now
                session.current = None
                session.finished.set()


async def hold(ws_url: str, tokens: Sequence[str], concurrency: int = 50) -> list[Session]:
    """Open one session per token, ``concurrency`` handshakes at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, token: str) -> Session:
        async with gate:
            return await open_session(ws_url, token, index)

    return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens))))


async def close_all(sessions: Sequence[Session]) -> None:
    async def one(session: Session) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(session.socket.close(), 5)
        if session.reader is not None:
            session.reader.cancel()

    await asyncio.gather(*(one(s) for s in sessions))


@dataclass
class DriveResult:
    rate: float
    seconds: float
    offered: int
    turns: list[TurnRecord]
    skipped: int  # ticks where every session was still busy (the server fell behind)
    client_lag_ms: list[float]


async def drive(sessions: Sequence[Session], rate: float, seconds: float,
                drain_s: float = 15.0) -> DriveResult:
    """Start ``rate`` turns a second for ``seconds``, each on an idle session (round robin),
    then wait up to ``drain_s`` for the last ones to finish."""
    turns: list[TurnRecord] = []
    skipped = 0
    lag: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_measure_lag(lag, stop))
    start = time.monotonic()
    n = 0
    cursor = 0
    while True:
        due = start + n / rate
        if due - start >= seconds:
            break
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        n += 1
        for _ in range(len(sessions)):
            session = sessions[cursor % len(sessions)]
            cursor += 1
            if session.current is None:
                break
        else:
            skipped += 1
            continue
        record = TurnRecord(session.index, time.monotonic())
        session.current = record
        session.finished.clear()
        turns.append(record)
        text = PROMPTS[n % len(PROMPTS)]
        try:
            await session.socket.send(json.dumps({"type": "say", "text": text}))
        except Exception as error:  # a closed socket: count it, keep driving the rest
            record.error = f"send failed: {error}"
            session.current = None
    deadline = time.monotonic() + drain_s
    for session in sessions:
        if session.current is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(session.finished.wait(),
                                       max(0.01, deadline - time.monotonic()))
    stop.set()
    await ticker
    return DriveResult(rate, seconds, n, turns, skipped, lag)


async def _measure_lag(lag: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(0.01)
        lag.append((time.monotonic() - before - 0.01) * 1000)


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


@dataclass(frozen=True)
class Summary:
    rate: float
    offered: int
    completed: int
    failed: int
    skipped: int
    achieved_per_s: float
    first_added_p50_ms: float
    first_added_p99_ms: float
    gap_added_p50_ms: float
    gap_added_p99_ms: float
    client_lag_p99_ms: float
    errors: tuple[str, ...]


def summarize(result: DriveResult, first_token_s: float, interval_s: float) -> Summary:
    done = [t for t in result.turns if t.done is not None and not t.error and t.first_token]
    first = [((t.first_token or 0) - t.sent - first_token_s) * 1000 for t in done]
    gaps = [(b - a - interval_s) * 1000 for t in done
            for a, b in zip(t.tokens, t.tokens[1:], strict=False)]
    failed = [t for t in result.turns if t.error or t.done is None]
    span = (max((t.done or 0) for t in done) - min(t.sent for t in done)) if done else 0.0
    return Summary(
        rate=result.rate, offered=result.offered, completed=len(done), failed=len(failed),
        skipped=result.skipped, achieved_per_s=len(done) / span if span > 0 else 0.0,
        first_added_p50_ms=percentile(first, 0.5), first_added_p99_ms=percentile(first, 0.99),
        gap_added_p50_ms=percentile(gaps, 0.5), gap_added_p99_ms=percentile(gaps, 0.99),
        client_lag_p99_ms=percentile(result.client_lag_ms, 0.99),
        errors=tuple(sorted({t.error[:120] for t in failed if t.error}))[:5])


def as_dict(summary: Summary) -> dict[str, Any]:
    return {k: (round(v, 2) if isinstance(v, float) else v)
            for k, v in summary.__dict__.items()}
