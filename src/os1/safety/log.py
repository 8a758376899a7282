"""The safety log: which of the user's messages raised the crisis protocol, for them only.

An entry names the kind and the score, never the words (the turn holds those); it hangs off
its turn, so forgetting the turn removes it, and `os1 forget --everything` removes all.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from os1.store.base import User


@dataclass(frozen=True)
class SafetyEntry:
    id: int
    turn_id: int | None
    at: datetime
    kind: str
    detail: str


def record(db: sqlite3.Connection, user: User, turn_id: int, at: datetime, kind: str,
           detail: str) -> None:
    db.execute("INSERT INTO safety_events (user_id, turn_id, at, kind, detail) "
               "VALUES (?, ?, ?, ?, ?)",
               (user.id, turn_id, at.astimezone(UTC).isoformat(timespec="seconds"), kind,
                detail))


def entries(db: sqlite3.Connection, user: User) -> list[SafetyEntry]:
    rows = db.execute("SELECT id, turn_id, at, kind, detail FROM safety_events "
                      "WHERE user_id = ? ORDER BY id", (user.id,)).fetchall()
    return [SafetyEntry(r[0], r[1], datetime.fromisoformat(r[2]), r[3], r[4]) for r in rows]
