"""Memory records in the database the conversation store uses: one database, one schema.

Every statement names the user: a record of user A is invisible to any call made for user B.
Vectors are kept here too: they are the truth the vector index is built from, so forgetting a
record here and rebuilding the index leaves no copy anywhere.

Two backends, one class. Most statements are plain SQL that both run (PostgreSQL through the
store's dialect translation). What differs is behind `_postgres`:

- SQLite: FTS5 keyword tables ranked by bm25(), porter stems from FTS5's own tokenizer, term
  counts from an fts5vocab table, vectors as float16 blobs (an in-process faiss index,
  os1.memory.vectors, searches them).
- PostgreSQL: the same keyword tables with a generated ``tsvector`` column (GIN index),
  ranked by ts_rank_cd over an OR of the query's words (english stemming); term counts by
  asking the index; vectors in a pgvector column searched in SQL (``<=>``), so every API
  process sees a new memory at once and no process keeps a copy.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast, get_args

import numpy as np

from os1.memory.embedder import DIMENSIONS, Vectors
from os1.memory.errors import MemoryNotFoundError
from os1.memory.query import fts_query
from os1.memory.records import FactWrite, Memory, MemoryKind, NewFact
from os1.store.base import Database, User
from os1.store.sqlite import to_text, transaction

_COLUMNS = (
    "id, kind, text, created_at, subject, relation, attribute, value, speaker, importance, "
    "mentions, occurred_at, valid_from, valid_to, superseded_by, conversation_id, turn_id"
)
_VECTOR_BYTES = DIMENSIONS * 2  # float16
KeywordTable = Literal["memory_fts", "memory_back_fts", "memory_around_fts"]
KEYWORD_TABLES: tuple[KeywordTable, ...] = get_args(KeywordTable)
TEXT_SEARCH = "english"  # PostgreSQL's stemming and stop words for the keyword tables


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else to_text(moment)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def spoken(text: str, speaker: str) -> str:
    """A turn as indexed: who said it, then what they said."""
    return f"{speaker}: {text}" if speaker else text


def search_body(memory_text: str, speaker: str = "", subject: str = "", relation: str = "",
                value: str = "", when: datetime | None = None) -> str:
    """What the keyword index holds for a record: its words, who said it or who it concerns
    (a question naming a person finds what they said even when the text doesn't name them),
    and the day in words (so "in May 2023" matches)."""
    parts = [spoken(memory_text, speaker)]
    if when is not None:
        parts[0] += f" ({when.day} {when:%B %Y})"
    extra = " ".join(p for p in (subject if subject not in ("user", "companion") else "",
                                 relation, value) if p)
    if extra:
        parts.append(extra)
    return "\n".join(parts)


@dataclass(frozen=True)
class EpisodeRow:
    text: str
    speaker: str
    created_at: datetime
    conversation_id: int | None = None
    turn_id: int | None = None
    importance: float = 0.5


@dataclass(frozen=True)
class RankFacts:
    speaker: str
    importance: float
    created_at: datetime
    moment: datetime  # when it happened, else when it was said
    current: bool


def pack_vector(vector: Vectors) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()




class MemoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._stems: dict[str, str] = {}  # word → FTS5 stem (the same every time)
        self._postgres = db.dialect == "postgresql"

    @property
    def vectors_in_database(self) -> bool:
        """Whether nearest-neighbour search runs in the database (`nearest`) rather than in an
        in-process index built from `vectors`."""
        return self._postgres

    def _vector_value(self, vector: Vectors) -> Any:
        """A vector as the column takes it: float16 bytes (SQLite) or a pgvector value."""
        if self._postgres:
            return np.asarray(vector, dtype=np.float32).reshape(-1)
        return pack_vector(vector)

    def _vector_of(self, value: Any) -> Vectors | None:
        """A stored vector as float32, or None if it is damaged."""
        if self._postgres:
            if hasattr(value, "to_numpy"):  # pgvector's Vector
                value = value.to_numpy()
            array = np.asarray(value, dtype=np.float32)
            return array if array.shape == (DIMENSIONS,) else None
        if isinstance(value, bytes) and len(value) == _VECTOR_BYTES:
            return np.frombuffer(value, dtype=np.float16).astype(np.float32)
        return None

    # -- writing -------------------------------------------------------------------

    def add_episode(self, user: User, episode: EpisodeRow, vector: Vectors | None) -> int:
        vectors = None if vector is None else vector.reshape(1, -1)
        return self.add_episodes(user, [episode], vectors)[0]

    def add_episodes(self, user: User, episodes: Sequence[EpisodeRow],
                     vectors: Vectors | None) -> list[int]:
        """Episodes in one transaction; ``vectors`` row by row (None: keywords only)."""

        def work(db: sqlite3.Connection) -> list[int]:
            ids = []
            with transaction(db):
                for row, episode in enumerate(episodes):
                    memory_id = self._insert(
                        db, user, "episode", episode.text, episode.created_at,
                        speaker=episode.speaker, occurred_at=episode.created_at,
                        importance=episode.importance,
                        conversation_id=episode.conversation_id, turn_id=episode.turn_id)
                    self._index(db, user, memory_id,
                                search_body(episode.text, episode.speaker,
                                            when=episode.created_at),
                                None if vectors is None else vectors[row])
                    self._index_windows(db, user, memory_id, episode.conversation_id)
                    if episode.turn_id is not None:
                        db.execute("INSERT OR IGNORE INTO memory_sources VALUES (?, ?)",
                                   (memory_id, episode.turn_id))
                    ids.append(memory_id)
            return ids

        return self.db.run(work)

    def add_fact(self, user: User, fact: NewFact, vector: Vectors | None,
                 now: datetime) -> FactWrite | None:
        """Store a derived record: merge it into the same one, or supersede a contradicted one.
        None if every turn it came from has been forgotten meanwhile (it must not outlive
        them)."""

        def work(db: sqlite3.Connection) -> FactWrite | None:
            with transaction(db):
                if fact.sources and not _rows_in(
                        db, "SELECT id FROM turns WHERE +user_id = ? AND id IN", user.id,
                        fact.sources):
                    return None
                return self._write_fact(db, user, fact, vector, now)

        return self.db.run(work)

    def write_facts(self, db: sqlite3.Connection, user: User, facts: Sequence[NewFact],
                    vectors: Vectors | None, now: datetime) -> list[FactWrite]:
        """Store derived records inside a transaction the caller holds (with other rows that
        must be written with them, or not at all: a reflection's self-model)."""
        return [self._write_fact(db, user, fact, None if vectors is None else vectors[row], now)
                for row, fact in enumerate(facts)]

    def _write_fact(self, db: sqlite3.Connection, user: User, fact: NewFact,
                    vector: Vectors | None, now: datetime) -> FactWrite:
        same = self._same_record(db, user, fact)
        if same is not None:
            db.execute(
                "UPDATE memories SET mentions = mentions + 1, importance = max(importance, ?) "
                "WHERE id = ? AND user_id = ?", (fact.importance, same.id, user.id))
            self._add_sources(db, same.id, fact.sources)
            return FactWrite("merged", self._get(db, user, same.id))
        rival = self._contradicted(db, user, fact)
        memory_id = self._insert(
            db, user, fact.kind, fact.text, now, subject=fact.subject, relation=fact.relation,
            attribute=fact.attribute, value=fact.value, importance=fact.importance,
            occurred_at=fact.occurred_at, valid_from=now)
        self._index(db, user, memory_id, search_body(fact.text, "", fact.subject, fact.relation,
                                                     fact.value), vector)
        self._add_sources(db, memory_id, fact.sources)
        if rival is None:
            return FactWrite("added", self._get(db, user, memory_id))
        db.execute("UPDATE memories SET valid_to = ?, superseded_by = ? "
                   "WHERE id = ? AND user_id = ?", (_text(now), memory_id, rival.id, user.id))
        return FactWrite("superseded", self._get(db, user, memory_id),
                         replaced=self._get(db, user, rival.id))

    def _same_record(self, db: sqlite3.Connection, user: User, fact: NewFact) -> Memory | None:
        """A current record saying the same thing: same key and value, or the same words."""
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM memories WHERE user_id = ? AND kind = ? "
            "AND superseded_by IS NULL AND valid_to IS NULL "
            "AND lower(subject) = lower(?) AND lower(attribute) = lower(?)",
            (user.id, fact.kind, fact.subject, fact.attribute)).fetchall()
        for row in rows:
            memory = _memory(row)
            if fact.attribute and _norm(memory.value) == _norm(fact.value) and fact.value:
                return memory
            if _norm(memory.text) == _norm(fact.text):
                return memory
        return None

    def _contradicted(self, db: sqlite3.Connection, user: User, fact: NewFact) -> Memory | None:
        """Facts have one value per (subject, attribute): a new value replaces the old one.
        Preferences and events can have many, so they never supersede each other."""
        if fact.kind not in ("fact", "self") or not fact.attribute or not fact.value:
            return None
        row = db.execute(
            f"SELECT {_COLUMNS} FROM memories WHERE user_id = ? AND kind = ? "
            "AND superseded_by IS NULL AND valid_to IS NULL AND lower(subject) = lower(?) "
            "AND lower(attribute) = lower(?) ORDER BY id DESC LIMIT 1",
            (user.id, fact.kind, fact.subject, fact.attribute)).fetchone()
        return None if row is None else _memory(row)

    def _insert(self, db: sqlite3.Connection, user: User, kind: MemoryKind, text: str,
                created_at: datetime, **fields: Any) -> int:
        names = ["user_id", "kind", "text", "created_at", *fields]
        values = [user.id, kind, text, _text(created_at),
                  *(_text(v) if isinstance(v, datetime) else v for v in fields.values())]
        cursor = db.execute(
            f"INSERT INTO memories ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            values)
        return cast(int, cursor.lastrowid)

    def _index(self, db: sqlite3.Connection, user: User, memory_id: int, body: str,
               vector: Vectors | None) -> None:
        db.execute("INSERT INTO memory_fts (rowid, body) VALUES (?, ?)", (memory_id, body))
        if vector is not None:
            db.execute("INSERT OR REPLACE INTO memory_vectors VALUES (?, ?, ?)",
                       (memory_id, user.id, self._vector_value(vector)))

    def _index_windows(self, db: sqlite3.Connection, user: User, memory_id: int,
                       conversation_id: int | None) -> None:
        """A new episode's window rows, and the previous episode's "around" row, which now
        has a turn after it."""
        if conversation_id is None:
            return
        previous = db.execute(
            "SELECT id FROM memories WHERE user_id = ? AND conversation_id = ? AND kind = "
            "'episode' AND id < ? ORDER BY id DESC LIMIT 1",
            (user.id, conversation_id, memory_id)).fetchone()
        self._rewindow(db, user, [memory_id] + ([previous[0]] if previous else []))

    def _rewindow(self, db: sqlite3.Connection, user: User, memory_ids: Iterable[int]) -> None:
        """(Re)write the window rows of these episodes from their current neighbours."""
        ids = sorted(set(memory_ids))
        if not ids:
            return
        around = self._adjacent(db, user, ids)
        wanted = set(ids) | {n for pair in around.values() for n in pair if n is not None}
        said = {r[0]: spoken(r[1], r[2]) for r in _rows_in(
            db, "SELECT id, text, speaker FROM memories WHERE +user_id = ? AND id IN",
            user.id, wanted)}
        for memory_id in ids:
            if memory_id not in said:
                continue
            before, after = around.get(memory_id, (None, None))
            back = [said[i] for i in (before, memory_id) if i is not None and i in said]
            both = [said[i] for i in (before, memory_id, after) if i is not None and i in said]
            for table, parts in (("memory_back_fts", back), ("memory_around_fts", both)):
                db.execute(f"DELETE FROM {table} WHERE rowid = ?", (memory_id,))
                db.execute(f"INSERT INTO {table} (rowid, body) VALUES (?, ?)",
                           (memory_id, "\n".join(parts)))

    def _adjacent(self, db: sqlite3.Connection, user: User,
                  memory_ids: Iterable[int]) -> dict[int, tuple[int | None, int | None]]:
        rows = _rows_in(
            db, "SELECT m.id, (SELECT max(p.id) FROM memories p WHERE p.user_id = m.user_id "
            "AND p.conversation_id = m.conversation_id AND p.kind = 'episode' AND p.id < m.id), "
            "(SELECT min(n.id) FROM memories n WHERE n.user_id = m.user_id AND n.conversation_id"
            " = m.conversation_id AND n.kind = 'episode' AND n.id > m.id) FROM memories m "
            "WHERE +m.user_id = ? AND m.kind = 'episode' AND m.conversation_id IS NOT NULL "
            "AND m.id IN", user.id, memory_ids)
        return {int(r[0]): (r[1], r[2]) for r in rows}

    def adjacent(self, user: User,
                 memory_ids: Iterable[int]) -> dict[int, tuple[int | None, int | None]]:
        """For episodes: the episodes said just before and after, in the same conversation."""
        return self.db.run(lambda db: self._adjacent(db, user, memory_ids))

    def speakers(self, user: User) -> set[str]:
        """Everyone who speaks in this user's episodes."""
        return {r[0] for r in self.db.run(lambda db: db.execute(
            "SELECT DISTINCT speaker FROM memories WHERE user_id = ? AND speaker != ''",
            (user.id,)).fetchall())}

    @staticmethod
    def _add_sources(db: sqlite3.Connection, memory_id: int, turns: Iterable[int]) -> None:
        # Only turns that still exist (and the caller's turns are the user's own).
        for turn_id in turns:
            db.execute("INSERT OR IGNORE INTO memory_sources SELECT ?, id FROM turns WHERE id = ?",
                       (memory_id, turn_id))

    def edit(self, user: User, memory_id: int, text: str, vector: Vectors | None) -> Memory:
        """Correct a record's words (the user's edit wins; keys stay as they were)."""

        def work(db: sqlite3.Connection) -> Memory:
            old = self._get(db, user, memory_id)
            with transaction(db):
                db.execute("UPDATE memories SET text = ? WHERE id = ? AND user_id = ?",
                           (text, memory_id, user.id))
                db.execute("DELETE FROM memory_fts WHERE rowid = ?", (memory_id,))
                db.execute("DELETE FROM memory_vectors WHERE memory_id = ?", (memory_id,))
                self._index(db, user, memory_id, search_body(
                    text, old.speaker, old.subject, old.relation, old.value,
                    old.created_at if old.kind == "episode" else None), vector)
                if old.kind == "episode":
                    pair = self._adjacent(db, user, [memory_id]).get(memory_id, (None, None))
                    self._rewindow(db, user, [memory_id, *(i for i in pair if i is not None)])
                if old.turn_id is not None:  # an episode is the turn: correct the turn too
                    db.execute("UPDATE turns SET content = ? WHERE id = ? AND user_id = ?",
                               (text, old.turn_id, user.id))
            self._scrub(db)  # the old words must leave the index segments and the log too
            return self._get(db, user, memory_id)

        return self.db.run(work)

    # -- forgetting ------------------------------------------------------------------

    def forget(self, user: User, memory_ids: Sequence[int]) -> list[int]:
        """Delete records, what was derived from them, and (for episodes) the turns themselves;
        then rewrite the keyword indexes and empty the write-ahead log so no copy survives.
        Returns the ids of every record that went."""

        def work(db: sqlite3.Connection) -> list[int]:
            with transaction(db):
                gone = self._forget_in(db, user, memory_ids)
            if gone:
                self._scrub(db)
            return gone

        return self.db.run(work)

    def _forget_in(self, db: sqlite3.Connection, user: User,
                   memory_ids: Sequence[int]) -> list[int]:
        chosen = _rows_in(db, "SELECT id, kind, turn_id FROM memories WHERE +user_id = ? "
                          "AND id IN", user.id, memory_ids)
        ids = {int(r[0]) for r in chosen}
        turns = {int(r[2]) for r in chosen if r[1] == "episode" and r[2] is not None}
        # Derived records whose every source turn is being forgotten go too.
        if turns:
            candidates = {int(r[0]) for r in _rows_in(
                db, "SELECT DISTINCT s.memory_id FROM memory_sources s JOIN memories m ON m.id = "
                "s.memory_id WHERE m.user_id = ? AND m.kind != 'episode' AND s.turn_id IN",
                user.id, turns)}
            for derived in candidates:
                sources = {r[0] for r in db.execute(
                    "SELECT turn_id FROM memory_sources WHERE memory_id = ?", (derived,))}
                if sources <= turns:
                    ids.add(derived)
        # Older versions a forgotten fact replaced go with it.
        frontier = set(ids)
        while frontier:
            older = {int(r[0]) for r in _rows_in(
                db, "SELECT id FROM memories WHERE user_id = ? AND superseded_by IN",
                user.id, frontier)} - ids
            ids |= older
            frontier = older
        gone = _rows_in(db, "SELECT id, kind, text, subject, relation FROM memories "
                        "WHERE +user_id = ? AND id IN", user.id, ids)
        # Window rows of the turns just outside each forgotten run quote them: rewrite those.
        adjacent = self._adjacent(db, user, ids)
        survivors = {n for pair in adjacent.values() for n in pair if n is not None} - ids
        for chunk in _chunks(sorted(ids)):
            marks = ",".join("?" * len(chunk))
            db.execute(f"DELETE FROM memories WHERE +user_id = ? AND id IN ({marks})",
                       (user.id, *chunk))
        self._rewindow(db, user, survivors)
        for chunk in _chunks(sorted(turns)):
            marks = ",".join("?" * len(chunk))
            db.execute(f"DELETE FROM turns WHERE +user_id = ? AND id IN ({marks})",
                       (user.id, *chunk))
        _strip_notes(db, user, gone)
        return sorted(ids)

    def about(self, user: User, name: str) -> list[Memory]:
        """Every current or past record that concerns or mentions ``name``."""
        phrase = '"' + name.replace('"', '""') + '"'
        match = (f"search @@ phraseto_tsquery('{TEXT_SEARCH}', ?)" if self._postgres
                 else "memory_fts MATCH ?")

        def work(db: sqlite3.Connection) -> list[Memory]:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE user_id = ? AND (lower(subject) = lower(?)"
                f" OR id IN (SELECT rowid FROM memory_fts WHERE {match})) ORDER BY id",
                (user.id, name, name if self._postgres else phrase)).fetchall()
            return [_memory(r) for r in rows]

        return self.db.run(work)

    # -- reading -------------------------------------------------------------------

    def get(self, user: User, memory_id: int) -> Memory:
        return self.db.run(lambda db: self._get(db, user, memory_id))

    def _get(self, db: sqlite3.Connection, user: User, memory_id: int) -> Memory:
        row = db.execute(f"SELECT {_COLUMNS} FROM memories WHERE id = ? AND user_id = ?",
                         (memory_id, user.id)).fetchone()
        if row is None:
            raise MemoryNotFoundError(
                f"No memory #{memory_id}. `os1 memory list` shows the ones os1 has.")
        sources = tuple(r[0] for r in db.execute(
            "SELECT turn_id FROM memory_sources WHERE memory_id = ? ORDER BY turn_id",
            (memory_id,)))
        return _memory(row, sources)

    def rank_facts(self, user: User, memory_ids: Sequence[int]) -> dict[int, RankFacts]:
        """What ranking needs of each candidate, and no more (hundreds per query)."""
        rows = self.db.run(lambda db: _rows_in(
            db, "SELECT id, speaker, importance, created_at, coalesce(occurred_at, created_at), "
            "superseded_by IS NULL AND valid_to IS NULL FROM memories WHERE +user_id = ? "
            "AND id IN", user.id, memory_ids))
        return {int(r[0]): RankFacts(r[1], float(r[2]), datetime.fromisoformat(r[3]),
                                     datetime.fromisoformat(r[4]), bool(r[5])) for r in rows}

    def many(self, user: User, memory_ids: Sequence[int]) -> dict[int, Memory]:
        def work(db: sqlite3.Connection) -> dict[int, Memory]:
            rows = _rows_in(db, f"SELECT {_COLUMNS} FROM memories WHERE +user_id = ? AND id IN",
                            user.id, memory_ids)
            return {r[0]: _memory(r) for r in rows}

        return self.db.run(work)

    def records(self, user: User, *, kinds: Sequence[MemoryKind] = (), history: bool = False,
             limit: int = 50, offset: int = 0, newest_first: bool = True) -> list[Memory]:
        where = ["user_id = ?"]
        args: list[Any] = [user.id]
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        if not history:
            where.append("superseded_by IS NULL AND valid_to IS NULL")
        order = "DESC" if newest_first else "ASC"

        def work(db: sqlite3.Connection) -> list[Memory]:
            rows = db.execute(f"SELECT {_COLUMNS} FROM memories WHERE {' AND '.join(where)} "
                              f"ORDER BY id {order} LIMIT ? OFFSET ?",
                              (*args, limit, offset)).fetchall()
            return [_memory(r) for r in rows]

        return self.db.run(work)

    def size(self) -> int:
        """Roughly how many records the database holds, all users together (for term
        weights): the highest id, which needs no scan."""
        return int(self.db.run(lambda db: db.execute(
            "SELECT coalesce(max(id), 0) FROM memories").fetchone()[0]))

    def count(self, user: User) -> int:
        return int(self.db.run(lambda db: db.execute(
            "SELECT count(*) FROM memories WHERE user_id = ?", (user.id,)).fetchone()[0]))

    def keyword_search(self, user: User, words: list[str], limit: int,
                       table: KeywordTable = "memory_fts", *,
                       newest_first: bool = False) -> list[tuple[int, float]]:
        """BM25 over this user's records for any of ``words`` (os1.memory.query.keywords).
        Higher score = better (FTS5's bm25 is negative). FTS5 scores every match before it can
        sort by score; ``newest_first`` takes the newest matches instead (scoring only those),
        for words so common that scoring all their matches would be slow."""
        if table not in KEYWORD_TABLES:
            raise ValueError(table)
        if self._postgres:
            return self._keyword_search_postgres(user, words, limit, table, newest_first)
        match = fts_query(words)
        order = f"{table}.rowid DESC" if newest_first else f"bm25({table})"

        def work(db: sqlite3.Connection) -> list[tuple[int, float]]:
            rows = db.execute(
                f"SELECT m.id, bm25({table}) FROM {table} JOIN memories m "
                f"ON m.id = {table}.rowid WHERE {table} MATCH ? AND m.user_id = ? "
                f"ORDER BY {order} LIMIT ?", (match, user.id, limit)).fetchall()
            return [(int(r[0]), -float(r[1])) for r in rows]

        return self.db.run(work)

    def _keyword_search_postgres(self, user: User, words: list[str], limit: int,
                                 table: KeywordTable,
                                 newest_first: bool) -> list[tuple[int, float]]:
        """ts_rank_cd over the OR of the words (each stemmed by PostgreSQL's english
        configuration; a stop word adds nothing). Higher = better, like the SQLite side."""
        if not words:
            return []
        query = " || ".join([f"plainto_tsquery('{TEXT_SEARCH}', ?)"] * len(words))
        order = "k.id DESC" if newest_first else "2 DESC, k.id DESC"

        def work(db: sqlite3.Connection) -> list[tuple[int, float]]:
            rows = db.execute(
                f"SELECT m.id, ts_rank_cd(k.search, q.query) FROM (SELECT {query} AS query) q "
                f"JOIN {table} k ON k.search @@ q.query JOIN memories m ON m.id = k.rowid "
                f"WHERE m.user_id = ? ORDER BY {order} LIMIT ?",
                (*words, user.id, limit)).fetchall()
            return [(int(r[0]), float(r[1])) for r in rows]

        return self.db.run(work)

    def term_counts(self, words: Sequence[str]) -> dict[str, int]:
        """How many records (of all users) hold each word, as the keyword index stems it.
        Used to leave a query's commonest words out: they cost the most and rank the least.
        (PostgreSQL: of the records this work may see — a request's own user's.)"""
        if self._postgres:
            return self._term_counts_postgres(words)

        def work(db: sqlite3.Connection) -> dict[str, int]:
            new = [w for w in words if w not in self._stems]
            if new:
                # Stem with FTS5's own tokenizer: a scratch FTS table in TEMP.
                db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_words USING "
                           "fts5(body, tokenize = 'porter unicode61 remove_diacritics 2')")
                db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_stems USING "
                           "fts5vocab('temp', 'query_words', 'instance')")
                db.execute("DELETE FROM temp.query_words")
                db.executemany("INSERT INTO temp.query_words (rowid, body) VALUES (?, ?)",
                               list(enumerate(new)))
                stems = {int(doc): term for term, doc in
                         db.execute("SELECT term, doc FROM temp.query_stems")}
                db.execute("DELETE FROM temp.query_words")
                if len(self._stems) > 50_000:
                    self._stems.clear()
                self._stems.update({word: stems.get(row, word) for row, word in enumerate(new)})
            wanted = sorted({self._stems[word] for word in words})
            found = dict(db.execute(
                "SELECT term, doc FROM memory_fts_terms WHERE term IN "
                f"({','.join('?' * len(wanted))})", wanted).fetchall()) if wanted else {}
            return {word: int(found.get(self._stems[word], 0)) for word in words}

        return self.db.run(work)

    def _term_counts_postgres(self, words: Sequence[str]) -> dict[str, int]:
        unique = sorted(set(words))
        if not unique:
            return {}

        def work(db: sqlite3.Connection) -> dict[str, int]:
            return {str(word): int(count) for word, count in db.execute(
                "SELECT w, (SELECT count(*) FROM memory_fts WHERE search @@ "
                f"plainto_tsquery('{TEXT_SEARCH}', w)) FROM unnest(?::text[]) AS w",
                (unique,)).fetchall()}

        counts = self.db.run(work)
        return {word: counts[word] for word in words}

    def nearest(self, user: User, vector: Vectors, k: int, *,
                exact_up_to: int) -> list[tuple[int, float]]:
        """PostgreSQL: this user's k nearest vectors by cosine similarity, in SQL. While the
        user has at most ``exact_up_to`` vectors they are scanned exactly (the HNSW index
        cannot filter by user before it searches, so it may come back short when many users
        share it); above that the HNSW index answers. Counted on the same connection."""
        value = self._vector_value(vector)

        def work(db: sqlite3.Connection) -> list[tuple[int, float]]:
            count = db.execute("SELECT count(*) FROM memory_vectors WHERE user_id = ?",
                               (user.id,)).fetchone()[0]
            exact = int(count) <= exact_up_to
            order = "(vector <=> ?) + 0" if exact else "vector <=> ?"  # + 0: not the index
            if not exact:
                db.execute("SELECT set_config('hnsw.ef_search', ?, false)",
                           (str(min(1000, max(40, 2 * k))),))
            rows = db.execute(
                "SELECT memory_id, 1 - (vector <=> ?) FROM memory_vectors WHERE user_id = ? "
                f"ORDER BY {order} LIMIT ?", (value, user.id, value, k)).fetchall()
            return [(int(r[0]), float(r[1])) for r in rows]

        return self.db.run(work)

    def neighbours(self, user: User, memory: Memory, before: int, after: int) -> list[Memory]:
        """The episodes said just before and after an episode in the same conversation."""
        if memory.conversation_id is None or memory.kind != "episode":
            return []

        def work(db: sqlite3.Connection) -> list[Memory]:
            earlier = db.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE user_id = ? AND conversation_id = ? "
                "AND kind = 'episode' AND id < ? ORDER BY id DESC LIMIT ?",
                (user.id, memory.conversation_id, memory.id, before)).fetchall()
            later = db.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE user_id = ? AND conversation_id = ? "
                "AND kind = 'episode' AND id > ? ORDER BY id LIMIT ?",
                (user.id, memory.conversation_id, memory.id, after)).fetchall()
            return [_memory(r) for r in reversed(earlier)] + [_memory(r) for r in later]

        return self.db.run(work)

    def vector_stamp(self, user: User) -> tuple[int, int, int]:
        """Changes whenever this user's vectors change: tells a saved index it is stale."""
        row = self.db.run(lambda db: db.execute(
            "SELECT count(*), coalesce(max(memory_id), 0), coalesce(sum(memory_id), 0) "
            "FROM memory_vectors WHERE user_id = ?", (user.id,)).fetchone())
        return int(row[0]), int(row[1]), int(row[2])

    def vectors(self, user: User, *, after: int = 0,
                batch: int = 50_000) -> Iterable[tuple[list[int], Vectors, list[int]]]:
        """This user's vectors in id order, in batches: (ids, matrix, ids of damaged blobs)."""
        last = after

        def page(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return db.execute(
                "SELECT memory_id, vector FROM memory_vectors WHERE user_id = ? AND memory_id > ? "
                "ORDER BY memory_id LIMIT ?", (user.id, last, batch)).fetchall()

        while True:
            rows = self.db.run(page)
            if not rows:
                return
            good: list[tuple[int, Vectors]] = []
            damaged: list[int] = []
            for row in rows:
                vector = self._vector_of(row[1])
                if vector is None:
                    damaged.append(int(row[0]))
                else:
                    good.append((int(row[0]), vector))
            matrix = (np.stack([v for _, v in good]) if good
                      else np.zeros((0, DIMENSIONS), dtype=np.float32))
            yield [i for i, _ in good], matrix, damaged
            last = int(rows[-1][0])

    def vectors_of(self, user: User, memory_ids: Sequence[int]) -> dict[int, Vectors]:
        rows = self.db.run(lambda db: _rows_in(
            db, "SELECT memory_id, vector FROM memory_vectors WHERE +user_id = ? AND memory_id IN",
            user.id, memory_ids))
        vectors = {int(r[0]): self._vector_of(r[1]) for r in rows}
        return {i: v for i, v in vectors.items() if v is not None}

    def set_vector(self, user: User, memory_id: int, vector: Vectors) -> None:
        self.db.run(lambda db: db.execute(
            "INSERT OR REPLACE INTO memory_vectors SELECT id, user_id, ? FROM memories "
            "WHERE id = ? AND user_id = ?", (self._vector_value(vector), memory_id, user.id)))

    def export(self, user: User) -> list[dict[str, Any]]:
        """Every record of this user, oldest first, with the turns each came from."""

        def work(db: sqlite3.Connection) -> dict[int, list[int]]:
            sources: dict[int, list[int]] = {}
            for memory_id, turn_id in db.execute(
                    "SELECT s.memory_id, s.turn_id FROM memory_sources s JOIN memories m "
                    "ON m.id = s.memory_id WHERE m.user_id = ? ORDER BY s.turn_id", (user.id,)):
                sources.setdefault(memory_id, []).append(turn_id)
            return sources

        sources = self.db.run(work)
        return [{**memory.as_json(), "sources": sources.get(memory.id, [])}
                for memory in self.records(user, history=True, limit=-1, newest_first=False)]

    def _scrub(self, db: sqlite3.Connection) -> None:
        """After deleting: FTS5 keeps deleted words in old index segments until they are
        merged, and the write-ahead log keeps old page images until a checkpoint. Merge
        everything (the freed pages are zeroed by secure_delete) and truncate the log.
        PostgreSQL has neither: a deleted row is gone for every query at once; its bytes stay
        in the table file until VACUUM (autovacuum) frees the space and new rows reuse it."""
        if not self._postgres:
            _scrub(db)

    # -- extraction jobs (persisted, so a restart loses none) -----------------------

    def queue_extraction(self, user: User, turn_id: int) -> None:
        self.db.run(lambda db: db.execute(
            "INSERT OR IGNORE INTO memory_jobs (turn_id, user_id) SELECT id, user_id FROM turns "
            "WHERE id = ? AND user_id = ?", (turn_id, user.id)))

    def pending_extractions(self, user: User, limit: int = 8) -> list[tuple[int, str, str]]:
        """(turn id, role, words) of turns waiting for fact extraction, oldest first."""
        rows = self.db.run(lambda db: db.execute(
            "SELECT t.id, t.role, t.content FROM memory_jobs j JOIN turns t ON t.id = j.turn_id "
            "WHERE j.user_id = ? ORDER BY j.turn_id LIMIT ?", (user.id, limit)).fetchall())
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def finish_extraction(self, user: User, turn_ids: Sequence[int]) -> None:
        self.db.run(lambda db: _rows_in(
            db, "DELETE FROM memory_jobs WHERE user_id = ? AND turn_id IN", user.id, turn_ids))

    def fail_extraction(self, user: User, turn_ids: Sequence[int], max_attempts: int) -> int:
        """Count a failed try; drop jobs that failed ``max_attempts`` times. Returns how many."""

        def work(db: sqlite3.Connection) -> int:
            _rows_in(db, "UPDATE memory_jobs SET attempts = attempts + 1 WHERE user_id = ? "
                     "AND turn_id IN", user.id, turn_ids)
            return db.execute("DELETE FROM memory_jobs WHERE user_id = ? AND attempts >= ?",
                              (user.id, max_attempts)).rowcount

        return self.db.run(work)


def _memory(row: Sequence[Any], sources: tuple[int, ...] = ()) -> Memory:
    return Memory(
        id=row[0], kind=row[1], text=row[2], created_at=datetime.fromisoformat(row[3]),
        subject=row[4], relation=row[5], attribute=row[6], value=row[7], speaker=row[8],
        importance=row[9], mentions=row[10], occurred_at=_time(row[11]),
        valid_from=_time(row[12]), valid_to=_time(row[13]), superseded_by=row[14],
        conversation_id=row[15], turn_id=row[16], sources=sources)


def _chunks(values: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _rows_in(db: sqlite3.Connection, sql: str, user_id: int,
             values: Iterable[int]) -> list[tuple[Any, ...]]:
    """``sql`` ends in ``IN``; run it for the values in chunks (SQLite caps parameters).
    Where the ids are the selective part, the SQL writes ``+user_id``: the unary plus keeps
    SQLite from scanning the user's whole index instead of looking the ids up."""
    out: list[tuple[Any, ...]] = []
    for chunk in _chunks(sorted(set(values))):
        marks = ",".join("?" * len(chunk))
        out.extend(db.execute(f"{sql} ({marks})", (user_id, *chunk)).fetchall())
    return out


def _strip_notes(db: sqlite3.Connection, user: User, gone: Sequence[tuple[Any, ...]]) -> None:
    """Later turns' context notes quote the memories recalled into them (os1.memory.notes):
    drop every note line that quotes a forgotten one."""
    marks: list[str] = []
    for _id, kind, text, subject, relation in gone:
        said = " ".join(str(text).split())
        marks.append(said[:40] if len(said) >= 8 else f'"{said}"')
        if kind != "episode" and relation and subject:
            marks.append(f"The user's {str(relation).casefold()} is {subject}.")
    marks = [m for m in marks if m]
    if not marks:
        return
    rows = db.execute("SELECT id, context FROM turns WHERE user_id = ? AND context != ''",
                      (user.id,)).fetchall()
    for turn_id, context in rows:
        lines = str(context).split("\n")
        kept = [line for line in lines if not any(m in " ".join(line.split()) for m in marks)]
        if len(kept) != len(lines):
            db.execute("UPDATE turns SET context = ? WHERE id = ? AND user_id = ?",
                       ("\n".join(kept), turn_id, user.id))


def _scrub(db: sqlite3.Connection) -> None:
    for table in ("memory_fts", "memory_back_fts", "memory_around_fts"):
        db.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
