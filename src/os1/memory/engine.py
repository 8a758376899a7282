"""The memory engine: the one place the rest of os1 asks to remember, recall and forget.

It owns the embedder (loaded on first use), each user's vector index (loaded from its saved file
or rebuilt from the database) and the SQLite records. Everything here is synchronous and
thread-safe; the companion calls it from worker threads (os1.memory.writer) so no reply waits.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from os1.memory.embedder import Embedder, Vectors
from os1.memory.records import FactWrite, Memory, NewFact
from os1.memory.search import RecallResult, RecallTuning, Retriever
from os1.memory.store import EpisodeRow, MemoryStore, spoken
from os1.memory.vectors import VectorIndex, build_index, index_path
from os1.store.base import Database, Turn, User
from os1.store.files import shred
from os1.store.sqlite import transaction

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ForgetReport:
    records: int
    files: int


class MemoryEngine:
    def __init__(
        self,
        db: Database,
        index_dir: Path,
        *,
        embedder: Embedder | None = None,
        tuning: RecallTuning | None = None,
        private_files: Callable[[User], list[Path]] | None = None,
    ) -> None:
        self.store = MemoryStore(db)
        self._index_dir = index_dir
        self._embedder = embedder
        self._indexes: dict[int, VectorIndex] = {}
        self._lock = threading.RLock()
        # Files outside the database that hold a user's conversation (KV-cache snapshots):
        # forgetting must remove them too.
        self._private_files = private_files or (lambda user: [])
        # The saved index is a plaintext cache of every memory's embedding (which can be
        # inverted to approximate text): with the database encrypted it is never written, and
        # each start rebuilds it from the database instead (measured 0.09 s for 10k memories
        # here; above 20k the inverted-file index is also retrained).
        self._saves_index = not db.encrypted
        self.retriever = Retriever(self.store, self.index, self.embed_query, tuning)

    # -- models and indexes ----------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = Embedder.load()
            return self._embedder

    def embed(self, texts: list[str]) -> Vectors:
        return self.embedder.embed(texts)

    def embed_query(self, text: str) -> Vectors:
        return self.embedder.embed_one(text)

    def index(self, user: User, progress: Callable[[int, int], None] | None = None) -> VectorIndex:
        with self._lock:
            index = self._indexes.get(user.id)
            if index is None:
                path = index_path(self._index_dir, user)
                # A faiss file left from SQLite days must never stand in for PostgreSQL's vectors.
                keeps_file = self._saves_index and not self.store.vectors_in_database
                index = (VectorIndex.load(path, self.store.vector_stamp(user)) if keeps_file
                         else None)
                if index is None:
                    index = build_index(self.store, user, self._reembed(user), progress)
                    self._save_index(user, index)
                self._indexes[user.id] = index
            return index

    def _reembed(self, user: User) -> Callable[[list[int]], None]:
        def reembed(memory_ids: list[int]) -> None:
            memories = self.store.many(user, memory_ids)
            ordered = [memories[i] for i in memory_ids if i in memories]
            vectors = self.embed([spoken(m.text, m.speaker) for m in ordered]) if ordered else None
            for row, memory in enumerate(ordered):
                assert vectors is not None
                self.store.set_vector(user, memory.id, vectors[row])

        return reembed

    def _save_index(self, user: User, index: VectorIndex) -> None:
        if self._saves_index:
            index.save(index_path(self._index_dir, user), self.store.vector_stamp(user))

    def save(self) -> None:
        """Write every loaded index to disk, so the next start need not rebuild it. An index
        that no longer matches the database (another os1 process forgot or wrote meanwhile)
        is not saved, and its old file is removed: the next start rebuilds it."""
        if not self._saves_index:
            return
        with self._lock:
            for user_id, index in self._indexes.items():
                user = User(user_id, "", datetime.now())
                stamp = self.store.vector_stamp(user)
                path = index_path(self._index_dir, user)
                if index.size == stamp[0]:
                    index.save(path, stamp)
                elif path.exists():
                    shred(path)

    def close(self) -> None:
        self.save()
        self.retriever.close()

    # -- remembering -----------------------------------------------------------------

    def remember_turn(self, user: User, turn: Turn, speaker: str, *,
                      extract: bool = True) -> int:
        """Store a turn as an episode (keywords and vector) and queue it for fact extraction."""
        vector = self.embed_query(spoken(turn.content, speaker))
        episode = EpisodeRow(turn.content, speaker, turn.created_at, turn.conversation_id,
                             turn.id)
        # Store and index under one lock, so a forget cannot fall between the two.
        with self._lock:
            memory_id = self.store.add_episode(user, episode, vector)
            if user.id in self._indexes:
                self._indexes[user.id].add([memory_id], vector.reshape(1, -1))
        self.retriever.speaker_added(user, speaker)
        if extract:
            self.store.queue_extraction(user, turn.id)
        return memory_id

    def remember_episodes(self, user: User, turns: Sequence[tuple[Turn, str]]) -> list[int]:
        """Many episodes at once (imports, benchmarks): embedded in batches, one transaction."""
        vectors = self.embed([spoken(turn.content, speaker) for turn, speaker in turns])
        with self._lock:
            ids = self.store.add_episodes(user, [
                EpisodeRow(turn.content, speaker, turn.created_at, turn.conversation_id, turn.id)
                for turn, speaker in turns], vectors)
            if user.id in self._indexes:
                self._indexes[user.id].add(ids, vectors)
        for _, speaker in turns:
            self.retriever.speaker_added(user, speaker)
        return ids

    def remember_fact(self, user: User, fact: NewFact, now: datetime) -> FactWrite | None:
        """None when the turns it came from were forgotten meanwhile."""
        vector = self.embed_query(fact.text)
        with self._lock:
            written = self.store.add_fact(user, fact, vector, now)
            if written is not None and written.outcome != "merged" and user.id in self._indexes:
                self._indexes[user.id].add([written.memory.id], vector.reshape(1, -1))
        return written

    def remember_extracted(self, user: User, facts: Sequence[NewFact], turn_ids: Sequence[int],
                           now: datetime) -> list[FactWrite]:
        """An exchange's facts and the end of its extraction job, in one go: a cancellation
        cannot fall between them (the job would run again and count every fact twice)."""
        written = [w for fact in facts if (w := self.remember_fact(user, fact, now)) is not None]
        self.store.finish_extraction(user, turn_ids)
        return written

    def remember_along(self, user: User, facts: Sequence[NewFact], now: datetime,
                       work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` and ``facts`` in one transaction: all of it is stored, or none of it."""
        vectors = self.embed([fact.text for fact in facts]) if facts else None

        def write(db: sqlite3.Connection) -> tuple[T, list[FactWrite]]:
            with transaction(db):
                result = work(db)
                return result, self.store.write_facts(db, user, facts, vectors, now)

        with self._lock:
            result, written = self.store.db.run(write)
            if vectors is not None and user.id in self._indexes:
                for row, fact_write in enumerate(written):
                    if fact_write.outcome != "merged":
                        self._indexes[user.id].add([fact_write.memory.id],
                                                   vectors[row].reshape(1, -1))
        return result

    def edit(self, user: User, memory_id: int, text: str) -> Memory:
        text = text.strip()
        if not text:
            raise ValueError("A memory cannot be empty; use `os1 memory forget` to remove it.")
        old = self.store.get(user, memory_id)
        vector = self.embed_query(spoken(text, old.speaker))
        memory = self.store.edit(user, memory_id, text, vector)
        with self._lock:
            if user.id in self._indexes:
                index = self._indexes[user.id]
                index.remove([memory_id])
                index.add([memory_id], vector.reshape(1, -1))
        return memory

    # -- recalling ---------------------------------------------------------------------

    def recall(self, user: User, query: str, k: int, now: datetime, *,
               with_context: bool = False) -> RecallResult:
        """The k memories that best answer ``query``; ``with_context`` adds, for each recalled
        turn, the turns said just before and after it."""
        return self.retriever.search(user, query, k, now=now, with_context=with_context)

    # -- forgetting --------------------------------------------------------------------

    def forget(self, user: User, memory_ids: Sequence[int]) -> ForgetReport:
        """Remove records (and what derives from them) from the database, the vector index and
        its saved file, and delete files that hold the conversation's state."""
        with self._lock:
            gone = self.store.forget(user, memory_ids)
            index = self.index(user)
            index.remove(gone)
            self._save_index(user, index)
            self.retriever.forget_cached(user)
            files = 0
            if gone:
                for path in self._private_files(user):
                    if path.exists():
                        shred(path)
                        files += 1
            return ForgetReport(len(gone), files)

    def forget_about(self, user: User, name: str) -> tuple[list[Memory], ForgetReport]:
        found = self.store.about(user, name)
        return found, self.forget(user, [m.id for m in found])
