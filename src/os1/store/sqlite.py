"""The local store: one SQLite file in the user's data directory."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar, cast

from sqlcipher3 import dbapi2 as sqlcipher

from os1.store.base import Dialect, StorageError
from os1.store.conversations import ConversationQueries

# Where every module has long found them; they live with the queries both stores share.
from os1.store.conversations import from_text as from_text
from os1.store.conversations import to_text as to_text
from os1.store.encryption import (
    DatabaseKey,
    EncryptionError,
    database_state,
    encrypted_error,
    not_encrypted_error,
)
from os1.store.migrations import MIGRATIONS

T = TypeVar("T")

# An encrypted database is opened through SQLCipher (its own copy of SQLite), whose exceptions
# are other classes with the same names: every catch here names both.
OPERATIONAL_ERRORS = (sqlite3.OperationalError, sqlcipher.OperationalError)
DATABASE_ERRORS = (sqlite3.DatabaseError, sqlcipher.DatabaseError)
SQLITE_ERRORS = (sqlite3.Error, sqlcipher.Error)



class SQLiteStore(ConversationQueries):
    """Thread-safe: the companion calls it from worker threads so the event loop stays free."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, *, key: DatabaseKey | None = None,
                 busy_timeout_ms: int = 5000) -> None:
        """``key``: the file is (or will be created) encrypted with SQLCipher."""
        self.path = path
        self._key = key
        _check_file_matches_key(path, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = _connect(path, key, busy_timeout_ms / 1000)
        except (OSError, *SQLITE_ERRORS) as exc:
            raise StorageError(
                f"Cannot open the database {path} ({exc}). Check that the folder is writable, "
                "or set OS1_DATA_DIR to another folder."
            ) from None
        self._lock = threading.Lock()
        try:
            if key is not None:
                _unlock(self._db, key, path)
            self.run(self._configure)
            self.run(self._migrate)
        except StorageError:
            self._db.close()
            raise

    @property
    def encrypted(self) -> bool:
        """Whether the file is encrypted at rest: then nothing else may write the user's data
        to disk in the clear (the vector index, KV-cache snapshots)."""
        return self._key is not None

    @property
    def key(self) -> DatabaseKey | None:
        return self._key

    # -- plumbing -----------------------------------------------------------------

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the one connection, under the lock, with errors explained.
        Other SQLite-backed parts (the memory store) use this too: one file, one schema."""
        with self._lock:
            try:
                return work(self._db)
            except OPERATIONAL_ERRORS as exc:
                raise StorageError(_explain(exc, self.path)) from exc
            except DATABASE_ERRORS as exc:
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

    # -- users (conversations and turns: store/conversations.py) -------------------

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _check_file_matches_key(path: Path, key: DatabaseKey | None) -> None:
    """Say what to do before SQLite says "file is not a database"."""
    state = database_state(path)
    if key is None and state == "encrypted":
        raise encrypted_error(path)
    if key is not None and state == "plaintext":
        raise not_encrypted_error(path, key.mode)


def _connect(path: Path, key: DatabaseKey | None, timeout_s: float) -> sqlite3.Connection:
    if key is None:
        return sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                               timeout=timeout_s)
    # sqlcipher3 is pysqlite built on SQLCipher: the same DB-API as sqlite3.Connection, which
    # is the type the rest of os1 is written against.
    db = sqlcipher.connect(str(path), check_same_thread=False, isolation_level=None,
                           timeout=timeout_s)
    return cast(sqlite3.Connection, db)


def _unlock(db: sqlite3.Connection, key: DatabaseKey, path: Path) -> None:
    """The key must be the first thing the connection is told; reading the schema is what
    checks it (SQLCipher verifies each page's HMAC)."""
    try:
        # Otherwise a wrong key also prints SQLCipher's "hmac check failed" lines on stderr.
        db.execute("PRAGMA cipher_log_level = NONE")
        db.execute(f"PRAGMA key = {key.pragma}")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except SQLITE_ERRORS as exc:
        db.close()
        if "not a database" not in str(exc):
            raise StorageError(_explain(exc, path)) from None
        if key.mode == "passphrase":
            raise EncryptionError(
                f"The passphrase does not open {path}. Type the one you chose when you turned "
                "encryption on (or fix OS1_PASSPHRASE); without it the data cannot be read."
            ) from None
        raise EncryptionError(
            f"The key in the OS keyring does not open {path}. If you encrypted it with a "
            "passphrase, run `os1 config set encryption passphrase`; if the keyring entry was "
            "replaced, restore it from a keyring backup."
        ) from None


def _explain(exc: Exception, path: Path) -> str:
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
