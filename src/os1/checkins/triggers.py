"""Where check-ins come from: what the user said was coming, what memory holds, how the last
days felt, and how long it has been quiet. Each trigger becomes a `Candidate` with a key that is
unique per user, so finding it again never plans it twice.

Every function here takes the open connection (it runs inside `SQLiteStore.run`) and reads only
this user's rows. The mood days come in from outside: `MoodTimeline.days` takes the store's
lock itself, which is not reentrant.
"""

from __future__ import annotations

import calendar
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from os1.affect.timeline import MoodDay
from os1.affect.trend import trend_of
from os1.checkins.records import Candidate, CheckIn, from_text, to_text, zone
from os1.checkins.upcoming import HORIZON, Upcoming, event_phrase, upcoming
from os1.store.base import User

LOOKBACK = timedelta(days=14)  # user turns read for things coming up
# Turns are read once: from the last look at the clock on, with an hour's overlap (a turn is
# stamped before it is stored; planning twice is harmless, the key is unique).
RESCAN = timedelta(hours=1)
AFTER_TIMED = timedelta(hours=2, minutes=30)  # "at 10" → ask at 12:30, when it is surely over
EVENING = time(19)  # a day without an hour: ask that evening
MORNING = time(10)  # "tonight": ask the next morning, not at midnight
NOT_BEFORE = timedelta(hours=2)  # never ask about something within 2 h of hearing of it
FOLLOW_UP_KEEP = timedelta(days=3)  # after that, "how did it go?" is stale
SILENCE = timedelta(days=3)
SILENCE_KEEP = timedelta(days=14)  # one hello per silence, however long the laptop slept
LOW_DAYS = 3
LOW_KEEP = timedelta(days=2)
DATE_HOUR = time(10)
DATE_ATTRIBUTES = ("birthday", "birth date", "birthdate", "date of birth", "born", "born on",
                   "anniversary", "wedding anniversary")

_MONTHS = tuple(name.lower() for name in calendar.month_name[1:])  # "january" … "december"


def collect(db: sqlite3.Connection, user: User, now: datetime,
            mood_days: Sequence[MoodDay]) -> list[Candidate]:
    """Every trigger for ``user`` at ``now`` (aware: its zone is the user's local time) that
    is not planned yet. ``mood_days``: `MoodTimeline.days` over the last two weeks."""
    state = db.execute("SELECT last_tick FROM checkin_state WHERE user_id = ?",
                       (user.id,)).fetchone()
    since = now - LOOKBACK
    if state is not None and state[0] is not None:
        since = max(since, min(from_text(state[0]), now) - RESCAN)
    follow_ups = follow_ups_from_turns(db, user, now, since)
    taken = {c.turn_id for c in follow_ups}
    return [*follow_ups, *follow_ups_from_memories(db, user, now, taken),
            *dates(db, user, now), *low_mood(mood_days, now), *silence(db, user, now)]


# -- follow-ups ------------------------------------------------------------------------------


def follow_up_due(found: Upcoming, said_at: datetime) -> datetime:
    """When to ask how it went: 2½ h after a stated hour, the next morning after an evening,
    else that day's (or the span's last day's) evening; never within 2 h of being told."""
    tz = found.starts.tzinfo
    if found.has_time:
        due = found.starts + AFTER_TIMED
    elif found.part in ("evening", "night"):
        due = datetime.combine(found.starts.date() + timedelta(days=1), MORNING, tzinfo=tz)
    else:
        last = found.starts.date() + timedelta(days=found.days - 1)
        due = datetime.combine(last, EVENING, tzinfo=tz)
    return max(due, said_at + NOT_BEFORE)


def follow_ups_from_turns(db: sqlite3.Connection, user: User, now: datetime,
                          since: datetime) -> list[Candidate]:
    """Follow-ups for the user's turns stamped from ``since`` to ``now``."""
    rows = db.execute(
        "SELECT t.id, t.content, t.created_at FROM turns t WHERE t.user_id = ? "
        "AND t.role = 'user' AND t.created_at >= ? AND t.created_at <= ? AND NOT EXISTS "
        "(SELECT 1 FROM checkins c WHERE c.user_id = t.user_id AND c.turn_id = t.id "
        "AND c.kind = 'follow_up') ORDER BY t.id",
        (user.id, to_text(since), to_text(now))).fetchall()
    found: list[Candidate] = []
    for turn_id, content, created_at in rows:
        said_at = from_text(created_at).astimezone(now.tzinfo)
        coming = upcoming(str(content), said_at)
        if coming is None:
            continue
        due = follow_up_due(coming, said_at)
        found.append(Candidate("follow_up", f"follow_up:turn:{turn_id}", coming.about, due,
                               due + FOLLOW_UP_KEEP, turn_id=int(turn_id)))
    return found


