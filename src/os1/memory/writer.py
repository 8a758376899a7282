"""Background memory work, off the reply's critical path.

- Right after a turn is stored: embed it and store it as an episode (a worker thread, in order).
- When the conversation has been quiet for ``idle_s``: extract facts from the waiting exchanges
  with the chat model. Extraction jobs are rows in the database, so a restart loses none, and a
  new turn never waits for more than the one extraction already running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from os1.llm.base import ChatModel, ModelError
from os1.memory.engine import MemoryEngine
from os1.memory.extract import Exchange, extract_facts
from os1.memory.records import FactWrite
from os1.store.base import Turn, User

log = logging.getLogger(__name__)

_MAX_ATTEMPTS = 5  # quiet moments with the model unavailable before a job is dropped


@dataclass(frozen=True)
class Speakers:
    user: str
    companion: str


class MemoryWriter:
    def __init__(
        self,
        engine: MemoryEngine,
        model: ChatModel,
        companion_name: str,
        clock: Callable[[], datetime],
        *,
        idle_s: float = 20.0,
        extract: bool = True,
    ) -> None:
        self.engine = engine
        self._model = model
        self.companion_name = companion_name
        self._clock = clock
        self._idle_s = idle_s
        self._extract = extract
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="os1-memory")
        self._pending: list[Future[None]] = []
        self._idle_task: asyncio.Task[None] | None = None
        self._busy = 0
        # Other background work that needs the chat model and a quiet moment (reflection):
        # run after extraction, cancelled the same way when the user starts a turn.
        self._quiet_work: list[Callable[[User], Awaitable[object]]] = []

    def speaker_of(self, user: User, turn: Turn) -> str:
        """Who said ``turn``, as its episode names them (the user's name or the companion's)."""
        speakers = self.speakers(user)
        return speakers.user if turn.role == "user" else speakers.companion

    def speakers(self, user: User) -> Speakers:
        """Who said what, by name: the user's own name (a server holds many users), and the
        companion's."""
        return Speakers(user=user.name, companion=self.companion_name)

    def when_quiet(self, work: Callable[[User], Awaitable[object]]) -> None:
        """Also run ``work`` in each quiet moment, after fact extraction."""
        self._quiet_work.append(work)

    # -- called by the companion ------------------------------------------------------

    def turn_stored(self, user: User, turn: Turn) -> None:
        """Queue the turn's episode write (any thread; returns at once)."""
        future = self._executor.submit(self._write_episode, user, turn,
                                       self.speaker_of(user, turn))
        self._pending = [f for f in self._pending if not f.done()] + [future]

    def _write_episode(self, user: User, turn: Turn, speaker: str) -> None:
        try:
            self.engine.remember_turn(user, turn, speaker, extract=self._extract)
        except Exception:  # never take the conversation down; the turn itself is stored
            log.exception("could not store turn %s as a memory", turn.id)

    def turn_started(self) -> None:
        self._busy += 1
        if self._idle_task is not None:
            self._idle_task.cancel()
            self._idle_task = None

    def turn_finished(self, user: User) -> None:
        self._busy = max(0, self._busy - 1)
        if (self._extract or self._quiet_work) and self._busy == 0:
            self._idle_task = asyncio.get_running_loop().create_task(self._when_idle(user))

    async def _when_idle(self, user: User) -> None:
        await asyncio.sleep(self._idle_s)
        try:
            if self._extract:
                await self.extract_pending(user)
        except asyncio.CancelledError:
            raise
        except Exception:  # background work: log it, never take the chat down
            log.exception("memory extraction failed; the waiting turns stay queued")
        for work in self._quiet_work:
            try:
                await work(user)
            except asyncio.CancelledError:
                raise
            except ModelError as error:  # the model is away: the next quiet moment retries
                log.warning("background work paused: %s", error)
            except Exception:
                log.exception("background work failed; it is tried again when next quiet")

    # -- work ------------------------------------------------------------------------------

    async def settle(self) -> None:
        """Wait until every queued episode write is done."""
        pending, self._pending = self._pending, []
        for future in pending:
            await asyncio.wrap_future(future)

    async def extract_pending(self, user: User, limit: int = 16) -> list[FactWrite]:
        """Extract facts from waiting exchanges now, one exchange at a time; stops early when
        a turn starts (the companion cancels the idle task)."""
        await self.settle()
        written: list[FactWrite] = []
        jobs = await asyncio.to_thread(self.engine.store.pending_extractions, user, limit)
        speakers = self.speakers(user)
        for exchange in _exchanges(jobs, speakers):
            try:
                facts = await extract_facts(self._model, exchange, self._clock(),
                                            speakers.user)
            except ModelError as error:
                # The model is unavailable: keep the jobs for a later quiet moment.
                await asyncio.to_thread(self.engine.store.fail_extraction, user,
                                        exchange.turn_ids, _MAX_ATTEMPTS)
                log.warning("memory extraction paused: %s", error)
                break
            if facts is None:
                await asyncio.to_thread(self.engine.store.finish_extraction, user,
                                        exchange.turn_ids)
                log.warning("gave up extracting facts from turns %s; the turns themselves are "
                            "remembered", exchange.turn_ids)
                continue
            written.extend(await asyncio.to_thread(
                self.engine.remember_extracted, user, facts, exchange.turn_ids, self._clock()))
        return written

    async def aclose(self) -> None:
        if self._idle_task is not None:
            self._idle_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._idle_task
        await self.settle()
        self._executor.shutdown(wait=True)
        await asyncio.to_thread(self.engine.close)


def _exchanges(jobs: list[tuple[int, str, str]], speakers: Speakers) -> list[Exchange]:
    """Group waiting turns into exchanges: a user message with the reply that followed it."""
    out: list[Exchange] = []
    ids: list[int] = []
    lines: list[str] = []
    for turn_id, role, text in jobs:
        if role == "user" and ids:
            out.append(Exchange(tuple(ids), tuple(lines)))
            ids, lines = [], []
        label = "User" if role == "user" else "Companion"
        ids.append(turn_id)
        lines.append(f"{label}: {text}")
    if ids:
        out.append(Exchange(tuple(ids), tuple(lines)))
    return out
