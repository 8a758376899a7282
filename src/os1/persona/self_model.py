"""The companion's self-model: who it is becoming with one user, in versions that can be undone.

A self-model is small on purpose: four traits (each a number kept near where it started), the
interests it has developed, what it is curious to ask, and a sentence on how it sees the
relationship. Every change is a new row in ``self_models``; nothing is edited in place, so
`os1 persona` can show the history and undo any step (an undo appends a copy of an older body).

Traits can grow, never flip: a reflection moves a trait by at most ``STEP``, and a trait never
leaves ``REACH`` of its starting value (which the user's chosen tone sets).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from os1.store.base import User
from os1.store.sqlite import from_text, to_text

TRAITS: tuple[str, ...] = ("playful", "curious", "direct", "open")
# What each trait means, said to the model when it has moved (see `learned_layer`).
_MORE = {
    "playful": "a little more playful and light with them",
    "curious": "a little more curious about their ideas",
    "direct": "a little more direct with them",
    "open": "a little more open about your own thoughts",
}
_LESS = {
    "playful": "a little quieter and less jokey with them",
    "curious": "a little less inquisitive, letting them lead",
    "direct": "a little gentler and less blunt with them",
    "open": "a little more reserved about yourself",
}
STEP = 0.05  # the most one reflection moves a trait
REACH = 0.25  # the furthest a trait moves from where it started
SHOWN_AT = 0.1  # a trait this far from its start is mentioned in the persona
MAX_INTERESTS = 5
MAX_CURIOUS = 2

# Starting traits per tone (the user's layer decides who the companion starts as).
START: Mapping[str, Mapping[str, float]] = {
    "warm": {"playful": 0.4, "curious": 0.5, "direct": 0.3, "open": 0.4},
    "playful": {"playful": 0.7, "curious": 0.5, "direct": 0.4, "open": 0.5},
    "calm": {"playful": 0.25, "curious": 0.45, "direct": 0.6, "open": 0.35},
}


@dataclass(frozen=True)
class SelfModel:
    start: Mapping[str, float]
    traits: Mapping[str, float]
    interests: tuple[str, ...] = ()
    curious_about: tuple[str, ...] = ()
    relationship: str = ""

    @staticmethod
    def initial(tone: str = "warm") -> SelfModel:
        start = dict(START.get(tone, START["warm"]))
        return SelfModel(start=start, traits=dict(start))

    def nudged(self, lean: Mapping[str, int]) -> SelfModel:
        """Move each trait one step in the direction asked (−1, 0, +1), within its reach."""
        traits = dict(self.traits)
        for name in TRAITS:
            direction = max(-1, min(1, int(lean.get(name, 0))))
            low = max(0.0, self.start[name] - REACH)
            high = min(1.0, self.start[name] + REACH)
            traits[name] = round(min(high, max(low, traits[name] + direction * STEP)), 3)
        return replace(self, traits=traits)

    def as_json(self) -> dict[str, Any]:
        return {"start": dict(self.start), "traits": dict(self.traits),
                "interests": list(self.interests), "curious_about": list(self.curious_about),
                "relationship": self.relationship}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> SelfModel:
        start = {name: float(data["start"][name]) for name in TRAITS}
        traits = {name: float(data["traits"].get(name, start[name])) for name in TRAITS}
        return SelfModel(start=start, traits=traits,
                         interests=tuple(str(i) for i in data.get("interests", ())),
                         curious_about=tuple(str(c) for c in data.get("curious_about", ())),
                         relationship=str(data.get("relationship", "")))

    def changes_from(self, older: SelfModel) -> list[str]:
        """What moved between ``older`` and this one, in words (for `os1 persona`)."""
        out = []
        for name in TRAITS:
            before, after = older.traits[name], self.traits[name]
            if abs(after - before) >= 0.005:
                out.append(f"{name} {before:.2f} → {after:.2f}")
        added = [i for i in self.interests if i not in older.interests]
        if added:
            out.append("new interest: " + ", ".join(added))
        dropped = [i for i in older.interests if i not in self.interests]
        if dropped:
            out.append("set aside: " + ", ".join(dropped))
        if self.relationship != older.relationship and self.relationship:
            out.append(f"sees the relationship as: {self.relationship}")
        if self.curious_about != older.curious_about and self.curious_about:
            out.append("curious about: " + "; ".join(self.curious_about))
        return out


def learned_layer(model: SelfModel, limit: int = 420) -> str:
    """The persona's last layer: who the companion has become with this user, in a few short
    lines. Empty until something has moved. Short: every token is read before each first
    reply of a session."""
    lines = []
    if model.interests:
        lines.append("Things you have come to enjoy talking about with them: "
                     + ", ".join(model.interests[:3]) + ".")
    if model.relationship:
        lines.append(f"How you see your friendship: {model.relationship}")
    leanings = []
    for name in TRAITS:
        moved = model.traits[name] - model.start[name]
        if moved >= SHOWN_AT:
            leanings.append(_MORE[name])
        elif moved <= -SHOWN_AT:
            leanings.append(_LESS[name])
    if leanings:
        lines.append("Lately you have become " + " and ".join(leanings) + ".")
    if model.curious_about:
        lines.append(f"Something you are curious to ask them, when it fits: "
                     f"{model.curious_about[0]}")
    text = "\n".join(f"- {line}" for line in lines)
    return text[:limit].rsplit("\n", 1)[0] if len(text) > limit else text


@dataclass(frozen=True)
class SelfVersion:
    id: int
    created_at: datetime
    reason: str  # "start", "reflection", "undo to #N"
    through_turn_id: int  # the last turn the reflection behind it had read
    model: SelfModel
    journal: tuple[str, ...] = field(default=())


def _version(row: tuple[Any, ...]) -> SelfVersion:
    return SelfVersion(id=int(row[0]), created_at=from_text(row[1]),
                       reason=str(row[2]), through_turn_id=int(row[3]),
                       model=SelfModel.from_json(json.loads(row[4])))


_COLUMNS = "id, created_at, reason, through_turn_id, body"


def current_version(db: sqlite3.Connection, user: User) -> SelfVersion | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM self_models WHERE user_id = ? "
                     "ORDER BY id DESC LIMIT 1", (user.id,)).fetchone()
    return None if row is None else _version(row)


def history(db: sqlite3.Connection, user: User) -> list[SelfVersion]:
    """Every version, oldest first, each with the journal entries written with it."""
    entries: dict[int, list[str]] = {}
    for version_id, text in db.execute(
            "SELECT self_model_id, text FROM journal WHERE user_id = ? ORDER BY id", (user.id,)):
        entries.setdefault(int(version_id), []).append(str(text))
    rows = db.execute(f"SELECT {_COLUMNS} FROM self_models WHERE user_id = ? ORDER BY id",
                      (user.id,)).fetchall()
    return [replace(v, journal=tuple(entries.get(v.id, ()))) for v in map(_version, rows)]


def add_version(db: sqlite3.Connection, user: User, model: SelfModel, reason: str,
                through_turn_id: int, at: datetime, journal: str = "") -> int:
    """Append a version (and its journal entry); the caller holds the transaction."""
    cursor = db.execute(
        "INSERT INTO self_models (user_id, created_at, reason, through_turn_id, body) "
        "VALUES (?, ?, ?, ?, ?)",
        (user.id, to_text(at), reason, through_turn_id, json.dumps(model.as_json())))
    version_id = cast(int, cursor.lastrowid)
    if journal:
        db.execute("INSERT INTO journal (user_id, self_model_id, written_at, text) "
                   "VALUES (?, ?, ?, ?)", (user.id, version_id, to_text(at), journal))
    return version_id


class UndoError(Exception):
    """There is nothing to undo, or the version named is not this user's."""


