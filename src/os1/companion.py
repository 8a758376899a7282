"""The turn loop: one path from the user's words to a streamed, remembered reply.

    clean input ─► compose the prompt ─► stream the model ─► sentences ─► remember

`Companion.turn` yields events (`os1.events`); every interface renders those and holds
no companion logic of its own. Cancelling the task that consumes a turn (Ctrl-C, a
barge-in) stops the model and stores what had been said, marked as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from os1.affect.engine import AffectEngine, Audio, TurnAffect
from os1.affect.errors import AffectError
from os1.config import Settings
from os1.events import (
    ActionProgress,
    ActionTaken,
    AffectRead,
    Done,
    Event,
    MemoryUsed,
    Notice,
    Sentence,
    Token,
    TurnError,
    TurnStats,
)
from os1.inputs import clean_input
from os1.llm.base import ChatMessage, ChatModel, GenerationOptions, ModelError
from os1.llm.prompt import HistoryBound, PromptTurn, build_messages
from os1.memory.notes import MemoryNote, NoteBudget, compose_note
from os1.memory.writer import MemoryWriter
from os1.persona.book import FixedPersona, Persona, PersonaSource
from os1.safety.crisis import CrisisRead
from os1.safety.disclosure import UseClock
from os1.safety.guard import Assessment, SafetyGuard, TurnGuard
from os1.safety.wellbeing import NOTE as WELLBEING_NOTE
from os1.sentences import SentenceSplitter
from os1.skills.conversation import ActionReply, Skills, SkillState
from os1.store.base import Conversation, NewTurn, StorageError, Store, Turn, User

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


@dataclass
class _Session:
    """One user's open conversation, kept in memory so a failing disk never loses a turn."""

    user: User
    conversation: Conversation
    turns: list[PromptTurn]
    persona: Persona  # read once per session (see persona/book.py)
    unsaved: list[NewTurn] = field(default_factory=list)
    last_strategy: str | None = None  # the support strategy of the previous reply
    use: UseClock = field(default_factory=UseClock)  # disclosure and break reminders
    wellbeing_checked: str = ""  # the local day use patterns were last looked at
    skills: SkillState = field(default_factory=SkillState)  # a proposal or question pending


class Delivery(Protocol):
    """How a reply reaches the user, when that is more than printing it (a voice speaking
    it). What the user actually received is what the conversation keeps."""

    async def delivered(self) -> None:
        """The model has finished writing: return once the user has received all of it, or
        once it was cut off (the user spoke over it)."""

    def received(self, written: str) -> tuple[str, bool]:
        """What of ``written`` reached the user, and whether that was all of it."""
        ...


@dataclass(frozen=True)
class _Draft:
    """A prompt `prepare` had the model read: reused if the turn then says exactly this."""

    begun: int  # turns begun for the user when it was drafted
    text: str
    note: str
    used: tuple[MemoryUsed, ...]
    assessment: Assessment


_Begun = tuple[_Session, list[ChatMessage], list[Notice | MemoryUsed | AffectRead], TurnGuard]


