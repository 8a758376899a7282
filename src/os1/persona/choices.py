"""What a user chose in the first-run interview that works as a setting: how often os1 may
check in, and which voice it speaks with.

`os1 setup` writes these into the one user's config file, which then rules (and `os1 config
set` changes them later). A server's config file is everyone's, so there each user's own
answer, kept in the database with the rest of the interview, rules for them.
"""

from __future__ import annotations

import sqlite3

from os1.store.base import User

# The "social" question's choices, as the most check-ins os1 starts in one day.
CHECKINS_PER_DAY = {"social": 3, "between": 2, "private": 1}


def answer(db: sqlite3.Connection, user: User, question: str) -> str | None:
    """The user's stored answer to one question; None if not answered (or skipped)."""
    row = db.execute("SELECT answer FROM onboarding WHERE user_id = ? AND question = ? "
                     "AND status = 'answered'", (user.id, question)).fetchone()
    return None if row is None else str(row[0])


def checkins_per_day(db: sqlite3.Connection, user: User) -> int | None:
    chosen = answer(db, user, "social")
    return None if chosen is None else CHECKINS_PER_DAY.get(chosen)


def voice(db: sqlite3.Connection, user: User) -> str | None:
    return answer(db, user, "voice") or None
