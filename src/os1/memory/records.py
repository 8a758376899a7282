"""What os1 remembers, as typed records.

- ``episode``: one turn, verbatim, with its time and speaker (the raw material of recall).
- ``fact``: something true about the user or someone in their life ("Maria is the user's sister").
- ``preference``: what the user likes or dislikes ("hates mornings").
- ``event``: something that happened or will happen, with a date when one was said.
- ``self``: the companion's own memories of itself.

Derived records (all but episodes) list the turns they came from in ``sources``. A fact that is
contradicted later is not deleted: it gets ``valid_to`` and ``superseded_by`` and stays as history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

MemoryKind = Literal["episode", "fact", "preference", "event", "self"]
MEMORY_KINDS: tuple[MemoryKind, ...] = get_args(MemoryKind)


@dataclass(frozen=True)
class Memory:
    id: int
    kind: MemoryKind
    text: str
    created_at: datetime
    subject: str = ""  # who it is about: "user", "companion", or a person's name
    relation: str = ""  # that person's relation to the user ("sister")
    attribute: str = ""  # what about them ("name", "lives_in"): with subject, the merge key
    value: str = ""
    speaker: str = ""  # episodes: who said it
    importance: float = 0.5
    mentions: int = 1
    occurred_at: datetime | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    superseded_by: int | None = None
    conversation_id: int | None = None
    turn_id: int | None = None
    sources: tuple[int, ...] = ()

    @property
    def current(self) -> bool:
        return self.superseded_by is None and self.valid_to is None

    def as_json(self) -> dict[str, Any]:
        """The fields that are set, times in ISO 8601 (for export and `--json`)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if value in ("", None, ()):
                continue
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[key] = value
        return out


@dataclass(frozen=True)
class NewFact:
    """A derived record before it is stored (from extraction, onboarding or an edit)."""

    kind: MemoryKind
    text: str
    subject: str = "user"
    relation: str = ""
    attribute: str = ""
    value: str = ""
    importance: float = 0.5
    occurred_at: datetime | None = None
    sources: tuple[int, ...] = ()


@dataclass(frozen=True)
class Recalled:
    """One search hit: the memory, why it ranked, and the turns around it (for episodes)."""

    memory: Memory
    score: float
    context: tuple[Memory, ...] = field(default_factory=tuple)
    similarity: float | None = None  # cosine with the query: an absolute "how related"


FactOutcome = Literal["added", "merged", "superseded"]


@dataclass(frozen=True)
class FactWrite:
    outcome: FactOutcome
    memory: Memory
    replaced: Memory | None = None
