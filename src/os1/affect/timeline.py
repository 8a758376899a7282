"""The mood timeline: one stored reading per user turn, rolled up per day and per week.

Readings live in the same SQLite file as the conversation they came from, linked to their turn:
forgetting a turn (`os1 memory forget`) deletes its reading by cascade, and `os1 mood forget`
deletes them all. Days are the user's local days (the reading's own UTC offset), weeks are ISO
weeks. A day's valence is the confidence-weighted mean of its readings, so a message read with
little certainty moves it little.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from os1.store.base import Database, User
from os1.store.sqlite import transaction

_MIN_WEIGHT = 0.05  # every read reading counts a little, even one read with low confidence
# The first words of the affect line in a turn's stored note (engine.TurnAffect.note): forgetting
# the timeline finds and removes those lines, which say what was read.
NOTE_PREFIX = "They seem to feel "


@dataclass(frozen=True)
class MoodReading:
    at: datetime
    valence: float  # −1 … 1
    arousal: float  # 0 … 1
    confidence: float  # 0 … 1
    labels: tuple[str, ...]
    source: str  # "text", "voice" or "text+voice"
    strategy: str = ""
    turn_id: int | None = None


@dataclass(frozen=True)
class MoodDay:
    day: date
    valence: float
    arousal: float
    readings: int
    lowest: float  # the lowest single reading's valence that day


@dataclass(frozen=True)
class MoodWeek:
    start: date  # the Monday
    valence: float
    arousal: float
    readings: int
    days: int


class MoodTimeline:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, user: User, reading: MoodReading) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO mood_readings (user_id, turn_id, at, day, valence, arousal, "
                "confidence, labels, source, strategy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user.id, reading.turn_id, reading.at.isoformat(), reading.at.date().isoformat(),
                 reading.valence, reading.arousal, reading.confidence, ",".join(reading.labels),
                 reading.source, reading.strategy))

        self._db.run(work)

    def days(self, user: User, since: date, until: date) -> list[MoodDay]:
        """Each day from ``since`` to ``until`` (inclusive) that has readings, oldest first."""

        def work(db: sqlite3.Connection) -> list[MoodDay]:
            rows = db.execute(
                "SELECT day, SUM(w * valence) / SUM(w), SUM(w * arousal) / SUM(w), COUNT(*), "
                "MIN(valence) FROM (SELECT day, valence, arousal, MAX(confidence, ?) AS w "
                "FROM mood_readings WHERE user_id = ? AND day BETWEEN ? AND ?) "
                "GROUP BY day ORDER BY day",
                (_MIN_WEIGHT, user.id, since.isoformat(), until.isoformat())).fetchall()
            return [MoodDay(date.fromisoformat(r[0]), float(r[1]), float(r[2]), int(r[3]),
                            float(r[4])) for r in rows]

        return self._db.run(work)

    def weeks(self, user: User, since: date, until: date) -> list[MoodWeek]:
        """ISO weeks (Monday first) rolled up from the days; each day weighs the same."""
        by_week: dict[date, list[MoodDay]] = {}
        for day in self.days(user, since, until):
            by_week.setdefault(day.day - timedelta(days=day.day.weekday()), []).append(day)
        return [MoodWeek(start, sum(d.valence for d in days) / len(days),
                         sum(d.arousal for d in days) / len(days),
                         sum(d.readings for d in days), len(days))
                for start, days in sorted(by_week.items())]

    def readings(self, user: User, since: date | None = None) -> list[MoodReading]:
        def work(db: sqlite3.Connection) -> list[MoodReading]:
            rows = db.execute(
                "SELECT at, valence, arousal, confidence, labels, source, strategy, turn_id "
                "FROM mood_readings WHERE user_id = ? AND day >= ? ORDER BY at, id",
                (user.id, (since or date.min).isoformat())).fetchall()
            return [MoodReading(datetime.fromisoformat(r[0]), r[1], r[2], r[3],
                                tuple(x for x in r[4].split(",") if x), r[5], r[6], r[7])
                    for r in rows]

        return self._db.run(work)

    def last_strategy(self, user: User) -> str | None:
        row = self._db.run(lambda db: db.execute(
            "SELECT strategy FROM mood_readings WHERE user_id = ? AND strategy != '' "
            "ORDER BY id DESC LIMIT 1", (user.id,)).fetchone())
        return None if row is None else str(row[0])

    def count(self, user: User) -> int:
        return self._db.run(lambda db: int(db.execute(
            "SELECT COUNT(*) FROM mood_readings WHERE user_id = ?", (user.id,)).fetchone()[0]))

    def forget(self, user: User) -> int:
        """Delete every reading, the voice baseline and the affect lines of the turns' stored
        notes; the freed pages are zeroed (secure_delete) and the write-ahead log emptied, so no
        copy survives. (The caller removes the KV-cache snapshots, which hold the notes too.)"""

        def work(db: sqlite3.Connection) -> int:
            with transaction(db):
                gone = db.execute("DELETE FROM mood_readings WHERE user_id = ?",
                                  (user.id,)).rowcount
                db.execute("DELETE FROM voice_baselines WHERE user_id = ?", (user.id,))
                noted = db.execute("SELECT id, context FROM turns WHERE user_id = ? AND "
                                   "instr(context, ?) > 0", (user.id, NOTE_PREFIX)).fetchall()
                for turn_id, context in noted:
                    kept = [line for line in str(context).split("\n")
                            if not line.startswith(NOTE_PREFIX)]
                    db.execute("UPDATE turns SET context = ? WHERE id = ? AND user_id = ?",
                               ("\n".join(kept), turn_id, user.id))
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return int(gone)

        return self._db.run(work)

    # -- the voice baseline (JSON of os1.affect.prosody.VoiceBaseline) ---------------

    def voice_baseline(self, user: User) -> str | None:
        def work(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT stats FROM voice_baselines WHERE user_id = ?",
                             (user.id,)).fetchone()
            return None if row is None else str(row[0])

        return self._db.run(work)

    def save_voice_baseline(self, user: User, stats: str, at: datetime) -> None:
        self._db.run(lambda db: db.execute(
            "INSERT INTO voice_baselines (user_id, stats, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET stats = excluded.stats, "
            "updated_at = excluded.updated_at", (user.id, stats, at.isoformat())))
