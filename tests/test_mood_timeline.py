"""The mood timeline on a real SQLite file: rollups, trends, charts, scoping and forgetting."""

import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from os1.affect.chart import text_chart, write_png
from os1.affect.timeline import NOTE_PREFIX, MoodDay, MoodReading, MoodTimeline
from os1.affect.trend import trend_of
from os1.app import open_memory
from os1.config import Settings
from os1.store.base import NewTurn
from os1.store.sqlite import SQLiteStore

TZ = timezone(timedelta(hours=-5))
TODAY = date(2026, 11, 27)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TZ)


def reading(day: date, valence: float, confidence: float = 0.8, hour: int = 12,
            turn_id: int | None = None) -> MoodReading:
    return MoodReading(at(day, hour), valence, 0.5, confidence, ("x",), "text", "Question",
                       turn_id)


def test_days_are_confidence_weighted_and_weeks_roll_up(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    timeline = MoodTimeline(store)
    user = store.user("ana")
    monday = date(2026, 11, 23)
    timeline.add(user, reading(monday, -0.8, confidence=0.9))
    timeline.add(user, reading(monday, 0.0, confidence=0.1, hour=13))
    timeline.add(user, reading(monday + timedelta(days=1), 0.4))
    timeline.add(user, reading(monday - timedelta(days=1), 0.6))  # the Sunday before
    days = timeline.days(user, monday - timedelta(days=7), monday + timedelta(days=6))
    assert [d.day for d in days] == [monday - timedelta(days=1), monday, monday + timedelta(1)]
    assert abs(days[1].valence - (-0.8 * 0.9) / 1.0) < 1e-9  # weights 0.9 and 0.1
    assert days[1].readings == 2 and days[1].lowest == -0.8
    weeks = timeline.weeks(user, monday - timedelta(days=7), monday + timedelta(days=6))
    assert [w.start for w in weeks] == [monday - timedelta(days=7), monday]
    assert weeks[1].days == 2 and weeks[1].readings == 3
    assert abs(weeks[1].valence - (days[1].valence + 0.4) / 2) < 1e-9


def test_the_local_day_is_the_users_own(tmp_path: Path) -> None:
    """23:30 at UTC−5 is the next day in UTC: it belongs to the user's evening."""
    store = SQLiteStore(tmp_path / "db.sqlite3")
    timeline = MoodTimeline(store)
    user = store.user("ana")
    timeline.add(user, MoodReading(datetime(2026, 11, 26, 23, 30, tzinfo=TZ), -0.5, 0.4, 0.8,
                                   ("sadness",), "text"))
    assert [d.day for d in timeline.days(user, TODAY - timedelta(7), TODAY)] == [
        date(2026, 11, 26)]


def test_readings_are_scoped_to_their_user_and_forgotten_completely(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path)
    timeline = MoodTimeline(store)
    ana, ben = store.user("ana"), store.user("ben")
    timeline.add(ana, reading(TODAY, -0.7))
    timeline.add(ben, reading(TODAY, 0.9))
    timeline.save_voice_baseline(ana, '{"count": 1}', at(TODAY))
    assert [d.valence for d in timeline.days(ben, TODAY, TODAY)] == [0.9]
    assert timeline.forget(ana) == 1
    assert timeline.days(ana, TODAY, TODAY) == [] and timeline.voice_baseline(ana) is None
    assert timeline.count(ben) == 1
    store.close()
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT COUNT(*) FROM mood_readings").fetchone()[0] == 1


def test_forgetting_a_turn_in_memory_takes_its_reading(settings: Settings) -> None:
    """`os1 memory forget` on the episode deletes the turn; its reading goes with it."""
    store = SQLiteStore(settings.database_path)
    timeline = MoodTimeline(store)
    engine = open_memory(settings, store)
    user = store.user("ana")
    conversation = store.current_conversation(user)
    turn = store.add_turn(user, NewTurn(conversation.id, "user", "my divorce papers came", "",
                                        "complete", at(TODAY)))
    timeline.add(user, reading(TODAY, -0.8, turn_id=turn.id))
    timeline.add(user, reading(TODAY, 0.2, hour=14))
    episode = engine.remember_turn(user, turn, "ana")
    engine.forget(user, [episode])
    assert [r.valence for r in timeline.readings(user)] == [0.2]
    engine.close()
    store.close()


def test_forgetting_the_timeline_removes_the_notes_that_said_what_was_read(
        tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path)
    timeline = MoodTimeline(store)
    user = store.user("ana")
    conversation = store.current_conversation(user)
    note = "Earlier: Maria called.\n" + NOTE_PREFIX + "sadness, grief: acknowledge that first."
    store.add_turn(user, NewTurn(conversation.id, "user", "papers came", note, "complete",
                                 at(TODAY)))
    timeline.add(user, reading(TODAY, -0.8))
    timeline.forget(user)
    assert [t.context for t in store.turns(user, conversation.id)] == ["Earlier: Maria called."]
    store.close()
    assert b"grief" not in b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())


def day(offset: int, valence: float) -> MoodDay:
    return MoodDay(TODAY - timedelta(days=offset), valence, 0.5, 3, valence)


def test_three_low_days_in_a_row_is_named() -> None:
    trend = trend_of([day(5, 0.4), day(2, -0.5), day(1, -0.3), day(0, -0.6)], TODAY)
    assert trend.low_streak == 3 and trend.low
    assert trend.describe() == "three low days in a row"


def test_an_old_streak_is_not_current() -> None:
    trend = trend_of([day(6, -0.5), day(5, -0.5), day(4, -0.5)], TODAY)
    assert trend.low_streak == 0 and not trend.low


def test_days_apart_are_not_in_a_row() -> None:
    trend = trend_of([day(20, -0.5), day(10, -0.5), day(0, -0.6)], TODAY)
    assert trend.low_streak == 1 and trend.describe() != "three low days in a row"


def test_week_on_week_change_is_named() -> None:
    heavier = trend_of([day(10, 0.5), day(9, 0.4), day(3, -0.1), day(1, 0.0)], TODAY)
    assert heavier.describe() == "a heavier week than the one before"
    steady = trend_of([day(10, 0.1), day(1, 0.1)], TODAY)
    assert steady.describe() == ""


def test_text_chart_draws_a_dip_below_the_line() -> None:
    start = TODAY - timedelta(days=13)
    chart = text_chart([day(1, 0.6), day(0, -0.8)], [], start, TODAY)
    rows = chart.splitlines()[:9]  # 4 rows above the zero row, the zero row, 4 below
    columns = ["".join(row[i] if i < len(row) else " " for row in rows)
               for i in range(max(len(r) for r in rows))]
    yesterday, today = columns[-2], columns[-1]
    assert yesterday[:4].count("█") == 2 and "█" not in yesterday[5:]  # 0.6 of 4 rows, above
    assert today[5:].count("█") == 3 and "█" not in today[:4]  # −0.8 of 4 rows, below
    assert columns[9][4] == "·"  # a day without readings sits on the line


def test_png_is_written(tmp_path: Path) -> None:
    out = tmp_path / "mood.png"
    write_png(out, [day(3, 0.5), day(1, -0.4), day(0, -0.7)], TODAY - timedelta(days=27), TODAY)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 600 and height > 250
