"""The events a turn yields. Interfaces render these; they hold no companion logic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Token:
    """A piece of the reply as the model writes it."""

    text: str


@dataclass(frozen=True)
class Sentence:
    """A whole sentence of the reply, for speech and for interfaces that show sentences."""

    text: str


NoticeKind = Literal["input_truncated", "input_cleaned", "not_saved", "saved_late"]


@dataclass(frozen=True)
class Notice:
    """Something the user should know that does not stop the turn."""

    kind: NoticeKind
    text: str


ErrorKind = Literal["empty_input", "model", "storage"]


@dataclass(frozen=True)
class TurnError:
    """The turn could not produce a reply. The user's words are kept (see `kept`)."""

    kind: ErrorKind
    message: str
    kept: bool


@dataclass(frozen=True)
class TurnStats:
    first_token_s: float | None
    total_s: float
    reply_tokens: int
    # Why the safety guard replaced the model's words ("" when it did not): for benchmarks
    # and logs, never shown as a judgement to the user.
    replaced: str = ""
    model_reply: str = ""  # the model's own words, before any replacement or addition


@dataclass(frozen=True)
class Done:
    """The turn is over: the reply as stored. (A cut-short turn ends with no Done: its
    consumer was cancelled, and the reply is stored as interrupted.)"""

    reply: str
    stats: TurnStats


@dataclass(frozen=True)
class MemoryUsed:
    """A memory recalled into this turn's prompt (before the first Token)."""

    id: int
    kind: str
    text: str


@dataclass(frozen=True)
class AffectRead:
    """How the user seems to feel this turn and how os1 means to answer (before the first
    Token). Interfaces may show it; the voice uses it for prosody."""

    emotions: tuple[str, ...]  # GoEmotions labels, most likely first; () when not read
    valence: float  # −1 unpleasant … 1 pleasant
    arousal: float  # 0 calm … 1 activated
    confidence: float  # 0 … 1
    strategy: str  # the ESConv support strategy chosen
    unknown: str = ""  # why nothing was read ("not English", "no words"), else ""
    trend: str = ""  # e.g. "three low days in a row"


ActionStatus = Literal["done", "proposed", "declined", "failed", "clarify"]


@dataclass(frozen=True)
class ActionTaken:
    """The turn was a request for an action (before the first Token): what became of it.
    The reply's words say it; ``detail`` is anything longer (a list, a draft), to show and
    not to speak."""

    action: str  # "remind.add"; "" for a clarifying question about no action yet
    status: ActionStatus
    detail: str = ""


@dataclass(frozen=True)
class ActionProgress:
    """An action is under way ("Sorting 3 of 12…"): shown while the user waits."""

    text: str


Event = (Token | Sentence | Notice | TurnError | Done | MemoryUsed | AffectRead | ActionTaken
         | ActionProgress)
