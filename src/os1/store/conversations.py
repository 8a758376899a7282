"""The `Store` seam's conversation and turn queries, written once for every database.

Both stores run them through their own `run(work)`: SQLite as they are, PostgreSQL through
the dialect translation (`store/dialect.py`), so the SQL here must stay in the subset both
speak (it does: plain SELECT/INSERT, ``?`` placeholders, ``lastrowid``, ``rowcount``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar, cast

from os1.store.base import Conversation, NewTurn, StorageError, Turn, TurnStatus, User

T = TypeVar("T")


def to_text(moment: datetime) -> str:
    """How every table keeps a moment: UTC ISO text to the microsecond (sorts as text)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text)


class ConversationQueries:
    """Mixed into a store that provides ``run``."""

    run: Callable[..., object]

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return cast(T, self.run(work))

    def user(self, name: str) -> User:
        """The user called ``name``, made on first use. Looked up first, so a lookup writes
        nothing; under PostgreSQL's row-level security a user outside the request's scope is
        not seen, and is refused rather than made twice."""
        def work(db: sqlite3.Connection) -> User:
            select = "SELECT id, name, created_at FROM users WHERE name = ?"
            row = db.execute(select, (name,)).fetchone()
            if row is None:
                db.execute("INSERT INTO users (name, created_at) VALUES (?, ?) "
                           "ON CONFLICT (name) DO NOTHING", (name, to_text(datetime.now(UTC))))
                row = db.execute(select, (name,)).fetchone()
            if row is None:
                raise StorageError(f"The user {name!r} is not visible to this request.")
            return User(id=row[0], name=row[1], created_at=from_text(row[2]))

        return self._run(work)

    def current_conversation(self, user: User) -> Conversation:
        """The user's latest conversation, or a new one if they have none."""
        def work(db: sqlite3.Connection) -> Conversation | None:
            row = db.execute(
                "SELECT id, user_id, started_at FROM conversations WHERE user_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (user.id,),
            ).fetchone()
            return None if row is None else Conversation(row[0], row[1], from_text(row[2]))

        return self._run(work) or self.new_conversation(user)

    def new_conversation(self, user: User) -> Conversation:
        def work(db: sqlite3.Connection) -> Conversation:
            started = datetime.now(UTC)
            cursor = db.execute(
                "INSERT INTO conversations (user_id, started_at) VALUES (?, ?)",
                (user.id, to_text(started)),
            )
            return Conversation(id=cast(int, cursor.lastrowid), user_id=user.id,
                                started_at=started)

        return self._run(work)

    def add_turn(self, user: User, turn: NewTurn) -> Turn:
        def work(db: sqlite3.Connection) -> Turn:
            # The conversation must belong to this user: checked in the same statement.
            cursor = db.execute(
                "INSERT INTO turns (conversation_id, user_id, role, content, context, status, "
                "created_at) SELECT id, user_id, ?, ?, ?, ?, ? FROM conversations "
                "WHERE id = ? AND user_id = ?",
                (turn.role, turn.content, turn.context, turn.status,
                 to_text(turn.created_at), turn.conversation_id, user.id),
            )
            if cursor.rowcount != 1:
                raise StorageError(
                    f"Conversation {turn.conversation_id} does not belong to user {user.name!r}."
                )
            return Turn(id=cast(int, cursor.lastrowid), conversation_id=turn.conversation_id,
                        role=turn.role, content=turn.content, context=turn.context,
                        status=turn.status, created_at=turn.created_at)

        return self._run(work)

    def turns(self, user: User, conversation_id: int) -> Sequence[Turn]:
        """All turns of one of this user's conversations, oldest first."""
        def work(db: sqlite3.Connection) -> list[Turn]:
            rows = db.execute(
                "SELECT id, conversation_id, role, content, context, status, created_at "
                "FROM turns WHERE user_id = ? AND conversation_id = ? ORDER BY id",
                (user.id, conversation_id),
            ).fetchall()
            return [
                Turn(id=r[0], conversation_id=r[1], role=r[2], content=r[3], context=r[4],
                     status=cast(TurnStatus, r[5]), created_at=from_text(r[6]))
                for r in rows
            ]

        return self._run(work)
