"""Check-in timing: a simulated month on a fake clock.

    python bench/checkins_month.py [--write docs/benchmarks.md]

October 2026 in Berlin (summer time ends on the 25th), ticking `CheckIns.due` every 15
simulated minutes, with scripted activity on a real SQLite file: user turns at chosen times
that mention things coming up (and some that must not become follow-ups), mood readings with
three low days in a row, dates and events in memory, a reminder at 23:00, a silence with the
clock running, and a week with no ticks at all (the laptop asleep). The user answers a
check-in ten minutes after it arrives on the days they are around.

Reported: check-ins by kind; how many were said in quiet hours (target 0; a reminder at the
hour the user set is counted apart) and on days over the limit (target 0); whether each one
is tied to a real trigger (its source row exists and says what was asked about, the streak or
the silence really happened); what happened to each scripted trigger; the delay from the
moment a check-in could first be said (its due time moved out of quiet hours) to when it was.
No models: it runs in seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time as clock
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from os1.affect.timeline import MoodReading, MoodTimeline
from os1.affect.trend import LOW
from os1.checkins.messages import pressure
from os1.checkins.policy import Rules, counted, deliverable_at, in_quiet, on_time_reminder
from os1.checkins.records import Candidate, CheckIn, from_text
from os1.checkins.scheduler import CheckIns
from os1.checkins.triggers import DATE_ATTRIBUTES, SILENCE
from os1.checkins.upcoming import upcoming
from os1.config import Settings
from os1.memory.records import NewFact
from os1.memory.store import MemoryStore
from os1.store.base import NewTurn
from os1.store.sqlite import SQLiteStore
from report import machine, write_section

TZ = ZoneInfo("Europe/Berlin")
START, END = date(2026, 10, 1), date(2026, 10, 31)
TICK = timedelta(minutes=15)
ASLEEP = (datetime(2026, 10, 17, 12, tzinfo=TZ), datetime(2026, 10, 24, 12, tzinfo=TZ))
AWAY = {date(2026, 10, 2), date(2026, 10, 3), date(2026, 10, 4),  # a silence, clock running
        *(date(2026, 10, d) for d in range(17, 26))}  # the sleeping week, and the weekend after
LOW_DAYS = {date(2026, 10, 13), date(2026, 10, 14), date(2026, 10, 15)}
CHATTER = ("Morning! Coffee first.", "Work was fine today.", "Just made pasta.",
           "Reading a bit before sleep.", "Rainy walk, nice though.", "Long day, all good.")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=TZ)


@dataclass(frozen=True)
class Said:
    """A scripted user message: what it should lead to ("" = nothing)."""

    at: datetime
    text: str
    expect: str = ""  # the `about` of the follow-up it should bring


MENTIONS = (
    Said(at(1, 19), "I have a job interview next Thursday at 10", "the job interview"),
    Said(at(5, 9), "my driving test is tomorrow", "the driving test"),
    Said(at(6, 8, 30), "big presentation this afternoon", "the big presentation"),
    Said(at(7, 20), "flying to Lisbon next week", "the trip to Lisbon"),
    Said(at(8, 18), "dentist appointment on the 12th", "the dentist appointment"),
    Said(at(9, 17), "date tonight", "the date"),
    Said(at(12, 20), "my sister's wedding on October 16", "your sister's wedding"),
    Said(at(13, 21), "my mom's surgery is on Thursday", "your mom's surgery"),
    Said(at(26, 10), "my exam is on Thursday at 9", "the exam"),
    Said(at(26, 10, 5), "I'm going to Maria's wedding on Tuesday", "Maria's wedding"),
    # none of these may become a follow-up
    Said(at(6, 12), "if I ever get an interview at Google I'll scream"),
    Said(at(10, 11), "I had an interview yesterday and it went fine"),
    Said(at(11, 10), "my friend has an exam tomorrow"),
    Said(at(14, 9, 30), "my boss has a presentation tomorrow"),
    Said(at(27, 21), "I don't have an exam tomorrow, thankfully"),
    Said(at(28, 9, 30), "I might have a job interview next week"),
)


def simulate() -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="os1-bench-checkins-"))
    store = SQLiteStore(folder / "os1.sqlite3")
    settings = Settings(data_dir=folder)
    checkins = CheckIns(store, settings)
    rules = Rules.of(settings)
    timeline = MoodTimeline(store)
    memory = MemoryStore(store)
    user = store.user("me")
    conversation = store.new_conversation(user)

    script: list[tuple[datetime, str, str]] = [(s.at, "say", s.text) for s in MENTIONS]
    day = START
    while day <= END:
        if day not in AWAY:
            n = day.day
            script += [(datetime.combine(day, time(9), tzinfo=TZ), "say", CHATTER[n % 6]),
                       (datetime.combine(day, time(20, 30), tzinfo=TZ), "say",
                        CHATTER[(n + 3) % 6])]
        day += timedelta(days=1)
    script += [(at(2, 12), "memory", "dup"), (at(26, 10, 5), "memory", "anna"),
               (at(26, 10, 5), "memory", "review"), (at(1, 12), "memory", "birthday"),
               (at(29, 12), "reminder", "bins")]
    script.sort(key=lambda item: item[0])

    turns: dict[str, int] = {}  # scripted text → its turn id
    reminders: set[str] = set()
    sent: list[CheckIn] = []
    replies: list[datetime] = []
    ticks = 0
    started = clock.perf_counter()
    moment = datetime.combine(START, time(0), tzinfo=TZ).astimezone(UTC)
    last = datetime.combine(END, time(23, 45), tzinfo=TZ).astimezone(UTC)
    while moment <= last:
        now = moment.astimezone(TZ)  # ticking in UTC: the October hour that repeats is kept
        moment += TICK
        while script and script[0][0] <= now:
            when, action, what = script.pop(0)
            if action == "say":
                turns[what] = _say(store, timeline, user, conversation.id, what, when)
            elif action == "memory":
                _remember(memory, user, what, when, turns)
            else:
                reminders.add(checkins.schedule(user, Candidate(
                    "reminder", "reminder:bins", "put the bins out", at(29, 23), at(30, 8)),
                    when).trigger_key)
        while replies and replies[0] <= now:
            _say(store, timeline, user, conversation.id, "Thanks for asking, it went okay.",
                 replies.pop(0))
        if ASLEEP[0] <= now < ASLEEP[1]:
            continue
        ticks += 1
        for checkin in checkins.due(user, now):
            sent.append(checkin)
            if now.date() not in AWAY:
                replies.append(now + timedelta(minutes=10))
    elapsed = clock.perf_counter() - started
    rows = store.run(lambda db: db.execute(
        "SELECT kind, about, status, due_at FROM checkins").fetchall())
    return _measure(store, timeline, user, rules, sent, rows, turns, reminders, ticks, elapsed)


def _say(store: SQLiteStore, timeline: MoodTimeline, user: Any, conversation_id: int,
         text: str, when: datetime) -> int:
    turn = store.add_turn(user, NewTurn(conversation_id, "user", text, "", "complete", when))
    valence = -0.6 if when.date() in LOW_DAYS else 0.25
    timeline.add(user, MoodReading(when, valence, 0.4, 0.8, ("neutral",), "text",
                                   turn_id=turn.id))
    return turn.id


def _remember(memory: MemoryStore, user: Any, what: str, when: datetime,
              turns: dict[str, int]) -> None:
    if what == "dup":  # from the interview turn, which has its own follow-up: no double
        fact = NewFact("event", "The user has a job interview next Thursday.",
                       value="job interview", occurred_at=at(8, 0),
                       sources=(turns[MENTIONS[0].text],))
    elif what == "anna":
        fact = NewFact("fact", "Anna, the user's sister, has her birthday on October 27.",
                       subject="Anna", relation="sister", attribute="birthday",
                       value="October 27")
    elif what == "review":
        fact = NewFact("event", "The user has a performance review at work.",
                       value="performance review", occurred_at=at(28, 0))
    else:  # the user's birthday falls in the sleeping week: never said
        fact = NewFact("fact", "The user's birthday is October 20.", attribute="birthday",
                       value="October 20")
    memory.add_fact(user, fact, None, when)


def _measure(store: SQLiteStore, timeline: MoodTimeline, user: Any, rules: Rules,
             sent: list[CheckIn], rows: list[Any], turns: dict[str, int], reminders: set[str],
             ticks: int, elapsed: float) -> dict[str, Any]:
    local = [(c, _local(c.sent_at)) for c in sent]
    in_quiet_hours = [c for c, t in local
                      if in_quiet(t, rules.quiet) and not on_time_reminder(c, t)]
    reminders_in_quiet = [c for c, t in local if in_quiet(t, rules.quiet)
                          and on_time_reminder(c, t)]
    per_day = Counter(t.date() for c, t in local if counted(c))
    over = {d: n for d, n in per_day.items() if n > rules.per_day}
    per_tick = Counter(c.sent_at for c in sent)
    tied = [c for c in sent if _tied(store, timeline, user, c, reminders)]
    delays: dict[str, list[float]] = {}
    slept: list[tuple[str, float]] = []  # could have been said while the laptop slept
    for c, t in local:
        ready = deliverable_at(c, rules.quiet, TZ)
        minutes = (t - ready).total_seconds() / 60
        if ASLEEP[0] <= ready < ASLEEP[1]:
            slept.append((c.kind, minutes))
        else:
            delays.setdefault(c.kind, []).append(minutes)
    said_about = {c.about: _local(c.sent_at) for c in sent if c.kind == "follow_up"}
    status_of = {about: f"{status}, unsaid (due {_local(from_text(due)):%a %d %H:%M})"
                 for kind, about, status, due in rows if kind == "follow_up"}
    outcomes = []
    for mention in MENTIONS:
        if mention.expect:
            when = said_about.get(mention.expect)
            outcome = (f"asked {when:%a %d %H:%M}" if when is not None
                       else status_of.get(mention.expect, "not found"))
            outcomes.append((mention.text, mention.at, outcome))
    false = [m.text for m in MENTIONS if not m.expect and _has_checkin(store, turns[m.text])]
    return {
        "ticks": ticks, "seconds": elapsed, "ms_per_tick": 1000 * elapsed / max(ticks, 1),
        "sent": len(sent), "by_kind": dict(Counter(c.kind for c in sent)),
        "expired_by_kind": dict(Counter(kind for kind, _, status, _ in rows
                                        if status == "expired")),
        "in_quiet_hours": len(in_quiet_hours),
        "reminders_on_time_in_quiet": len(reminders_in_quiet),
        "days_over_limit": len(over), "max_per_day": max(per_day.values(), default=0),
        "max_per_tick": max(per_tick.values(), default=0),
        "tied": len(tied), "untied": [c.trigger_key for c in sent if c not in tied],
        "pressure": [c.text for c in sent if pressure(c.text)],
        "false_follow_ups": false,
        "delay_min": {k: (statistics.median(v), max(v)) for k, v in sorted(delays.items())},
        "delay_after_sleep_min": slept,
        "memory_duplicates": store.run(lambda db: db.execute(
            "SELECT COUNT(*) FROM checkins WHERE memory_id IN (SELECT memory_id FROM "
            "memory_sources)").fetchone()[0]),
        "birthday_in_sleep": store.run(lambda db: db.execute(
            "SELECT COUNT(*) FROM checkins c JOIN memories m ON m.id = c.memory_id "
            "WHERE m.subject = 'user' AND c.kind = 'date'").fetchone()[0]),
        "outcomes": outcomes,
        "timeline": [(f"{_local(c.sent_at):%a %d %H:%M}", c.kind, c.text) for c in sent],
    }


def _local(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment.astimezone(TZ)


def _has_checkin(store: SQLiteStore, turn_id: int) -> bool:
    return store.run(lambda db: db.execute(
        "SELECT 1 FROM checkins WHERE turn_id = ?", (turn_id,)).fetchone()) is not None


def _tied(store: SQLiteStore, timeline: MoodTimeline, user: Any, checkin: CheckIn,
          reminders: set[str]) -> bool:
    """Whether the check-in's trigger really exists and says what the check-in says."""
    sent_at = _local(checkin.sent_at)
    key = checkin.trigger_key.split(":")
    if checkin.kind == "reminder":
        return checkin.trigger_key in reminders
    if checkin.kind == "follow_up" and key[1] == "turn":
        row = store.run(lambda db: db.execute(
            "SELECT content, created_at FROM turns WHERE id = ? AND user_id = ? "
            "AND role = 'user'", (int(key[2]), user.id)).fetchone())
        if row is None:
            return False
        found = upcoming(row[0], from_text(row[1]).astimezone(TZ))
        return found is not None and found.about == checkin.about and found.starts < sent_at
    if checkin.kind == "follow_up":
        row = store.run(lambda db: db.execute(
            "SELECT kind, occurred_at FROM memories WHERE id = ? AND user_id = ?",
            (int(key[2]), user.id)).fetchone())
        return row is not None and row[0] == "event" and from_text(row[1]) < sent_at
    if checkin.kind == "date":
        row = store.run(lambda db: db.execute(
            "SELECT attribute, value FROM memories WHERE id = ? AND user_id = ?",
            (int(key[2]), user.id)).fetchone())
        return (row is not None and row[0] in DATE_ATTRIBUTES
                and f"{sent_at:%B} {sent_at.day}" == row[1] and key[3] == str(sent_at.year))
    if checkin.kind == "low_mood":
        start = date.fromisoformat(checkin.trigger_key.split(":", 1)[1])
        days = {d.day: d.valence for d in timeline.days(user, start, sent_at.date())}
        streak = [start + timedelta(days=i) for i in range(3)]
        return (all(days.get(d, 1.0) <= LOW for d in streak)
                and sent_at.date() - streak[-1] <= timedelta(days=3))
    if checkin.kind == "silence":
        row = store.run(lambda db: db.execute(
            "SELECT id, created_at FROM turns WHERE user_id = ? AND role = 'user' "
            "AND created_at < ? ORDER BY created_at DESC LIMIT 1",
            (user.id, checkin.sent_at.isoformat() if checkin.sent_at else "")).fetchone())
        return (row is not None and int(row[0]) == int(key[1])
                and sent_at - from_text(row[1]) >= SILENCE)
    return False