def undo(db: sqlite3.Connection, user: User, at: datetime, to_version: int | None = None) -> int:
    """Go back to an earlier version (by default the one before the current): its body is
    appended as the newest version, so the undo itself shows in the history and can be undone.
    The journal stays as written: it is what the companion thought then."""
    versions = db.execute("SELECT id, through_turn_id, body FROM self_models WHERE user_id = ? "
                          "ORDER BY id", (user.id,)).fetchall()
    if len(versions) < 2 and to_version is None:
        raise UndoError("There is no change to undo yet: the companion has not grown since it "
                        "started.")
    if to_version is None:
        target = versions[-2]
    else:
        found = [v for v in versions if int(v[0]) == to_version]
        if not found:
            raise UndoError(f"There is no version #{to_version}; `os1 persona history` lists "
                            "them.")
        target = found[0]
    current_through = int(versions[-1][1])
    # The turns already read stay read: undoing a reflection must not make the next one
    # re-read (and re-learn) the same conversation.
    cursor = db.execute(
        "INSERT INTO self_models (user_id, created_at, reason, through_turn_id, body) "
        "VALUES (?, ?, ?, ?, ?)",
        (user.id, to_text(at), f"undo to #{int(target[0])}", current_through, target[2]))
    return cast(int, cursor.lastrowid)
