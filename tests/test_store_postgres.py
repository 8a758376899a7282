"""The PostgreSQL store on a real PostgreSQL 16 with pgvector (tests/databases.py): the Store
seam on both backends, the SQLite→PostgreSQL translation, migrations, row-level security (a
query that forgot its WHERE still only sees its own user), memory (keywords and vectors),
and a server restart in the middle of writes."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from databases import TestServer, database_name, database_url, postgres, postgres_url  # noqa: F401
from os1.config import ConfigError, Settings, load_settings
from os1.memory.embedder import Embedder
from os1.memory.engine import MemoryEngine
from os1.memory.errors import MemoryNotFoundError
from os1.memory.records import NewFact
from os1.memory.vectors import DatabaseVectorIndex
from os1.store.base import Database, NewTurn, StorageError
from os1.store.dialect import Schema, Table, translate, translate_migration
from os1.store.migrations import MIGRATIONS
from os1.store.open import open_store
from os1.store.postgres import PostgresStore
from os1.store.scope import user_scope
from os1.store.sqlite import transaction
from test_memory import MONDAY, embedder, say  # noqa: F401


def _open(url: str, tmp_path: Path) -> Database:
    return open_store(Settings(data_dir=tmp_path / "data", database_url=url))


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[Database]:  # noqa: F811
    opened = _open(database_url, tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresStore]:  # noqa: F811
    opened = PostgresStore(postgres_url)
    yield opened
    opened.close()


def _turn(store: Database, name: str, text: str) -> tuple[Any, Any]:
    user = store.user(name)
    conversation = store.current_conversation(user)
    return user, store.add_turn(user, NewTurn(conversation.id, "user", text, "", "complete",
                                              MONDAY))


# -- the Store seam, on both backends ---------------------------------------------------


def test_the_store_seam_behaves_the_same_on_both(store: Database) -> None:
    ana = store.user("ana")
    assert store.user("ana") == ana  # created once
    first = store.current_conversation(ana)
    assert store.current_conversation(ana) == first
    turn = store.add_turn(ana, NewTurn(first.id, "user", "hello 100% 'quoted' ?", "ctx",
                                       "complete", MONDAY))
    reply = store.add_turn(ana, NewTurn(first.id, "assistant", "hi", "", "interrupted",
                                        MONDAY + timedelta(seconds=1)))
    assert reply.id > turn.id
    assert [t.content for t in store.turns(ana, first.id)] == ["hello 100% 'quoted' ?", "hi"]
    assert store.turns(ana, first.id)[1].status == "interrupted"
    assert store.turns(ana, first.id)[0].created_at == MONDAY
    second = store.new_conversation(ana)
    assert second.id > first.id and store.current_conversation(ana) == second
    bo = store.user("bo")
    with pytest.raises(StorageError, match="does not belong"):
        store.add_turn(bo, NewTurn(first.id, "user", "not mine", "", "complete", MONDAY))
    assert store.turns(bo, first.id) == []


def test_sqlite_dialect_statements_run_on_both(store: Database) -> None:
    """What the ~25 modules above the store write, through `run`, unchanged."""
    user, turn = _turn(store, "ana", "I need to call the dentist")

    def work(db: sqlite3.Connection) -> list[Any]:
        with transaction(db):
            db.execute("INSERT INTO mood_readings (user_id, turn_id, at, day, valence, arousal, "
                       "confidence, labels, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (user.id, turn.id, "2026-11-23T19:00:00+00:00", "2026-11-23", -0.5, 0.2,
                        0.1, "[]", "text"))
        cursor = db.execute("INSERT INTO letters (user_id, recipient, body, created_at, "
                            "updated_at, in_book) VALUES (?, ?, ?, ?, ?, ?)",
                            (user.id, "Mum", "Dear Mum", "t", "t", True))
        assert isinstance(cursor.lastrowid, int) and cursor.rowcount == 1
        for _ in range(2):
            db.execute("INSERT OR IGNORE INTO memory_jobs (turn_id, user_id) VALUES (?, ?)",
                       (turn.id, user.id))
        for label in ("important", "can_wait"):
            db.execute("INSERT OR REPLACE INTO mail_triage (user_id, folder, uid_validity, uid, "
                       "category, reason, suspicious, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (user.id, "INBOX", 1, 7, label, "", 0, "t"))
        rows = [
            db.execute("SELECT day, SUM(w * valence) / SUM(w), COUNT(*) FROM (SELECT day, "
                       "valence, MAX(confidence, ?) AS w FROM mood_readings WHERE user_id = ?) "
                       "GROUP BY day", (0.5, user.id)).fetchall(),
            db.execute("SELECT count(*) FROM memory_jobs WHERE user_id = ?",
                       (user.id,)).fetchone()[0],
            db.execute("SELECT category FROM mail_triage WHERE user_id = ?",
                       (user.id,)).fetchall(),
            db.execute("SELECT id FROM turns WHERE user_id = ? AND instr(content, ?) > 0",
                       (user.id, "dentist")).fetchall(),
            db.execute("SELECT in_book, coalesce(sum(id), 0) FROM letters WHERE user_id = ? "
                       "GROUP BY in_book", (user.id,)).fetchall(),
            [r[0] for r in db.execute("SELECT content FROM turns WHERE content LIKE '%DENTIST%' "
                                      "LIMIT ?", (-1,))],
        ]
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # SQLite's own: nothing on PostgreSQL
        return rows

    days, jobs, triage, found, letters, liked = store.run(work)
    assert days == [("2026-11-23", -0.5, 1)]
    assert jobs == 1
    assert triage == [("can_wait",)]
    assert found == [(turn.id,)]
    assert letters[0][0] == 1 and isinstance(letters[0][1], int)
    assert liked == ["I need to call the dentist"]

    def duplicate(db: sqlite3.Connection) -> str:
        try:
            db.execute("INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)",
                       (user.id, "dup", "t"))
        except sqlite3.IntegrityError:  # the class os1 catches, on both
            return "refused"
        return "stored"

    assert store.run(duplicate) == "refused"
    with pytest.raises(StorageError):  # uncaught: explained, as on SQLite
        store.run(lambda db: db.execute("INSERT INTO users (id, name, created_at) "
                                        "VALUES (?, ?, ?)", (user.id, "dup", "t")))


# -- the translation ---------------------------------------------------------------------


def test_statements_are_translated_without_touching_strings() -> None:
    schema = Schema({"mail_triage": Table(("user_id", "folder", "uid", "category"),
                                          ("user_id", "folder", "uid")),
                     "turns": Table(("id", "user_id", "content"), ("id",))})
    assert translate("SELECT '?', \"a?\", x FROM t WHERE a = ? AND b LIKE '5%'",
                     schema).sql == "SELECT '?', \"a?\", x FROM t WHERE a = %s AND b ILIKE '5%%'"
    ignore = translate("INSERT OR IGNORE INTO turns (user_id, content) VALUES (?, ?)", schema)
    assert ignore.sql == ("INSERT INTO turns (user_id, content) VALUES (%s, %s) "
                          "ON CONFLICT DO NOTHING RETURNING id")
    replace = translate("INSERT OR REPLACE INTO mail_triage (user_id, folder, uid, category) "
                        "VALUES (?, ?, ?, ?)", schema).sql
    assert replace.endswith("ON CONFLICT (user_id, folder, uid) DO UPDATE SET "
                            "category = EXCLUDED.category")
    assert translate("SELECT max(a, ?), max(b), min(c, d) FROM t", schema).sql == \
        "SELECT greatest(a, %s), max(b), least(c, d) FROM t"
    assert translate("SELECT group_concat(s.turn_id) FROM s", schema).sql == \
        "SELECT string_agg(CAST(s.turn_id AS TEXT), ',') FROM s"
    assert translate("SELECT ifnull(a, 0), instr(b, ?) FROM t ORDER BY rowid LIMIT ?",
                     schema).sql == ("SELECT coalesce(a, 0), strpos(b, %s) FROM t ORDER BY id "
                                     "LIMIT nullif(greatest(%s::bigint, -1), -1)")
    assert translate("PRAGMA foreign_keys=ON", schema).kind == "noop"
    assert translate("BEGIN IMMEDIATE", schema).kind == "begin"


def test_every_migration_translates_and_fts_becomes_tsvector() -> None:
    translated = [pg for script in MIGRATIONS for statement in script
                  for pg in translate_migration(statement)]
    text = "\n".join(translated)
    assert "AUTOINCREMENT" not in text and "VIRTUAL" not in text and "BLOB" not in text
    assert "search tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED" in text
    assert "vector vector(384)" in text and "USING hnsw" in text
    assert ("ALTER TABLE memory_fts ADD FOREIGN KEY (id) REFERENCES memories (id) "
            "ON DELETE CASCADE") in text
    # A new migration, as another engineer would append it, needs nothing PostgreSQL-specific.
    new = translate_migration("""CREATE TABLE notes_v9 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        text TEXT NOT NULL DEFAULT '', score REAL, raw BLOB, UNIQUE (user_id, text)
    ) WITHOUT ROWID""")
    assert new == ['CREATE TABLE notes_v9 (\n    id BIGINT GENERATED BY DEFAULT AS IDENTITY '
                   'PRIMARY KEY,\n    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE '
                   'CASCADE,\n    text TEXT COLLATE "C" NOT NULL DEFAULT \'\',\n    score DOUBLE '
                   'PRECISION,\n    raw BYTEA,\n    UNIQUE (user_id, text)\n)']


def test_migrations_are_recorded_and_every_user_table_is_row_secured(
        pg: PostgresStore, postgres: TestServer, postgres_url: str) -> None:  # noqa: F811
    database = database_name(postgres_url)
    with postgres.admin(database) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == \
            len(MIGRATIONS)
        tables = conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, EXISTS (SELECT 1 FROM "
            "information_schema.columns WHERE table_name = c.relname AND column_name = "
            "'user_id') FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = "
            "'public'::regnamespace").fetchall()
    with_users = {name for name, _, _, has in tables if has}
    assert {"turns", "memories", "accounts", "sessions", "memory_vectors"} <= with_users
    unsecured = {name for name, on, forced, _ in tables if not (on and forced)}
    assert unsecured == {"schema_version"}
    PostgresStore(postgres_url).close()  # a second start migrates nothing and still works


# -- row-level security ------------------------------------------------------------------


def test_a_scoped_request_cannot_see_or_touch_another_users_rows(
        pg: PostgresStore, postgres: TestServer, postgres_url: str) -> None:  # noqa: F811
    ana, _ = _turn(pg, "ana", "ana's secret")
    bo, bo_turn = _turn(pg, "bo", "bo's secret")
    everything = "SELECT user_id, content FROM turns ORDER BY id"  # no WHERE: a forgotten one
    with user_scope(ana.id):
        assert pg.run(lambda db: db.execute(everything).fetchall()) == [(ana.id, "ana's secret")]
        assert pg.run(lambda db: db.execute("SELECT name FROM users").fetchall()) == [("ana",)]
        assert pg.run(lambda db: db.execute("UPDATE turns SET content = 'x'").rowcount) == 1
        assert pg.run(lambda db: db.execute("DELETE FROM conversations").rowcount) == 1
        with pytest.raises(StorageError, match="row-level security"):
            pg.run(lambda db: db.execute(
                "INSERT INTO turns (conversation_id, user_id, role, content, status, "
                "created_at) VALUES (?, ?, 'user', 'planted', 'complete', 't')",
                (bo_turn.conversation_id, bo.id)))
        assert pg.turns(bo, bo_turn.conversation_id) == []  # even asking by bo's id
    # Unscoped work (the terminal app, background jobs) sees everyone; bo's rows are intact.
    assert pg.run(lambda db: db.execute(everything).fetchall()) == [(bo.id, "bo's secret")]
    # Any other connection as os1's role, which sets no scope, sees nothing at all.
    with psycopg.connect(postgres_url) as raw:
        assert raw.execute("SELECT count(*) FROM turns").fetchone()[0] == 0
    with postgres.admin(database_name(postgres_url)) as admin:
        assert admin.execute("SELECT count(*) FROM turns").fetchone()[0] == 1


def test_a_superuser_url_and_encryption_with_a_url_are_refused(
        postgres: TestServer, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(StorageError, match="row-level security does not apply"):
        PostgresStore(postgres.admin_url)
    with pytest.raises(ConfigError, match="encrypts it at rest"):
        open_store(Settings(data_dir=tmp_path, database_url="postgresql://x@localhost/os1",
                            encryption="keyring"))
    with pytest.raises(ConfigError, match="must start with postgresql://"):
        load_settings(env={"OS1_DATABASE_URL": "mysql://root@db/os1",
                              "OS1_CONFIG_FILE": str(tmp_path / "none.toml")})
    with pytest.raises(StorageError, match="Cannot connect"):
        PostgresStore("postgresql://os1@127.0.0.1:9/os1", wait_s=1)


# -- memory ------------------------------------------------------------------------------


@pytest.fixture
def engine(pg: PostgresStore, tmp_path: Path, embedder: Embedder) -> MemoryEngine:  # noqa: F811
    return MemoryEngine(pg, tmp_path / "memory", embedder=embedder)


def test_memory_recall_merge_edit_and_forget_on_postgres(pg: PostgresStore,
                                                         engine: MemoryEngine) -> None:
    me = pg.user("me")
    say(pg, engine, me, "My sister Maria is coming to visit next month.")
    say(pg, engine, me, "Work was long, the printer jammed twice.")
    say(pg, engine, me, "I really hate mornings, coffee is the only thing that helps.")
    pg.new_conversation(me)
    later = MONDAY + timedelta(days=3)
    assert isinstance(engine.index(me), DatabaseVectorIndex)
    hits = engine.recall(me, "I'm seeing my sister tonight", 3, later).hits
    assert "Maria" in hits[0].memory.text
    # Exact (a user's vectors scanned) and approximate (HNSW, above EXACT_LIMIT) agree here.
    probe = engine.embed_query("my sister")
    exact = engine.store.nearest(me, probe, 3, exact_up_to=10**9)  # scanned
    by_index = engine.store.nearest(me, probe, 3, exact_up_to=-1)  # the HNSW index
    assert [i for i, _ in by_index] == [i for i, _ in exact]
    assert 0.3 < exact[0][1] <= 1.0  # cosine similarity, as faiss gives it on SQLite
    # Paraphrase without a shared keyword: the vectors (pgvector) find it.
    assert engine.store.keyword_search(me, ["alarm"], 10) == []
    assert "mornings" in engine.recall(me, "ugh, early alarm again", 3, later).hits[0].memory.text
    # Stemming: "sisters" finds "sister"; term counts (for the keyword budget) stem too.
    assert engine.store.keyword_search(me, ["sisters"], 10)
    assert engine.store.term_counts(["sisters", "printer", "zebra", "the"]) == {
        "sisters": 1, "printer": 1, "zebra": 0, "the": 0}
    turn = say(pg, engine, me, "I live in Lisbon now.")
    lisbon = NewFact("fact", "The user lives in Lisbon.", attribute="lives in", value="Lisbon",
                     sources=(turn.id,))
    assert engine.remember_fact(me, lisbon, MONDAY).outcome == "added"
    assert engine.remember_fact(me, lisbon, MONDAY).memory.mentions == 2
    moved = engine.remember_fact(me, NewFact("fact", "The user lives in Porto.",
                                             attribute="lives in", value="Porto"), later)
    assert moved.outcome == "superseded" and moved.replaced is not None
    edited = engine.edit(me, moved.memory.id, "The user lives in Porto, by the river.")
    assert engine.store.keyword_search(me, ["river"], 5)[0][0] == edited.id
    found, report = engine.forget_about(me, "Maria")
    assert report.records == 1 and "Maria" in found[0].text
    assert engine.store.keyword_search(me, ["maria"], 5) == []
    assert engine.store.vectors_of(me, [found[0].id]) == {}
    assert len(engine.store.export(me)) == engine.store.count(me)


def test_memories_of_one_user_stay_theirs_on_postgres(pg: PostgresStore,
                                                      engine: MemoryEngine) -> None:
    alice, bob = pg.user("alice"), pg.user("bob")
    say(pg, engine, alice, "My secret: I applied to the Oslo orchestra.")
    fact = engine.remember_fact(alice, NewFact("fact", "Alice plays the cello in Oslo.",
                                               attribute="instrument", value="cello"), MONDAY)
    for query in ("Oslo orchestra cello", "what did I apply to"):
        assert engine.recall(bob, query, 10, MONDAY).hits == []
        with user_scope(bob.id):
            assert engine.recall(bob, query, 10, MONDAY).hits == []
        with user_scope(alice.id):
            assert engine.recall(alice, query, 10, MONDAY).hits
    with pytest.raises(MemoryNotFoundError):
        engine.edit(bob, fact.memory.id, "Bob took this over")
    assert engine.forget(bob, [fact.memory.id]).records == 0
    for query in ("'; DROP TABLE memories; -- 100%", "the and of to", "   "):
        assert isinstance(engine.recall(alice, query, 5, MONDAY).hits, list)


def test_a_second_process_sees_a_new_memory_at_once(
        pg: PostgresStore, postgres_url: str, tmp_path: Path,  # noqa: F811
        embedder: Embedder) -> None:  # noqa: F811
    first = MemoryEngine(pg, tmp_path / "a", embedder=embedder)
    other_store = PostgresStore(postgres_url)
    second = MemoryEngine(other_store, tmp_path / "b", embedder=embedder)
    try:
        me = pg.user("me")
        assert second.recall(me, "saxophone lessons", 3, MONDAY).hits == []  # index loaded
        say(pg, first, me, "I started saxophone lessons on Tuesday.")
        hits = second.recall(me, "do I play an instrument?", 3, MONDAY).hits
        assert hits and "saxophone" in hits[0].memory.text
    finally:
        other_store.close()


# -- a server restart in the middle of writes --------------------------------------------


def test_a_restart_mid_load_loses_no_acknowledged_write_and_recovers(
        postgres: TestServer, postgres_url: str) -> None:  # noqa: F811
    # A short wait for a connection, so the writers feel the outage instead of riding it out.
    pg = PostgresStore(postgres_url, wait_s=1)
    user = pg.user("ana")
    conversation = pg.current_conversation(user)
    acknowledged: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                turn = pg.add_turn(user, NewTurn(conversation.id, "user", f"line {n}", "",
                                                 "complete", datetime.now(UTC)))
                acknowledged.append(turn.id)
            except StorageError as exc:
                errors.append(str(exc))
                time.sleep(0.05)

    writers = [threading.Thread(target=write) for _ in range(3)]
    for thread in writers:
        thread.start()
    try:
        time.sleep(0.5)
        if postgres.restartable:
            postgres.stop()
            time.sleep(2.5)  # down longer than the store waits for a connection
            assert errors, "the outage was not noticed"
            down = len(acknowledged)
            postgres.start()
        else:
            postgres.cut_connections(database_name(postgres_url))
            down = len(acknowledged)
        deadline = time.monotonic() + 20
        while len(acknowledged) < down + 50 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in writers:
            thread.join()
    assert len(acknowledged) >= down + 50, "writes did not resume by themselves"
    assert all("connection" in e.lower() or "not answering" in e for e in errors), errors[:3]
    stored = {t.id for t in pg.turns(user, conversation.id)}
    assert set(acknowledged) <= stored  # every acknowledged write is there
    pg.close()
