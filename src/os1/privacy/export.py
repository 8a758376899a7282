"""`os1 export`: everything os1 holds about one user, as JSON and as files a person can read.

    FOLDER/everything.json      every row of every table that holds this user's data
    FOLDER/conversations/*.md   each conversation as a transcript
    FOLDER/memories.md          what os1 remembers, by kind
    FOLDER/mood.csv             the mood timeline
    FOLDER/safety-log.md        the crisis protocol's log
    FOLDER/settings.toml        the settings in effect (secrets left out)

Streams: rows are read a page at a time and written as they come, so a history of millions
of turns exports in constant memory. The JSON is written to a temporary name and renamed
at the end: a half-written export never looks complete.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from os1.config import Settings
from os1.store.base import Database, User

PAGE = 1000
FORMAT = "os1-export/1"

# Every table with a user's rows, and how to find them. Vectors are left out: they are
# numbers computed from the memories' text, which is exported.
TABLES: dict[str, str] = {
    "conversations": "SELECT * FROM conversations WHERE user_id = ? AND id > ? ORDER BY id",
    "turns": "SELECT * FROM turns WHERE user_id = ? AND id > ? ORDER BY id",
    "memories": "SELECT * FROM memories WHERE user_id = ? AND id > ? ORDER BY id",
    # id = the memory's; its source turns as one comma-separated list (pages by memory)
    "memory_sources": "SELECT s.memory_id AS id, group_concat(s.turn_id) AS turn_ids "
                      "FROM memory_sources s JOIN memories m ON m.id = s.memory_id "
                      "WHERE m.user_id = ? AND s.memory_id > ? GROUP BY s.memory_id "
                      "ORDER BY s.memory_id",
    "mood_readings": "SELECT * FROM mood_readings WHERE user_id = ? AND id > ? ORDER BY id",
    "voice_baselines": "SELECT rowid AS id, * FROM voice_baselines WHERE user_id = ? "
                       "AND rowid > ? ORDER BY rowid",
    "safety_events": "SELECT * FROM safety_events WHERE user_id = ? AND id > ? ORDER BY id",
    "persona_settings": "SELECT rowid AS id, * FROM persona_settings WHERE user_id = ? "
                        "AND rowid > ? ORDER BY rowid",
    "onboarding": "SELECT rowid AS id, * FROM onboarding WHERE user_id = ? AND rowid > ? "
                  "ORDER BY rowid",
    "self_models": "SELECT * FROM self_models WHERE user_id = ? AND id > ? ORDER BY id",
    "journal": "SELECT * FROM journal WHERE user_id = ? AND id > ? ORDER BY id",
    "checkins": "SELECT * FROM checkins WHERE user_id = ? AND id > ? ORDER BY id",
    "checkin_state": "SELECT rowid AS id, * FROM checkin_state WHERE user_id = ? "
                     "AND rowid > ? ORDER BY rowid",
    "action_log": "SELECT * FROM action_log WHERE user_id = ? AND id > ? ORDER BY id",
    "reminders": "SELECT * FROM reminders WHERE user_id = ? AND id > ? ORDER BY id",
    "letters": "SELECT * FROM letters WHERE user_id = ? AND id > ? ORDER BY id",
    # The account without its password: an export is a file the user may pass around.
    "mail_accounts": "SELECT rowid AS id, user_id, address, imap_host, imap_port, smtp_host, "
                     "smtp_port, username, security, updated_at FROM mail_accounts "
                     "WHERE user_id = ? AND rowid > ? ORDER BY rowid",
    "mail_triage": "SELECT rowid AS id, * FROM mail_triage WHERE user_id = ? AND rowid > ? "
                   "ORDER BY rowid",
    "mail_listing": "SELECT rowid AS id, * FROM mail_listing WHERE user_id = ? AND rowid > ? "
                    "ORDER BY rowid",
    "mail_drafts": "SELECT rowid AS id, * FROM mail_drafts WHERE user_id = ? AND rowid > ? "
                   "ORDER BY rowid",
}

Progress = Callable[[str, int], None]  # table, rows written so far

# PostgreSQL tables have no rowid: the tables keyed by something else are numbered per export.
_BY_ROWID = re.compile(r"SELECT rowid AS id, (.+) FROM (\w+) WHERE user_id = \? AND rowid > \? "
                       r"ORDER BY rowid")


def _query_for(store: Database, query: str) -> str:
    if store.dialect != "postgresql":
        return query
    match = _BY_ROWID.fullmatch(query)
    if match is None:
        return query
    columns, table = match.groups()
    return (f"SELECT * FROM (SELECT row_number() OVER (ORDER BY ctid) AS id, {columns} "
            f"FROM {table} WHERE user_id = ?) AS numbered WHERE id > ? ORDER BY id")


@dataclass(frozen=True)
class ExportReport:
    folder: Path
    rows: dict[str, int]


def export_everything(store: Database, user: User, settings: Settings, folder: Path,
                      progress: Progress | None = None) -> ExportReport:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conversations").mkdir(exist_ok=True)
    counts: dict[str, int] = {}
    partial = folder / "everything.json.partial"
    with partial.open("w", encoding="utf-8") as out, \
            (folder / "mood.csv").open("w", encoding="utf-8", newline="") as mood, \
            (folder / "memories.md").open("w", encoding="utf-8") as memories, \
            (folder / "safety-log.md").open("w", encoding="utf-8") as safety, \
            (folder / "journal.md").open("w", encoding="utf-8") as journal:
        readable = _Readable(folder / "conversations", mood, memories, safety, journal)
        out.write("{" + f'"format": {json.dumps(FORMAT)}, "user": {json.dumps(user.name)}, '
                  f'"exported_at": {json.dumps(datetime.now().astimezone().isoformat())},\n'
                  f'"settings": {json.dumps(_settings(settings))}')
        for table, query in TABLES.items():
            out.write(f',\n"{table}": [')
            written = 0
            for row in _rows(store, query, user):
                out.write(("," if written else "") + "\n" + json.dumps(row, ensure_ascii=False))
                readable.add(table, row)
                written += 1
                if progress is not None and written % PAGE == 0:
                    progress(table, written)
            out.write("]")
            counts[table] = written
            if progress is not None:
                progress(table, written)
        out.write("\n}\n")
        readable.close()
    partial.replace(folder / "everything.json")
    (folder / "settings.toml").write_text(
        "".join(f"{name} = {json.dumps(value)}\n" for name, value in _settings(settings).items()),
        encoding="utf-8")
    return ExportReport(folder, counts)


def _rows(store: Database, query: str, user: User) -> Iterator[dict[str, Any]]:
    """A table's rows for this user, a page at a time (the lock is held per page only)."""
    after = 0

    query = _query_for(store, query)

    def page(db: sqlite3.Connection) -> list[dict[str, Any]]:
        cursor = db.execute(query + f" LIMIT {PAGE}", (user.id, after))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    while True:
        rows = store.run(page)
        if not rows:
            return
        yield from rows
        after = int(rows[-1]["id"])