class Companion:
    def __init__(
        self,
        model: ChatModel,
        store: Store,
        settings: Settings,
        persona: str | PersonaSource,
        clock: Clock | None = None,
        memory: MemoryWriter | None = None,
        affect: AffectEngine | None = None,
        safety: SafetyGuard | None = None,
        skills: Skills | None = None,
    ) -> None:
        self.model = model
        self.skills = skills
        self.memory = memory
        self.affect = affect
        # None only in plumbing tests: `app.open_companion` always gives one.
        self.safety = safety
        # Crisis reads wait here for their turn to reach the database, for the safety log.
        self._crises: dict[NewTurn, CrisisRead] = {}
        # Mood readings wait here for their turn to reach the database (it may be locked).
        self._moods: dict[NewTurn, TurnAffect] = {}
        # user id → the last `prepare`d draft, and turns begun per user (a draft finished
        # after its turn began must not be used for a later one)
        self._drafts: dict[int, _Draft] = {}
        self._begun: dict[int, int] = {}
        self.store = store
        self._settings = settings
        if isinstance(persona, str):  # one persona for everyone, adapted to the region
            persona = FixedPersona(safety.persona(persona) if safety is not None else persona)
        self.personas: PersonaSource = persona
        self._clock: Clock = clock or (lambda: datetime.now().astimezone())
        self._sessions: dict[int, _Session] = {}
        # Each user's last shielded `_begin`: it may outlive a cancelled turn, and that user's
        # next turn (or closing) must wait for it so turns are stored in order. Per user: one
        # user's turn never waits for another's prompt to be composed (a server's many users).
        self._beginning: dict[int, asyncio.Future[_Begun]] = {}
        self._bound = HistoryBound(settings.history_turns, settings.history_chars)
        self._options = GenerationOptions(
            max_tokens=settings.max_reply_tokens,
            temperature=settings.temperature,
            seed=None if settings.seed < 0 else settings.seed,
        )

    def now(self) -> datetime:
        return self._clock()

    async def warm(self, user: User | None = None) -> None:
        """Get the model ready for this user's persona (slow only the first time ever)."""
        persona = await asyncio.to_thread(self.personas.persona, user)
        shared = await asyncio.to_thread(self.personas.persona, None)
        await self.model.warm(persona.text, shared.text)
        if self.memory is not None:  # load the embedder now, not in the first turn
            await asyncio.to_thread(self.memory.engine.embed_query, "warm")
        if self.safety is not None:
            await asyncio.to_thread(self.safety.warm)
        if self.affect is not None:
            affect = self.affect
            try:
                await asyncio.to_thread(lambda: affect.reader.read("warm"))
            except AffectError as exc:  # the chat goes on; each turn then reads no emotion
                log.error("emotion reading is unavailable: %s", exc)

    # -- conversations --------------------------------------------------------------

    def _session(self, user: User) -> _Session:
        session = self._sessions.get(user.id)
        if session is None:
            conversation = self.store.current_conversation(user)
            stored = self.store.turns(user, conversation.id)
            turns = [PromptTurn(t.role, t.content, t.context) for t in stored]
            session = _Session(user, conversation, turns, self.personas.persona(user))
            self._sessions[user.id] = session
        return session

    async def history(self, user: User) -> Sequence[PromptTurn]:
        """The open conversation's turns, oldest first (to show where we left off)."""
        return tuple((await asyncio.to_thread(self._session, user)).turns)

    async def persona(self, user: User) -> Persona:
        """The persona of the user's open session (its name labels os1's lines)."""
        return (await asyncio.to_thread(self._session, user)).persona

    async def greet(self, user: User) -> str:
        """The session's opening, in which os1 says it is an AI: an interface shows it before
        the first message. Without a greeting, the first reply opens with it instead."""
        if self.safety is None:
            return ""
        session = await asyncio.to_thread(self._session, user)
        now = self._clock()
        session.use.touch(now)
        return session.use.disclosure(now, session.persona.name)

    async def new_conversation(self, user: User) -> None:
        """Start afresh; the old conversation stays stored. The persona is read again (a new
        name or what the companion has learned since applies from here)."""
        conversation = await asyncio.to_thread(self.store.new_conversation, user)
        persona = await asyncio.to_thread(self.personas.persona, user)
        old = self._sessions.get(user.id)
        # Turns still waiting for the database keep their own conversation: carry them over.
        self._sessions[user.id] = _Session(user, conversation, [], persona,
                                           old.unsaved if old else [])

    def forget_session(self, user: User, *, erased: bool = False) -> None:
        """Drop the copy of the user's open conversation kept here, so the next turn reads it
        again from the store: after a forget (a memory, the mood notes) the copy must not keep
        what was forgotten. Not while turns wait for the database: they live only in that
        copy, and a forget must not lose what the user said since — unless the user was
        ``erased``: then nothing of theirs may stay, written or not."""
        session = self._sessions.get(user.id)
        if session is not None and (erased or not session.unsaved):
            del self._sessions[user.id]
        self._drafts.pop(user.id, None)  # a drafted prompt holds recalled memories too

    # -- the turn --------------------------------------------------------------------

    async def turn(self, user: User, text: str | bytes, audio: Audio | None = None,
                   delivery: Delivery | None = None) -> AsyncIterator[Event]:
        """One exchange. ``audio`` is the utterance's sound when the words were spoken;
        ``delivery``, when given, decides what of the reply is stored (what was heard)."""
        started = time.monotonic()
        cleaned = clean_input(text, self._settings.max_input_chars)
        if not cleaned.text:
            yield TurnError("empty_input", "There is nothing to send: the message is empty.",
                            kept=False)
            return
        if cleaned.truncated_from is not None:
            yield Notice(
                "input_truncated",
                f"Your message was {cleaned.truncated_from:,} characters long; os1 read the "
                f"first {len(cleaned.text):,}.",
            )
        if cleaned.removed_controls:
            yield Notice("input_cleaned",
                         f"Removed {cleaned.removed_controls} invisible control character(s).")

        if self.memory is not None:
            self.memory.turn_started()
        try:
            async for event in self._turn(user, cleaned.text, started, audio, delivery):
                yield event
        finally:
            if self.memory is not None:
                self.memory.turn_finished(user)

    async def _turn(self, user: User, text: str, started: float, audio: Audio | None,
                    delivery: Delivery | None) -> AsyncIterator[Event]:
        # Shielded: once the user pressed Enter, their words are stored even if they
        # press Ctrl-C a moment later.
        await self._settle(user)
        beginning = self._beginning[user.id] = asyncio.ensure_future(
            asyncio.to_thread(self._begin, user, text, self._clock(), audio)
        )
        # Gone once done: a server keeps none for each user who ever spoke (nor their prompt).
        beginning.add_done_callback(
            lambda done: self._beginning.pop(user.id) if self._beginning.get(user.id) is done
            else None)
        try:
            session, messages, notices, guard = await asyncio.shield(beginning)
        except StorageError as exc:
            yield TurnError("storage", str(exc), kept=False)
            return
        for notice in notices:
            yield notice

        pieces: list[str] = []  # what os1 has said so far, as it reached the user
        splitter = SentenceSplitter()

        def say(text: str) -> list[Event]:
            pieces.append(text)
            return [Token(text), *(Sentence(s) for s in splitter.feed(text))]

        first_token_at: float | None = None
        finished = False
        written: list[str] = []  # the model's words
        replaced = ""
        try:
            if guard.opening:  # said while the model reads the prompt
                for event in say(guard.opening + " "):
                    yield event
            acted = None
            async for step in self._act(session, text, guard):
                if isinstance(step, ActionProgress):
                    yield step
                else:
                    acted = step
            if acted is not None:
                yield ActionTaken(acted.action, acted.status, acted.detail)
                for event in say(acted.text):
                    yield event
                if acted.detail:  # shown and kept in the conversation, not spoken
                    pieces.append("\n\n" + acted.detail)
            else:
                async for piece in self.model.stream(messages, self._options):
                    if first_token_at is None:
                        first_token_at = time.monotonic()
                    written.append(piece)
                    if not guard.assessment.hold:
                        for event in say(piece):
                            yield event
                model_reply = "".join(written)
                outcome = guard.finish(model_reply)
                replaced = outcome.replaced
                # A held reply is shown once checked; os1 speaks itself if the model said nothing.
                if guard.assessment.hold or outcome.reply != model_reply:
                    for event in say(outcome.reply):
                        yield event
                if outcome.added:
                    for event in say(" " + outcome.added):
                        yield event
            finished = True
            if delivery is not None:
                await delivery.delivered()
        except ModelError as exc:
            rescue = guard.failed()
            if rescue:  # a crisis is answered even when the model is down
                for event in say(rescue):
                    yield event
            yield TurnError("model", str(exc), kept=True)
        finally:
            # Runs on success, on a model error and on cancellation alike: whatever was said
            # is part of the conversation. Synchronous on purpose: awaiting in a cancelled
            # task invites a second cancellation; the write is one local INSERT.
            reply = "".join(pieces).strip()
            if delivery is not None:  # only what was heard: a cut-off voice kept less
                reply, whole = delivery.received(reply)
                finished = finished and whole
            if reply:
                session.turns.append(PromptTurn("assistant", reply))
                self._remember(session, NewTurn(
                    session.conversation.id, "assistant", reply, "",
                    "complete" if finished else "interrupted", self._clock(),
                ))
        if not finished:
            return
        # While the user reads and types, let the model read what the next prompt will
        # surely start with: everything up to the next user message's first word.
        self.model.anticipate(
            build_messages(session.persona.text, session.turns, PromptTurn("user", ""), self._bound)
        )
        rest = splitter.flush()
        if rest:
            yield Sentence(rest)
        stats = TurnStats(
            first_token_s=None if first_token_at is None else first_token_at - started,
            total_s=time.monotonic() - started,
            reply_tokens=len(written),
            replaced=replaced,
            model_reply="".join(written).strip(),
        )
        yield Done(reply=reply, stats=stats)

    async def _act(self, session: _Session, text: str,
                   guard: TurnGuard) -> AsyncIterator[ActionProgress | ActionReply]:
        """The reply when the words ask for an action (see skills/conversation.py), after
        its progress while it runs (sorting an inbox takes minutes). Nothing in a crisis:
        then only the protocol answers. Cancelling the turn cancels the action."""
        if self.skills is None or guard.assessment.crisis.risk:
            return
        loop = asyncio.get_running_loop()
        said: asyncio.Queue[str] = asyncio.Queue()

        def progress(line: str) -> None:  # actions may report from a worker thread
            loop.call_soon_threadsafe(said.put_nowait, line)

        work = asyncio.ensure_future(self.skills.respond(
            session.user, session.skills, text, self._clock(), progress))
        try:
            while not work.done():
                line = asyncio.ensure_future(said.get())
                await asyncio.wait({work, line}, return_when=asyncio.FIRST_COMPLETED)
                if line.done():
                    yield ActionProgress(line.result())
                else:
                    line.cancel()
            reply = work.result()
        finally:
            work.cancel()
        if reply is not None:
            yield reply

    async def prepare(self, user: User, text: str) -> None:
        """Let the model read a turn that is probably coming, before it is said to be over:
        the voice session calls this with the transcript so far when the user pauses. Nothing
        is stored; if the words then change, the model simply reads the difference."""
        session = self._sessions.get(user.id)
        cleaned = clean_input(text, self._settings.max_input_chars).text
        if session is None or not cleaned:  # the session loads in `history()` first
            return
        begun = self._begun.get(user.id, 0)
        messages = await asyncio.to_thread(self._draft, session, cleaned, self._clock(), begun)
        if messages is not None and self._begun.get(user.id, 0) == begun:
            self.model.anticipate(messages)

    def _draft(self, session: _Session, text: str, now: datetime,
               begun: int) -> list[ChatMessage] | None:
        """The prompt this text would get now, with the same note, changing nothing but
        `_drafts`: if the turn then says exactly this, it reuses this note (the voice can
        shift the strategy a little; a different note would make the model read it all
        again, seconds of waiting)."""
        assessment = self._assess(text)
        note, used = self._memory_note(session, text, now)
        note = _joined(assessment.note, note, self._read_affect(session, text, now, None))
        if self._begun.get(session.user.id, 0) != begun:
            return None  # a turn began meanwhile: this guess is stale
        self._drafts[session.user.id] = _Draft(begun, text, note, tuple(used), assessment)
        return build_messages(session.persona.text, session.turns, PromptTurn("user", text, note),
                              self._bound)

    async def reach_out(self, user: User, text: str) -> None:
        """os1 speaks first (a check-in): its words join the open conversation as a reply
        would, so the user's answer is read in their light."""
        def work() -> None:
            session = self._session(user)
            session.turns.append(PromptTurn("assistant", text))
            self._remember(session, NewTurn(session.conversation.id, "assistant", text, "",
                                            "complete", self._clock()))

        await self._settle(user)
        await asyncio.to_thread(work)

    # -- remembering -----------------------------------------------------------------

    def _begin(self, user: User, text: str, now: datetime, audio: Audio | None) -> _Begun:
        """Store the user's turn and compose the prompt (in a worker thread)."""
        session = self._session(user)
        begun = self._begun.get(user.id, 0)
        self._begun[user.id] = begun + 1
        notices: list[Notice | MemoryUsed | AffectRead] = [*self._save_unsaved(session)]
        # The note holds what memory and the affect engine add to this turn; it is stored with
        # the turn so the prompt's prefix stays cached later. (No time-of-day note: it made the
        # 1.5B model drop its persona, see docs/persona.md.)
        affect = self._read_affect(session, text, now, audio)
        drafted = self._drafts.pop(user.id, None)
        if drafted is not None and (drafted.begun, drafted.text) == (begun, text):
            # The prompt the model has already read (see `prepare`): recalled once, not twice.
            note, used, assessment = drafted.note, list(drafted.used), drafted.assessment
        else:
            assessment = self._assess(text)
            note, used = self._memory_note(session, text, now)
            note = _joined(assessment.note, note, affect)
        if not assessment.crisis.risk and self._wellbeing_due(session, now):
            note = "\n".join(part for part in (note, WELLBEING_NOTE) if part)
        guard = (self.safety.guard(assessment, session.use, now, text, session.persona.name)
                 if self.safety else TurnGuard(assessment, text))
        notices.extend(used)
        if affect is not None:
            notices.append(_affect_event(affect))
            session.last_strategy = affect.strategy.name
        current = PromptTurn("user", text, note)
        messages = build_messages(session.persona.text, session.turns, current, self._bound)
        session.turns.append(current)
        turn = NewTurn(session.conversation.id, "user", text, note, "complete", now)
        if affect is not None:
            self._moods[turn] = affect
        if assessment.crisis.risk:
            self._crises[turn] = assessment.crisis
        if not self._remember(session, turn):
            notices.append(Notice(
                "not_saved", "os1 could not save your message yet; it is kept in memory and "
                "will be saved as soon as the database is writable again."))
        return session, messages, notices, guard

    def _assess(self, text: str) -> Assessment:
        return self.safety.assess(text) if self.safety is not None else Assessment()

    def _wellbeing_due(self, session: _Session, now: datetime) -> bool:
        """Once a local day, look at how much this user leans on os1 (see safety/wellbeing)."""
        day = now.date().isoformat()
        if self.safety is None or session.wellbeing_checked == day:
            return False
        session.wellbeing_checked = day
        try:
            return self.safety.use_pattern(session.user, now).concerning
        except StorageError:
            return False

    def _read_affect(self, session: _Session, text: str, now: datetime,
                     audio: Audio | None) -> TurnAffect | None:
        if self.affect is None:
            return None
        replies = sum(1 for t in session.turns if t.role == "assistant")
        try:
            if session.last_strategy is None and replies:  # a resumed conversation
                session.last_strategy = self.affect.last_strategy(session.user)
            affect = self.affect.read_turn(
                session.user, text, previous=session.last_strategy, turn_index=replies,
                now=now, audio=audio)
        except AffectError as exc:  # a damaged model file: said once at warm-up, then quiet
            log.debug("no emotion reading: %s", exc)
            return None
        except Exception:  # reading the mood is a help, never a reason to lose the turn
            log.exception("emotion reading failed; this turn goes without it")
            return None
        return affect

    def _memory_note(self, session: _Session, text: str,
                     now: datetime) -> tuple[str, list[MemoryUsed]]:
        if self.memory is None:
            return "", []
        try:
            note = self._compose_note(session, text, now)
        except Exception:  # recall is a help, never a reason to lose the user's words
            log.exception("recall failed; this turn goes without memories")
            return "", []
        return note.text, [MemoryUsed(m.id, m.kind, m.text) for m in note.used]

    def _compose_note(self, session: _Session, text: str, now: datetime) -> MemoryNote:
        assert self.memory is not None
        settings, speakers = self._settings, self.memory.speakers(session.user)
        return compose_note(
            self.memory.engine, session.user, session.conversation.id, text,
            first_turn=not session.turns, now=now, user_label=speakers.user,
            companion_label=speakers.companion,
            budget=NoteBudget(settings.recall_count, settings.recall_chars,
                              settings.profile_chars, settings.recall_min_similarity))

    def _remember(self, session: _Session, turn: NewTurn) -> bool:
        """Write a turn; on failure keep it for the next try. True if it is on disk."""
        if session.unsaved:  # keep the order: older unsaved turns go first
            session.unsaved.append(turn)
            return False
        try:
            stored = self.store.add_turn(session.user, turn)
        except StorageError:
            session.unsaved.append(turn)
            return False
        self._stored(session, turn, stored)
        return True

    def _stored(self, session: _Session, turn: NewTurn, stored: Turn) -> None:
        """A turn reached the database: hand it to memory; file its safety log entry and mood
        reading."""
        if self.memory is not None:
            self.memory.turn_stored(session.user, stored)
        crisis = self._crises.pop(turn, None)
        if crisis is not None and self.safety is not None:
            try:
                self.safety.record(session.user, stored.id, turn.created_at, crisis)
            except StorageError:
                log.warning("the safety log entry of turn %d was not stored", stored.id)
        affect = self._moods.pop(turn, None)
        if affect is not None and self.affect is not None:
            try:
                self.affect.record(session.user, stored.id, turn.created_at, affect)
            except StorageError:
                log.warning("the mood reading of turn %d was not stored", stored.id)

    def _save_unsaved(self, session: _Session) -> list[Notice]:
        saved = 0
        while session.unsaved:
            try:
                stored = self.store.add_turn(session.user, session.unsaved[0])
            except StorageError:
                break
            self._stored(session, session.unsaved.pop(0), stored)
            saved += 1
        if saved:
            return [Notice("saved_late", f"Saved {saved} earlier message(s) that had waited.")]
        return []

    def unsaved_count(self, user: User) -> int:
        session = self._sessions.get(user.id)
        return len(session.unsaved) if session else 0

    async def _settle(self, user: User | None = None) -> None:
        """Wait for a turn's start that a cancellation left running in its thread: the
        user's, or (None) everyone's."""
        if user is None:
            waiting = list(self._beginning.values())
        else:
            waiting = [b] if (b := self._beginning.get(user.id)) is not None else []
        for beginning in waiting:
            with contextlib.suppress(Exception):
                await beginning

    async def flush(self) -> list[NewTurn]:
        """Try once more to write every waiting turn; return those still not on disk."""
        await self._settle()
        left: list[NewTurn] = []
        for session in self._sessions.values():
            if session.unsaved:
                await asyncio.to_thread(self._save_unsaved, session)
                left.extend(session.unsaved)
        return left


def _joined(safety: str, memory: str, affect: TurnAffect | None) -> str:
    """The turn's note: safety first (it overrides), then memory, then the affect engine's."""
    parts = (safety, memory, affect.note() if affect is not None else "")
    return "\n".join(part for part in parts if part)


def _affect_event(affect: TurnAffect) -> AffectRead:
    return AffectRead(affect.read.labels, round(affect.valence, 3), round(affect.arousal, 3),
                      affect.confidence, affect.strategy.name, affect.read.unknown,
                      affect.trend.describe())
