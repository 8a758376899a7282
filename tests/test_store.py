import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from os1.store.base import NewTurn, StorageError
from os1.store.migrations import MIGRATIONS
from os1.store.sqlite import SQLiteStore


def turn(conversation_id: int, role: str, content: str) -> NewTurn:
    return NewTurn(conversation_id, role, content, "", "complete", datetime.now(UTC))  # type: ignore[arg-type]


def test_schema_is_migrated_and_versioned(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.close()
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "conversations", "turns"} <= tables


def test_turns_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path)
    user = store.user("ana")
    conversation = store.current_conversation(user)
    store.add_turn(user, turn(conversation.id, "user", "hello"))
    store.add_turn(user, turn(conversation.id, "assistant", "hi ana"))
    store.close()

    again = SQLiteStore(path)
    user = again.user("ana")
    same = again.current_conversation(user)
    assert same.id == conversation.id
    assert [t.content for t in again.turns(user, same.id)] == ["hello", "hi ana"]


def test_one_user_cannot_read_or_write_another_users_conversation(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    ana, ben = store.user("ana"), store.user("ben")
    secret = store.current_conversation(ana)
    store.add_turn(ana, turn(secret.id, "user", "my secret"))
    assert store.turns(ben, secret.id) == []
    with pytest.raises(StorageError, match="does not belong"):
        store.add_turn(ben, turn(secret.id, "user", "intrusion"))
    assert store.current_conversation(ben).id != secret.id


def test_locked_database_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path, busy_timeout_ms=100)
    user = store.user("ana")
    conversation = store.current_conversation(user)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageError, match="locked by another program"):
            store.add_turn(user, turn(conversation.id, "user", "hello"))
    finally:
        other.execute("ROLLBACK")


def test_full_disk_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path)
    user = store.user("ana")
    conversation = store.current_conversation(user)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    # SQLite reports a database that may not grow exactly as it reports a full disk.
    store._db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StorageError, match="full"):
        store.add_turn(user, turn(conversation.id, "user", "x" * 100_000))


def test_damaged_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="damaged or not an os1 database"):
        SQLiteStore(path)
    assert path.read_bytes().startswith(b"this is not a database")


def test_concurrent_writes_from_threads(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    user = store.user("ana")
    conversation = store.current_conversation(user)

    def write(n: int) -> None:
        for i in range(20):
            store.add_turn(user, turn(conversation.id, "user", f"{n}-{i}"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.turns(user, conversation.id)) == 80
