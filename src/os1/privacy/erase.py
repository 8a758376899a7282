"""`os1 forget --everything`: erase one user so that no byte of what they said is left.

In the database: the memories go through the memory engine's forget (keyword indexes,
vectors, notes that quoted them), then the user row, which cascades to conversations, turns,
mood readings, the voice baseline and the safety log. `secure_delete` zeroes freed pages;
the memory engine's forget has merged the FTS5 segments (so deleted terms leave them);
`VACUUM` rewrites the file without the free pages; the write-ahead log is truncated. Outside it:
the saved vector index and the KV-cache snapshots of the conversation are overwritten, then
removed. The config file holds the user's own settings (name, topics to avoid): it goes too.

On PostgreSQL the rows are deleted the same way and are gone for every query at once, but
there is no VACUUM-the-file step os1 can take: a deleted row's bytes stay in its table page
(and in write-ahead log segments) until autovacuum frees the space and new rows overwrite it,
or the segments are recycled. `VACUUM FULL` rewrites the tables without them (an operator's
job: it locks the tables); the disk's encryption is what protects those bytes meanwhile.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from os1.memory.engine import MemoryEngine
from os1.memory.vectors import index_path
from os1.store.base import Database, User
from os1.store.files import shred
from os1.store.sqlite import transaction


@dataclass(frozen=True)
class EraseReport:
    turns: int
    memories: int
    files: int


def erase_user(store: Database, memory: MemoryEngine, user: User,
               private_files: list[Path], index_dir: Path, *,
               close_memory: bool = True) -> EraseReport:
    """Erase ``user``; ``memory`` is closed on the way (it is of no use afterwards), unless
    ``close_memory`` is False: a server's engine, which serves everyone else."""
    def memory_ids(db: sqlite3.Connection) -> list[int]:
        return [int(r[0]) for r in db.execute("SELECT id FROM memories WHERE user_id = ?",
                                              (user.id,))]

    def turn_count(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT count(*) FROM turns WHERE user_id = ?",
                              (user.id,)).fetchone()[0])

    turns = store.run(turn_count)
    forgotten = memory.forget(user, store.run(memory_ids)).records
    if close_memory:
        memory.close()  # closing saves loaded indexes: done before their files are removed

    def drop_user(db: sqlite3.Connection) -> None:
        with transaction(db):
            db.execute("DELETE FROM memory_jobs WHERE user_id = ?", (user.id,))
            db.execute("DELETE FROM users WHERE id = ?", (user.id,))
            # The id stays taken by a nameless row: a background job still holding it can
            # never write into a new user who would otherwise be given the same id.
            db.execute("INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)",
                       (user.id, f"(erased {user.id})", "1970-01-01T00:00:00+00:00"))

    store.run(drop_user)
    if store.dialect != "postgresql":  # see the module doc
        store.run(_compact)
    files = 0
    for path in [*private_files, index_path(index_dir, user)]:
        if path.exists():
            shred(path)
            files += 1
    return EraseReport(turns, forgotten, files)


def _compact(db: sqlite3.Connection) -> None:
    """Leave no deleted text in the file: no free pages, no log. (The keyword segments were
    merged by the memory engine's forget, which took every keyword row there was.)"""
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