def follow_ups_from_memories(db: sqlite3.Connection, user: User, now: datetime,
                             taken: set[int | None]) -> list[Candidate]:
    """Events memory holds with a date still ahead when they were remembered. One that a
    turn's follow-up already covers (a source turn has one) is skipped: one question, once."""
    rows = db.execute(
        "SELECT m.id, m.text, m.created_at, m.occurred_at FROM memories m WHERE m.user_id = ? "
        "AND m.kind = 'event' AND m.occurred_at BETWEEN ? AND ? AND m.superseded_by IS NULL "
        "AND m.valid_to IS NULL AND m.subject IN ('user', '') "
        f"AND lower(m.attribute) NOT IN ({','.join('?' * len(DATE_ATTRIBUTES))}) "
        "AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.user_id = m.user_id "
        "AND c.memory_id = m.id) "
        "AND NOT EXISTS (SELECT 1 FROM memory_sources s JOIN checkins c ON c.turn_id = s.turn_id "
        "WHERE s.memory_id = m.id AND c.user_id = m.user_id AND c.kind = 'follow_up') "
        "ORDER BY m.id",
        (user.id, to_text(now - FOLLOW_UP_KEEP - timedelta(days=1)), to_text(now + HORIZON),
         *DATE_ATTRIBUTES)).fetchall()
    found: list[Candidate] = []
    tz = zone(now)
    for memory_id, text, created_text, occurred_text in rows:
        sources = {int(r[0]) for r in db.execute(
            "SELECT turn_id FROM memory_sources WHERE memory_id = ?", (memory_id,))}
        if sources & taken:
            continue
        phrase = event_phrase(str(text))
        if phrase is None:
            continue
        created = from_text(created_text).astimezone(tz)
        occurred = from_text(occurred_text)
        has_time = not _date_only(occurred, tz)
        day = _calendar_day(occurred, tz)
        if (occurred.astimezone(tz) <= created) if has_time else (day <= created.date()):
            continue  # remembered on the day or after: not something that was coming
        starts = (occurred.astimezone(tz) if has_time
                  else datetime.combine(day, time(0), tzinfo=tz))
        due = follow_up_due(Upcoming(phrase[0], phrase[1], starts, has_time), created)
        found.append(Candidate("follow_up", f"follow_up:memory:{memory_id}", phrase[0], due,
                               due + FOLLOW_UP_KEEP, memory_id=int(memory_id)))
    return found


def already_told(db: sqlite3.Connection, user: User, checkin: CheckIn, now: datetime) -> bool:
    """Whether the user has talked about it since it happened ("the interview went great!"):
    then asking how it went is not needed. Checked just before a follow-up is said."""
    if checkin.kind != "follow_up":
        return False
    source = _source(db, user, checkin, zone(now))
    if source is None:
        return False
    starts, words, source_turn = source
    rows = db.execute(
        "SELECT content FROM turns WHERE user_id = ? AND role = 'user' AND created_at >= ? "
        "AND created_at <= ? AND id != ?",
        (user.id, to_text(starts), to_text(now), source_turn or 0)).fetchall()
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")s?\b",
                         re.IGNORECASE)
    return any(pattern.search(str(row[0])) for row in rows)


def _source(db: sqlite3.Connection, user: User, checkin: CheckIn,
            tz: tzinfo) -> tuple[datetime, tuple[str, ...], int | None] | None:
    """(since when a mention counts, the words, the source turn) of a follow-up."""
    if checkin.turn_id is not None:
        row = db.execute("SELECT content, created_at FROM turns WHERE id = ? AND user_id = ?",
                         (checkin.turn_id, user.id)).fetchone()
        if row is None:
            return None
        coming = upcoming(str(row[0]), from_text(row[1]).astimezone(tz))
        if coming is None:
            return None
        since = coming.starts if coming.has_time or coming.part else datetime.combine(
            coming.starts.date(), time(0), tzinfo=tz)
        return since, coming.words, checkin.turn_id
    if checkin.memory_id is not None:
        row = db.execute("SELECT text, occurred_at FROM memories WHERE id = ? AND user_id = ?",
                         (checkin.memory_id, user.id)).fetchone()
        if row is None or row[1] is None:
            return None
        phrase = event_phrase(str(row[0]))
        if phrase is None:
            return None
        day = _calendar_day(from_text(row[1]), tz)
        return datetime.combine(day, time(0), tzinfo=tz), phrase[1], None
    return None


# -- dates -----------------------------------------------------------------------------------


def dates(db: sqlite3.Connection, user: User, now: datetime) -> list[Candidate]:
    """Birthdays and anniversaries memory holds, on the day (planned from the day before)."""
    tz = zone(now)
    today = now.date()
    rows = db.execute(
        "SELECT id, subject, relation, attribute, value, occurred_at FROM memories "
        "WHERE user_id = ? AND kind IN ('fact', 'event') AND superseded_by IS NULL "
        f"AND valid_to IS NULL AND lower(attribute) IN ({','.join('?' * len(DATE_ATTRIBUTES))})",
        (user.id, *DATE_ATTRIBUTES)).fetchall()
    found: list[Candidate] = []
    for memory_id, subject, relation, attribute, value, occurred_text in rows:
        if str(subject).lower() == "companion":
            continue
        month_day = (_month_day_of(str(value)) if occurred_text is None
                     else _pair(_calendar_day(from_text(occurred_text), tz)))
        if month_day is None:
            continue
        for day in (today, today + timedelta(days=1)):
            if _falls_on(month_day, day):
                due = datetime.combine(day, DATE_HOUR, tzinfo=tz)
                ends = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
                found.append(Candidate(
                    "date", f"date:memory:{memory_id}:{day.year}",
                    _date_about(str(subject), str(relation), str(attribute)), due, ends,
                    memory_id=int(memory_id)))
    return found