def markdown(result: dict[str, Any], command: str) -> str:
    kinds = ("follow_up", "date", "low_mood", "silence", "reminder")
    lines = [
        "### Check-in timing — a simulated month",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        f"- Machine: {machine()}",
        f"- Command: `{command}`",
        "",
        "October 2026, Europe/Berlin (summer time ends on the 25th), default settings (quiet "
        "hours 22:00–08:00, 2 a day), `CheckIns.due` every 15 simulated minutes on a real "
        f"SQLite file: {result['ticks']} ticks in {result['seconds']:.1f} s "
        f"({result['ms_per_tick']:.1f} ms a tick). No ticks from Sat 17 12:00 to Sat 24 "
        "12:00 (the laptop asleep); the user is away Oct 2–4 (the clock running) and Oct "
        "17–25; on other days they answer a check-in ten minutes after it comes.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| check-ins said | {result['sent']} | |",
        "| by kind | " + ", ".join(f"{k} {result['by_kind'].get(k, 0)}" for k in kinds)
        + " | |",
        "| expired unsaid, by kind | " + (", ".join(
            f"{k} {n}" for k, n in sorted(result["expired_by_kind"].items())) or "none") + " | |",
        f"| said in quiet hours | {result['in_quiet_hours']} | 0 |",
        f"| reminders said at the hour the user set, inside quiet hours | "
        f"{result['reminders_on_time_in_quiet']} | (allowed) |",
        f"| days over the limit | {result['days_over_limit']} (most in a day: "
        f"{result['max_per_day']}) | 0 |",
        f"| most said at one tick (after the week asleep too) | {result['max_per_tick']} | 1 |",
        f"| tied to a real trigger | {result['tied']} of {result['sent']} | all |",
        f"| follow-ups from the 6 messages that must not give one | "
        f"{len(result['false_follow_ups'])} | 0 |",
        f"| texts flagged by `pressure` (guilt, FOMO, pressure) | {len(result['pressure'])} | 0 |",
        "",
        "Delay from the moment a check-in could first be said (its due time, moved out of "
        "quiet hours) to when it was, median / max: " + "; ".join(
            f"{k} {m:.0f} / {x:.0f} min" for k, (m, x) in result["delay_min"].items())
        + ". Due while the laptop slept, said after it woke: " + ("; ".join(
            f"{k} {m / 60:.0f} h later" for k, m in result["delay_after_sleep_min"])
            or "none") + ".",
        "",
        "From memory: the event extracted from the interview turn (which has its own "
        f"follow-up) gave {result['memory_duplicates']} more; the user's own birthday, on "
        f"the 20th while the laptop slept, gave {result['birthday_in_sleep']}.",
        "",
        "Each scripted mention of something coming up:",
        "",
        "| said | message | follow-up |",
        "|---|---|---|",
        *(f"| {when:%a %d %H:%M} | {text} | {outcome} |"
          for text, when, outcome in result["outcomes"]),
        "",
        "The month as it went (local times):",
        "",
        "| when | kind | text |",
        "|---|---|---|",
        *(f"| {when} | {kind} | {text} |" for when, kind, text in result["timeline"]),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="update this markdown file's section")
    args = parser.parse_args()
    result = simulate()
    print(json.dumps({k: v for k, v in result.items() if k not in ("timeline", "outcomes")},
                     indent=2, default=str))
    for row in result["timeline"]:
        print(*row, sep="  ")
    if args.write:
        command = "python bench/checkins_month.py " + " ".join(sys.argv[1:])
        write_section(args.write, "checkins", "month", markdown(result, command.strip()))
    ok = (result["in_quiet_hours"] == 0 and result["days_over_limit"] == 0
          and result["tied"] == result["sent"] and not result["false_follow_ups"]
          and not result["pressure"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
