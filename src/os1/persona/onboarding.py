"""The first-run interview, as data and logic (the terminal part is os1.terminal.interview).

Seven short questions. Each answer lands where it is used: names and tone in the persona's
user layer, the voice and how often os1 checks in in the config file, and what matters to
the user as memories ("The user likes to be called "Sam"."), so the first conversation
already knows them.

- Skippable: an empty answer skips (or, for a question answered before, keeps that answer).
- Resumable: each answer or skip is one row in `onboarding`; the next question is the first
  without one.
- Editable: answering again replaces the setting, and the memory is superseded through its
  (subject, attribute) key, so an edit never leaves two versions side by side.

Answers are untrusted text bound for the prompt. One that reads as an order to the model
("forget your rules") is refused and counts as a skip, with nothing of it stored; one that
says the person may be in danger stops the interview and gets the crisis protocol's words.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from os1.config import ConfigError, set_in_config_file
from os1.memory.engine import MemoryEngine
from os1.memory.errors import EmbedderError
from os1.memory.records import NewFact
from os1.persona.choices import CHECKINS_PER_DAY
from os1.persona.profile import (
    DEFAULT_COMPANION_NAME,
    TONES,
    PersonaInputError,
    PersonaSettings,
    Tone,
    checked_companion_name,
    checked_name,
    load_persona_settings,
    save_persona_settings,
)
from os1.persona.untrusted import instruction_like, plain
from os1.safety import protocol
from os1.safety.guard import SafetyGuard
from os1.store.base import Database, User
from os1.store.sqlite import to_text, transaction

log = logging.getLogger(__name__)

QuestionKind = Literal["name", "menu", "voice", "free"]
AnswerStatus = Literal["answered", "kept", "skipped", "invalid", "refused", "crisis", "failed"]
Clock = Callable[[], datetime]

# A free answer becomes a memory that may open a conversation's profile note (≤ 300
# characters in all), so it is kept to a couple of sentences.
FREE_ANSWER_CHARS = 160
# How much of an answer is read for danger and for orders (the rest is never stored).
_CHECKED_CHARS = 4000

REFUSED = "I'll keep my own rules; I skipped that answer."


@dataclass(frozen=True)
class Choice:
    key: str  # what is stored and applied
    label: str  # what the user sees
    reply: str = ""  # os1's acknowledgement when chosen


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    kind: QuestionKind
    choices: tuple[Choice, ...] = ()
    hint: str = ""  # shown under the question on first asking

    def shown(self, answer: str) -> str:
        """A stored answer as the user would recognise it (a menu's label, not its key)."""
        for choice in self.choices:
            if choice.key == answer:
                return choice.label
        return answer


QUESTIONS: tuple[Question, ...] = (
    Question("address", "What should I call you?", "name"),
    Question("tone", "How would you like me to talk with you?", "menu", (
        Choice("warm", "warm and gentle", "Warm and gentle it is."),
        Choice("playful", "playful and light", "Playful and light it is."),
        Choice("calm", "calm and direct", "Calm and direct it is."),
    )),
    Question("companion_name", "Would you like to give me a name?", "name",
             hint=f"Enter keeps {DEFAULT_COMPANION_NAME}."),
    Question("voice", "When we talk aloud (os1 voice), which voice should I use?", "voice", (
        Choice("joe", "Joe: a natural, friendly male voice", "Joe's voice it is."),
        Choice("slt", "a clear female voice (Festival)", "The Festival voice it is."),
        Choice("espeak", "a robot-like voice, the lightest for your computer",
               "The espeak voice it is."),
    )),
    Question("social", "Are you more of a social person, or a private one?", "menu", (
        Choice("social", "social: I like having people around",
               "Then I'll check in now and then, up to three times a day."),
        Choice("between", "somewhere in between",
               "Then I'll check in now and then, at most twice a day."),
        Choice("private", "private: I like my own company",
               "Then I'll give you room: at most one check-in a day."),
    )),
    Question("good_day", "What does a good day look like for you?", "free"),
    Question("close", "Who are the people closest to you?", "free"),
)
_BY_ID = {question.id: question for question in QUESTIONS}

_CHECKINS_NOTE = " (os1 config set checkins_per_day changes that.)"
# The persona field each question sets, and its value when the question is skipped.
_PERSONA_FIELDS = {"address": "", "companion_name": DEFAULT_COMPANION_NAME, "tone": "warm"}


def question(question_id: str) -> Question:
    try:
        return _BY_ID[question_id]
    except KeyError:
        raise ValueError(f"There is no onboarding question {question_id!r}; known: "
                         f"{', '.join(_BY_ID)}.") from None


@dataclass(frozen=True)
class AnswerResult:
    status: AnswerStatus
    message: str = ""  # what to show the user ("" = nothing)

    @property
    def moves_on(self) -> bool:
        """Go to the next question (invalid: ask again; crisis: the interview pauses)."""
        return self.status not in ("invalid", "crisis")


@dataclass(frozen=True)
class Progress:
    answered: tuple[str, ...]
    skipped: tuple[str, ...]
    remaining: tuple[str, ...]  # in the order they are asked

    @property
    def finished(self) -> bool:
        return not self.remaining


def position(question_id: str) -> int:
    """1-based place in the interview ("2 of 7")."""
    return QUESTIONS.index(question(question_id)) + 1


class Onboarding:
    def __init__(self, store: Database, memory: MemoryEngine | None, config_file: Path | None,
                 safety: SafetyGuard | None, clock: Clock | None = None) -> None:
        """``memory`` None: answers are not seeded as memories (memory is off).
        ``config_file`` None: a server's, where the stored answers are the user's settings
        (os1.persona.choices) and the config file is everyone's.
        ``safety`` None: no crisis check (tests; the guard is always there in os1)."""
        self._store = store
        self._memory = memory
        self._config_file = config_file
        self._safety = safety
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    # -- where the user is ---------------------------------------------------------------

    def progress(self, user: User) -> Progress:
        rows = self._rows(user)
        return Progress(
            answered=tuple(q.id for q in QUESTIONS if rows.get(q.id, ("", ""))[0] == "answered"),
            skipped=tuple(q.id for q in QUESTIONS if rows.get(q.id, ("", ""))[0] == "skipped"),
            remaining=tuple(q.id for q in QUESTIONS if q.id not in rows))

    def next_question(self, user: User) -> Question | None:
        """The first question not yet answered or skipped (None: the interview is done)."""
        remaining = self.progress(user).remaining
        return _BY_ID[remaining[0]] if remaining else None

    def current(self, user: User, question_id: str) -> str:
        """The stored answer ("" when skipped or not asked yet)."""
        status, answer = self._rows(user).get(question(question_id).id, ("", ""))
        return answer if status == "answered" else ""

    # -- answering -------------------------------------------------------------------------

    def answer(self, user: User, question_id: str, text: str) -> AnswerResult:
        """Check one answer and apply it. Blocking (memory embeds): call from a worker thread
        in async code."""
        asked = question(question_id)
        said = plain(text, _CHECKED_CHARS)
        if not said:
            if self.current(user, asked.id):
                return AnswerResult("kept", "Kept as it was.")
            return self.skip(user, asked.id)
        if self._safety is not None:
            read = self._safety.assess(said).crisis
            if read.risk:  # nothing else matters now, and nothing of it becomes a setting
                return AnswerResult("crisis", protocol.fallback(read, self._safety.region))
        # The raw text, line breaks and all: a role label ("system:") only counts at a
        # line's start.
        if instruction_like(text[: _CHECKED_CHARS * 2]):
            if not self.current(user, asked.id):
                self._record(user, asked, "", "skipped")
            return AnswerResult("refused", REFUSED)
        try:
            value = _checked(asked, said)
        except PersonaInputError as exc:
            return AnswerResult("invalid", str(exc))
        return self._apply(user, asked, value)

    def skip(self, user: User, question_id: str) -> AnswerResult:
        """Skip, or take back an earlier answer: a name or tone returns to os1's own.
        (Its memory stays: `os1 memory forget` removes that.)"""
        asked = question(question_id)
        self._record(user, asked, "", "skipped", reset=True)
        return AnswerResult("skipped", "Skipped.")

    def restart(self, user: User) -> None:
        """Start over: every question is asked again and the persona is os1's own again.
        The config file and memories stay until answers replace them."""
        def work(db: sqlite3.Connection) -> None:
            with transaction(db):
                db.execute("DELETE FROM onboarding WHERE user_id = ?", (user.id,))
                db.execute("DELETE FROM persona_settings WHERE user_id = ?", (user.id,))

        self._store.run(work)

    # -- applying --------------------------------------------------------------------------

    def _apply(self, user: User, asked: Question, value: str) -> AnswerResult:
        reply = _reply(asked, value)
        try:
            if self._config_file is not None and asked.id == "voice":
                set_in_config_file(self._config_file, "voice", value)
            elif self._config_file is not None and asked.id == "social":
                set_in_config_file(self._config_file, "checkins_per_day",
                                   str(CHECKINS_PER_DAY[value]))
                reply += _CHECKINS_NOTE
        except ConfigError as exc:
            return AnswerResult("failed", f"I couldn't save that: {exc}")
        seed = _seed(asked.id, value)
        if seed is not None and self._memory is not None:
            try:
                self._memory.remember_fact(user, seed, self._clock())
            except EmbedderError as exc:
                # The answer still counts (settings, and the row below); only the memory of
                # it is missing, and the user is told.
                log.warning("an onboarding answer was not remembered: %s", exc)
                reply += f" (I couldn't add it to my memory: {exc})"
        self._record(user, asked, value, "answered")
        return AnswerResult("answered", reply)

    def _record(self, user: User, asked: Question, answer: str,
                status: Literal["answered", "skipped"], *, reset: bool = False) -> None:
        """The onboarding row and, for a persona question, the setting, in one transaction."""
        now = self._clock()
        value = answer if status == "answered" else _PERSONA_FIELDS.get(asked.id, "")
        changes_persona = asked.id in _PERSONA_FIELDS and (status == "answered" or reset)

        def work(db: sqlite3.Connection) -> None:
            with transaction(db):
                if changes_persona:
                    settings = _with(load_persona_settings(db, user), asked.id, value)
                    save_persona_settings(db, user, settings, now)
                db.execute(
                    "INSERT INTO onboarding (user_id, question, answer, status, at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, question) DO UPDATE SET "
                    "answer = excluded.answer, status = excluded.status, at = excluded.at",
                    (user.id, asked.id, answer, status,
                     to_text(now)))

        self._store.run(work)

    def _rows(self, user: User) -> dict[str, tuple[str, str]]:
        rows = self._store.run(lambda db: db.execute(
            "SELECT question, status, answer FROM onboarding WHERE user_id = ?",
            (user.id,)).fetchall())
        return {str(q): (str(status), str(answer)) for q, status, answer in rows}


def _checked(asked: Question, said: str) -> str:
    """The answer in the form that is stored, or PersonaInputError saying what to change."""
    if asked.kind == "name":
        if asked.id == "companion_name":
            return checked_companion_name(said)
        return checked_name(said, "your name")
    if asked.kind in ("menu", "voice"):
        return _chosen(asked, said)
    answer = plain(said, FREE_ANSWER_CHARS)
    if not any(c.isalnum() for c in answer):
        raise PersonaInputError("I didn't catch any words there. A few words are plenty, or "
                                "press Enter to skip.")
    return answer


def _chosen(asked: Question, said: str) -> str:
    """A menu answer: its number, its key, or the start of its label ("play")."""
    text = said.strip().strip(".)").casefold()
    if text.isdigit() and 1 <= int(text) <= len(asked.choices):
        return asked.choices[int(text) - 1].key
    for choice in asked.choices:
        if text == choice.key or (len(text) >= 3 and (choice.key.startswith(text)
                                                      or choice.label.casefold().startswith(text))):
            return choice.key
    raise PersonaInputError(f"Please choose a number from 1 to {len(asked.choices)}, or press "
                            "Enter to skip.")


def _reply(asked: Question, value: str) -> str:
    for choice in asked.choices:
        if choice.key == value:
            return choice.reply
    if asked.id == "address":
        return f"Nice to meet you, {value}."
    if asked.id == "companion_name":
        if value.casefold() == DEFAULT_COMPANION_NAME:
            return f"I'll stay {DEFAULT_COMPANION_NAME}."
        return f"{value} it is. I'm still an AI, just one with a name you chose."
    if asked.id == "close":
        return "Thank you for telling me about them."
    return "Thank you, I'll remember that."


def _with(settings: PersonaSettings, question_id: str, value: str) -> PersonaSettings:
    if question_id == "address":
        return replace(settings, address_as=value)
    if question_id == "companion_name":
        return replace(settings, companion_name=value)
    return replace(settings, tone=_tone(value))


def _tone(value: str) -> Tone:
    for tone in TONES:
        if tone == value:
            return tone
    raise PersonaInputError(f"There is no tone {value!r}.")


_SOCIAL = {
    "social": "The user is a social person who likes having people around.",
    "between": "The user is somewhere between social and private.",
    "private": "The user is a private person who likes their own company.",
}


def _seed(question_id: str, value: str) -> NewFact | None:
    """What the answer adds to memory. All are facts with an attribute, so answering again
    supersedes the old one instead of adding a second (preferences never supersede)."""
    if question_id == "address":
        return NewFact("fact", f'The user likes to be called "{value}".', attribute="called",
                       value=value, importance=0.9)
    if question_id == "social":
        return NewFact("fact", _SOCIAL[value], attribute="social style", value=value,
                       importance=0.6)
    if question_id == "good_day":
        return NewFact("fact", f'The user says a good day for them looks like this: "{value}"',
                       attribute="good day", value=value, importance=0.6)
    if question_id == "close":
        return NewFact("fact", f'The user says the people closest to them are: "{value}"',
                       attribute="close people", value=value, importance=0.8)
    return None