def _date_about(subject: str, relation: str, attribute: str) -> str:
    thing = ("wedding anniversary" if "wedding" in attribute.lower()
             else "anniversary" if "anniversary" in attribute.lower() else "birthday")
    if subject.lower() in ("user", ""):
        return f"your {thing}"
    if subject[:1].isupper():
        return f"{subject}'s {thing}"
    return f"your {relation or subject}'s {thing}"


def _pair(day: date) -> tuple[int, int]:
    return day.month, day.day


def _falls_on(month_day: tuple[int, int], day: date) -> bool:
    """29 February falls on the 28th in a common year."""
    month, dom = month_day
    if (month, dom) == (2, 29) and not calendar.isleap(day.year):
        return (day.month, day.day) == (2, 28)
    return (day.month, day.day) == (month, dom)


def _month_day_of(value: str) -> tuple[int, int] | None:
    """"March 14", "14 March", "1990-03-14", "03-14" → (3, 14); anything else None."""
    text = value.strip().lower()
    iso = re.search(r"\b(?:\d{4}-)?(\d{1,2})-(\d{1,2})\b", text)
    if iso is not None:
        month, day = int(iso.group(1)), int(iso.group(2))
    else:
        names = "|".join(m[:3] + r"\w*" for m in _MONTHS)
        named = (re.search(rf"\b({names})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", text)
                 or re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({names})\b", text))
        if named is None:
            return None
        word, number = ((named.group(1), named.group(2)) if named.group(1)[0].isalpha()
                        else (named.group(2), named.group(1)))
        month = next((i for i, m in enumerate(_MONTHS, 1) if word.startswith(m[:3])), 0)
        day = int(number)
    try:
        date(2024, month, day)  # a leap year: 29 February exists
    except ValueError:
        return None
    return month, day


def _date_only(moment: datetime, tz: tzinfo) -> bool:
    """Memory keeps a date without an hour as a midnight (local when written, as UTC)."""
    return moment.astimezone(tz).time() == time(0) or moment.astimezone(UTC).time() == time(0)


def _calendar_day(moment: datetime, tz: tzinfo) -> date:
    """The day a stored date means: its local day if that is a midnight, else its UTC day if
    that is one (written on a machine in another zone), else the local day."""
    local = moment.astimezone(tz)
    if local.time() != time(0) and moment.astimezone(UTC).time() == time(0):
        return moment.astimezone(UTC).date()
    return local.date()


# -- mood and silence ------------------------------------------------------------------------


def low_mood(days: Sequence[MoodDay], now: datetime) -> list[Candidate]:
    """Three low days in a row (still going: the last one is today or yesterday) → one
    check-in the morning after, keyed by the day the stretch began."""
    today = now.date()
    trend = trend_of(days, today)
    if trend.low_streak < LOW_DAYS or not days:
        return []
    last = days[-1].day
    start = last - timedelta(days=trend.low_streak - 1)
    due = datetime.combine(last + timedelta(days=1), MORNING, tzinfo=zone(now))
    return [Candidate("low_mood", f"low_mood:{start.isoformat()}", trend.describe(), due,
                      due + LOW_KEEP)]


def last_user_turn(db: sqlite3.Connection, user: User,
                   now: datetime) -> tuple[int, datetime] | None:
    row = db.execute(
        "SELECT id, created_at FROM turns WHERE user_id = ? AND role = 'user' "
        "AND created_at <= ? ORDER BY created_at DESC, id DESC LIMIT 1",
        (user.id, to_text(now))).fetchone()
    return None if row is None else (int(row[0]), from_text(row[1]))


def silence_key(turn_id: int) -> str:
    return f"silence:{turn_id}"


def silence(db: sqlite3.Connection, user: User, now: datetime) -> list[Candidate]:
    """No word from the user for three days → one hello, keyed by their last turn: however
    long the silence (or the laptop's sleep), never a second. None if os1 has already said
    something since their last word: a hello on top of an unanswered message is a nudge."""
    last = last_user_turn(db, user, now)
    if last is None or now - last[1] < SILENCE:
        return []
    turn_id, said_at = last
    spoke = db.execute(
        "SELECT 1 FROM checkins WHERE user_id = ? AND sent_at > ? AND kind != 'reminder' "
        "LIMIT 1", (user.id, to_text(said_at))).fetchone()
    if spoke is not None:
        return []
    due = said_at + SILENCE
    return [Candidate("silence", silence_key(turn_id), "", due, due + SILENCE_KEEP)]

