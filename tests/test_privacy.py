"""`os1 export` and `os1 forget --everything`, on real SQLite files and the real `os1`
command: the export holds everything and streams; after forgetting, no byte is left."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from os1.affect.timeline import MoodReading, MoodTimeline
from os1.app import open_memory
from os1.config import Settings
from os1.memory.records import NewFact
from os1.persona.profile import PersonaSettings, save_persona_settings
from os1.persona.self_model import SelfModel, add_version
from os1.privacy.export import TABLES, export_everything
from os1.safety.log import record
from os1.store.base import NewTurn, Turn, User
from os1.store.sqlite import SQLiteStore

SECRET = "Zanzibar-7431 is the name of my secret lighthouse"
NOW = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)


def said(store: SQLiteStore, user: User, text: str, minutes: int = 0) -> Turn:
    conversation = store.current_conversation(user)
    return store.add_turn(user, NewTurn(conversation.id, "user", text, "", "complete",
                                        NOW + timedelta(minutes=minutes)))


def a_life(settings: Settings) -> None:
    """Ana's data in every place os1 keeps some (and Ben's, which must survive)."""
    store = SQLiteStore(settings.database_path)
    memory = open_memory(settings, store)
    ana, ben = store.user("ana"), store.user("ben")
    turn = said(store, ana, SECRET)
    memory.remember_turn(ana, turn, "ana")
    memory.remember_fact(ana, NewFact("fact", f"Ana's lighthouse is {SECRET}",
                                      attribute="lighthouse", sources=(turn.id,)), NOW)
    MoodTimeline(store).add(ana, MoodReading(NOW, -0.4, 0.3, 0.8, ("sadness",), "text",
                                             "reflection", turn.id))
    store.run(lambda db: record(db, ana, turn.id, NOW, "suicide", "suicide risk (0.99)"))
    store.run(lambda db: _persona_and_checkins(db, ana, turn.id))
    store.run(lambda db: _skills(db, ana))
    store.new_conversation(ana)
    said(store, ana, "a second conversation about the sea", 5)
    ben_turn = said(store, ben, "Ben's own words about his garden")
    memory.remember_turn(ben, ben_turn, "ben")
    memory.close()
    store.close()
    kv = settings.data_dir / "kv"
    kv.mkdir(parents=True, exist_ok=True)
    (kv / "session-1.bin").write_bytes(b"KV state " + SECRET.encode())  # a session snapshot
    (kv / "persona-1-abc.bin").write_bytes(b"KV " + SECRET.encode())  # a personal persona's
    letters = settings.data_dir / "users" / str(ana.id) / "letters"  # a letter's PDF
    letters.mkdir(parents=True)
    (letters / "letter-1.pdf").write_bytes(b"%PDF " + SECRET.encode())


def _skills(db: sqlite3.Connection, ana: User) -> None:
    """What os1 did for Ana: an action, a reminder, a letter, a mail draft."""
    at = NOW.isoformat()
    db.execute("INSERT INTO action_log (user_id, at, action, arguments, origin, status) "
               "VALUES (?, ?, 'remind.add', ?, 'chat', 'done')",
               (ana.id, at, f'{{"what": "{SECRET}"}}'))
    db.execute("INSERT INTO reminders (user_id, uid, text, due_at, created_at, status) "
               "VALUES (?, 'u1', ?, ?, ?, 'pending')", (ana.id, SECRET, at, at))
    db.execute("INSERT INTO letters (user_id, recipient, body, created_at, updated_at) "
               "VALUES (?, 'my sister', ?, ?, ?)", (ana.id, f"Dear Maya, {SECRET}", at, at))
    db.execute("INSERT INTO mail_drafts (user_id, uid_validity, uid, recipient, subject, "
               "in_reply_to, body) VALUES (?, 1, 1, 'amy@example.com', 'Re: hi', '', ?)",
               (ana.id, SECRET))


def _persona_and_checkins(db: sqlite3.Connection, ana: User, turn_id: int) -> None:
    """Who the companion is with Ana, what it learned, and what it means to ask her."""
    save_persona_settings(db, ana, PersonaSettings("Lumen", "Ana", "calm"), NOW)
    db.execute("INSERT INTO onboarding (user_id, question, answer, status, at) "
               "VALUES (?, 'good_day', ?, 'answered', ?)", (ana.id, SECRET, NOW.isoformat()))
    grown = replace(SelfModel.initial("calm"), relationship=f"We talk about {SECRET}.")
    add_version(db, ana, grown, "reflection", turn_id, NOW, journal=f"Ana told me of {SECRET}.")
    db.execute("INSERT INTO checkins (user_id, kind, trigger_key, about, turn_id, created_at, "
               "due_at, expires_at, text, status) VALUES (?, 'follow_up', 'k', ?, ?, ?, ?, ?, "
               "?, 'pending')", (ana.id, SECRET, turn_id, NOW.isoformat(), NOW.isoformat(),
                                 NOW.isoformat(), f"How did {SECRET} go?"))
    db.execute("INSERT INTO checkin_state (user_id, paused_until) VALUES (?, ?)",
               (ana.id, NOW.isoformat()))


def test_the_export_holds_everything_and_only_this_user(settings: Settings,
                                                        tmp_path: Path) -> None:
    a_life(settings)
    store = SQLiteStore(settings.database_path)
    report = export_everything(store, store.user("ana"), settings, tmp_path / "export")
    store.close()
    document = json.loads((tmp_path / "export" / "everything.json").read_text())
    assert [t["content"] for t in document["turns"]] == [
        SECRET, "a second conversation about the sea"]
    assert len(document["conversations"]) == 2
    assert {m["kind"] for m in document["memories"]} == {"episode", "fact"}
    assert document["mood_readings"][0]["labels"] and document["safety_events"][0]["kind"]
    assert document["memory_sources"] and "llm_api_key" not in document["settings"]
    assert "Ben" not in json.dumps(document)
    readable = (tmp_path / "export" / "conversations").glob("*.md")
    assert sum(SECRET in p.read_text() for p in readable) == 1
    assert SECRET in (tmp_path / "export" / "memories.md").read_text()
    assert "suicide" in (tmp_path / "export" / "safety-log.md").read_text()
    assert "sadness" in (tmp_path / "export" / "mood.csv").read_text()
    assert report.rows["turns"] == 2
    assert document["persona_settings"][0]["companion_name"] == "Lumen"
    for table in ("onboarding", "self_models", "journal", "checkins", "action_log",
                  "reminders", "letters", "mail_drafts"):
        assert SECRET in json.dumps(document[table], ensure_ascii=False), table
    assert SECRET in (tmp_path / "export" / "journal.md").read_text()


def test_every_table_holding_user_rows_is_exported(settings: Settings) -> None:
    """A table added later with a user_id column must be added to the export too."""
    store = SQLiteStore(settings.database_path)
    tables = store.run(lambda db: [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")])
    with_users = {t for t in tables
                  if any(c[1] == "user_id" for c in store.run(
                      lambda db, t=t: db.execute(f"PRAGMA table_info({t})").fetchall()))}
    store.close()
    # Not the user's words: queued jobs, vectors (numbers computed from exported text), and
    # the server's password hash and session token hashes (credentials, never handed out).
    not_words = {"memory_jobs", "memory_vectors", "accounts", "sessions"}
    assert with_users - not_words <= set(TABLES), with_users - set(TABLES)


def test_a_very_large_history_exports_in_constant_memory(settings: Settings,
                                                         tmp_path: Path) -> None:
    store = SQLiteStore(settings.database_path)
    ana = store.user("ana")
    conversation = store.current_conversation(ana)
    words = "a long day at the harbour, the boats came in late and the gulls were loud " * 14
    rows = [(conversation.id, ana.id, "user" if n % 2 == 0 else "assistant", f"{n} {words}",
             (NOW + timedelta(seconds=n)).isoformat()) for n in range(40_000)]
    store.run(lambda db: db.executemany(
        "INSERT INTO turns (conversation_id, user_id, role, content, context, status, "
        "created_at) VALUES (?, ?, ?, ?, '', 'complete', ?)", rows))
    history_bytes = sum(len(r[3]) for r in rows)
    rows.clear()
    tracemalloc.start()
    report = export_everything(store, ana, settings, tmp_path / "big")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    store.close()
    assert report.rows["turns"] == 40_000
    assert (tmp_path / "big" / "everything.json").stat().st_size > history_bytes
    # A page of rows (1,000 here, ~1 MB of text) at a time, not the whole 40 MB history.
    assert peak < history_bytes / 8, (peak, history_bytes)


def files_holding(folder: Path, secret: bytes) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and secret in p.read_bytes()]


def test_forget_everything_leaves_no_byte_behind(settings: Settings, clean_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    settings = settings.with_overrides(data_dir=Path(clean_env["OS1_DATA_DIR"]))
    config = Path(clean_env["OS1_CONFIG_FILE"])
    config.write_text('avoid_topics = "Zanzibar-7431"\nuser_name = "ana"\n')
    a_life(settings)
    secret = b"Zanzibar-7431"
    assert files_holding(settings.data_dir, secret)  # it was there to begin with
    run = subprocess.run([sys.executable, "-m", "os1", "forget", "--everything", "--yes"],
                         env=clean_env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "holds nothing about you" in run.stdout
    assert files_holding(settings.data_dir, secret) == []
    assert files_holding(settings.data_dir, b"lighthouse") == []
    assert not config.exists()
    store = SQLiteStore(settings.database_path)  # Ben's data is his, and stays
    ben = store.user("ben")
    assert [t.content for t in store.turns(ben, store.current_conversation(ben).id)] == [
        "Ben's own words about his garden"]
    store.close()


def test_nothing_comes_back_from_a_job_that_finishes_after_forgetting(
        settings: Settings) -> None:
    from os1.privacy.erase import erase_user

    a_life(settings)
    store = SQLiteStore(settings.database_path)
    ana = store.user("ana")
    turn_ids = store.run(lambda db: [r[0] for r in db.execute(
        "SELECT id FROM turns WHERE user_id = ?", (ana.id,))])
    erase_user(store, open_memory(settings, store), ana, [], settings.memory_dir)
    # An extraction that was running meanwhile now finishes with what it found.
    late = open_memory(settings, store)
    written = late.remember_extracted(
        ana, [NewFact("fact", SECRET, attribute="lighthouse", sources=tuple(turn_ids))],
        turn_ids, NOW)
    late.close()
    assert written == []
    again = store.user("ana")  # a new Ana starts with nothing, under a new id
    assert again.id != ana.id
    holding = store.run(lambda db: db.execute(
        "SELECT count(*) FROM memories WHERE text LIKE '%Zanzibar%'").fetchone()[0])
    assert holding == 0
    store.close()