def _settings(settings: Settings) -> dict[str, Any]:
    secret = {f.name for f in fields(Settings) if f.metadata.get("secret")}
    return {f.name: str(getattr(settings, f.name)) if isinstance(getattr(settings, f.name), Path)
            else getattr(settings, f.name)
            for f in fields(Settings) if f.name not in secret}


class _Readable:
    """The same rows, as files a person would open."""

    def __init__(self, conversations: Path, mood: IO[str], memories: IO[str],
                 safety: IO[str], journal: IO[str]) -> None:
        self._folder = conversations
        self._open: tuple[int, IO[str]] | None = None
        self._mood = csv.writer(mood)
        self._mood.writerow(["at", "day", "valence", "arousal", "confidence", "labels",
                             "source"])
        self._memories = memories
        memories.write("# What os1 remembers\n\n")
        self._safety = safety
        safety.write("# Safety log\n\nMessages that made os1 follow its crisis protocol "
                     "(docs/safety.md). Only you can see this.\n\n")
        self._journal = journal
        journal.write("# The companion's journal\n\nWhat it wrote when it reflected on your "
                      "conversations (os1 persona).\n\n")

    def add(self, table: str, row: dict[str, Any]) -> None:
        if table == "turns":
            self._turn(row)
        elif table == "memories":
            current = "" if row["valid_to"] is None else f" (until {row['valid_to']})"
            self._memories.write(f"- [{row['kind']}] {row['text']}{current}\n")
        elif table == "mood_readings":
            self._mood.writerow([row["at"], row["day"], row["valence"], row["arousal"],
                                 row["confidence"], row["labels"], row["source"]])
        elif table == "safety_events":
            self._safety.write(f"- {row['at']}: {row['detail']} (turn {row['turn_id']})\n")
        elif table == "journal":
            self._journal.write(f"- {row['written_at']}: {row['text']}\n")

    def _turn(self, row: dict[str, Any]) -> None:
        conversation = int(row["conversation_id"])
        if self._open is None or self._open[0] != conversation:
            self.close()
            # Turns come in id order; a conversation continued later is appended to.
            path = self._folder / f"conversation-{conversation:05d}.md"
            handle = path.open("a", encoding="utf-8")
            if handle.tell() == 0:
                handle.write(f"# Conversation {conversation}\n\n")
            self._open = (conversation, handle)
        who = "You" if row["role"] == "user" else "os1"
        cut = " *(cut off)*" if row["status"] == "interrupted" else ""
        self._open[1].write(f"**{who}** ({row['created_at']}): {row['content']}{cut}\n\n")

    def close(self) -> None:
        if self._open is not None:
            self._open[1].close()
            self._open = None
