"""The local store: one SQLite file in the user's data directory."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar, cast

from os1.store.base import Conversation, NewTurn, StorageError, Turn, TurnStatus, User
from os1.store.migrations import MIGRATIONS

T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


def _to_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _from_text(text: str) -> datetime:
    return datetime.fromisoformat(text)


class SQLiteStore:
    """Thread-safe: the companion calls it from worker threads so the event loop stays free."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_ms / 1000
            )
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(
                f"Cannot open the database {path} ({exc}). Check that the folder is writable, "
                "or set OS1_DATA_DIR to another folder."
            ) from None
        self._lock = threading.Lock()
        try:
            self.run(self._configure)
            self.run(self._migrate)
        except StorageError:
            self._db.close()
            raise

    # -- plumbing -----------------------------------------------------------------

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the one connection, under the lock, with errors explained.
        Other SQLite-backed parts (the memory store) use this too: one file, one schema."""
        with self._lock:
            try:
                return work(self._db)
            except sqlite3.OperationalError as exc:
                raise StorageError(_explain(exc, self.path)) from exc
            except sqlite3.DatabaseError as exc:
                raise StorageError(
                    f"The database {self.path} is damaged or not an os1 database ({exc}). "
                    "Move it away to start fresh; os1 will not overwrite it."
                ) from exc

    @staticmethod
    def _configure(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        # Deleted rows are overwritten with zeros: "forget" must mean the bytes are gone.
        db.execute("PRAGMA secure_delete=ON")

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this os1 understands "
                f"({len(MIGRATIONS)}); upgrade os1"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in script:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # -- users and conversations ------------------------------------------------

    def user(self, name: str) -> User:
        def work(db: sqlite3.Connection) -> User:
            db.execute(
                "INSERT OR IGNORE INTO users (name, created_at) VALUES (?, ?)",
                (name, _to_text(_now())),
            )
            row = db.execute(
                "SELECT id, name, created_at FROM users WHERE name = ?", (name,)
            ).fetchone()
            return User(id=row[0], name=row[1], created_at=_from_text(row[2]))

        return self.run(work)

    def current_conversation(self, user: User) -> Conversation:
        def work(db: sqlite3.Connection) -> Conversation | None:
            row = db.execute(
                "SELECT id, user_id, started_at FROM conversations WHERE user_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (user.id,),
            ).fetchone()
            return None if row is None else _conversation(row)

        return self.run(work) or self.new_conversation(user)

    def new_conversation(self, user: User) -> Conversation:
        def work(db: sqlite3.Connection) -> Conversation:
            started = _now()
            cursor = db.execute(
                "INSERT INTO conversations (user_id, started_at) VALUES (?, ?)",
                (user.id, _to_text(started)),
            )
            return Conversation(id=cast(int, cursor.lastrowid), user_id=user.id,
                                started_at=started)

        return self.run(work)

    # -- turns --------------------------------------------------------------------

    def add_turn(self, user: User, turn: NewTurn) -> Turn:
        def work(db: sqlite3.Connection) -> Turn:
            # The conversation must belong to this user: checked in the same statement.
            cursor = db.execute(
                "INSERT INTO turns (conversation_id, user_id, role, content, context, status, "
                "created_at) SELECT id, user_id, ?, ?, ?, ?, ? FROM conversations "
                "WHERE id = ? AND user_id = ?",
                (turn.role, turn.content, turn.context, turn.status,
                 _to_text(turn.created_at), turn.conversation_id, user.id),
            )
            if cursor.rowcount != 1:
                raise StorageError(
                    f"Conversation {turn.conversation_id} does not belong to user {user.name!r}."
                )
            return Turn(id=cast(int, cursor.lastrowid), conversation_id=turn.conversation_id,
                        role=turn.role, content=turn.content, context=turn.context,
                        status=turn.status, created_at=turn.created_at)

        return self.run(work)

    def turns(self, user: User, conversation_id: int) -> Sequence[Turn]:
        def work(db: sqlite3.Connection) -> list[Turn]:
            rows = db.execute(
                "SELECT id, conversation_id, role, content, context, status, created_at "
                "FROM turns WHERE user_id = ? AND conversation_id = ? ORDER BY id",
                (user.id, conversation_id),
            ).fetchall()
            return [
                Turn(id=r[0], conversation_id=r[1], role=r[2], content=r[3], context=r[4],
                     status=cast(TurnStatus, r[5]), created_at=_from_text(r[6]))
                for r in rows
            ]

        return self.run(work)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _conversation(row: tuple[int, int, str]) -> Conversation:
    return Conversation(id=row[0], user_id=row[1], started_at=_from_text(row[2]))


def _explain(exc: sqlite3.OperationalError, path: Path) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return (f"The database {path} is locked by another program (is another os1 running?). "
                "Close it and try again.")
    if "full" in text:
        return (f"The disk holding {path} is full, so os1 cannot save. Free some space; "
                "nothing you said is lost while os1 keeps running.")
    if "readonly" in text or "read-only" in text:
        return f"The database {path} is read-only. Check its permissions."
    return f"Database error in {path}: {text}."


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """An explicit write transaction (the connection runs in autocommit mode)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
