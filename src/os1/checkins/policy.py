"""What may be said now, out of what is due: the rules that keep os1 from becoming a nag.

- Never in quiet hours: something due inside them waits for their end.
- At most ``checkins_per_day`` in one local day, and at least two hours between two.
- Nothing while paused ("not now").
- Nothing while the user is talking (their last message under 30 minutes ago): os1 is not
  speaking first then, and the chat itself can bring it up.
- After two check-ins in a row with no word from the user, nothing more until they speak:
  silence is an answer too.
- One at a time, by priority: reminder > follow-up > date > low mood > silence; the earliest
  due first among equals. So a clock jump (a laptop asleep for a week) cannot cause a burst:
  what went stale has expired, the gap still holds, and at most the day's limit goes out.
- Expired ones are never said; of several hellos for a silence only the newest is kept.

Reminders are the user's own request, at a time they chose: a reminder set for 23:00 fires at
23:00. So a reminder *on time* (under an hour late) bypasses every rule above and does not
count towards the day's limit (nothing else follows it within the gap, though). A reminder
found later than that (os1 was closed, the laptop asleep) is no longer "at the time you
asked" and waits like any other check-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from os1.checkins.records import CheckIn, CheckInKind
from os1.config import Settings, parse_quiet_hours

PRIORITY: dict[CheckInKind, int] = {"reminder": 0, "follow_up": 1, "date": 2, "low_mood": 3,
                                    "silence": 4}
GAP = timedelta(hours=2)
REMINDER_ON_TIME = timedelta(hours=1)
USER_TALKING = timedelta(minutes=30)
MAX_UNANSWERED = 2


@dataclass(frozen=True)
class Rules:
    quiet: tuple[time, time] | None  # local; may cross midnight
    per_day: int
    gap: timedelta = GAP

    @classmethod
    def of(cls, settings: Settings) -> Rules:
        quiet = parse_quiet_hours(settings.quiet_hours)
        if quiet is not None and quiet[0] == quiet[1]:
            quiet = None  # equal ends mean no quiet hours
        return cls(quiet, settings.checkins_per_day)


@dataclass(frozen=True)
class Situation:
    """What the policy needs to know besides the pending check-ins."""

    now: datetime  # aware: its zone is the user's local time
    sent: Sequence[CheckIn]  # check-ins already said in the last day or two
    paused_until: datetime | None
    last_user_at: datetime | None  # the user's latest message
    only_reminders: bool = False  # the checkins setting is off


@dataclass(frozen=True)
class Decision:
    send: tuple[CheckIn, ...]
    expire: tuple[CheckIn, ...]


def in_quiet(moment: datetime, quiet: tuple[time, time] | None) -> bool:
    """Whether a moment falls in quiet hours (read in the moment's own zone)."""
    if quiet is None:
        return False
    start, end = quiet
    clock = moment.time().replace(tzinfo=None)
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end  # crosses midnight: 22:00–08:00


def quiet_end(moment: datetime, quiet: tuple[time, time] | None) -> datetime:
    """``moment`` if it is outside quiet hours, else the moment they end."""
    if quiet is None or not in_quiet(moment, quiet):
        return moment
    end = quiet[1]
    day = moment.date()
    if moment.time().replace(tzinfo=None) >= end:
        day += timedelta(days=1)  # in the evening part: they end tomorrow morning
    return datetime.combine(day, end, tzinfo=moment.tzinfo)


def deliverable_at(checkin: CheckIn, quiet: tuple[time, time] | None, tz: tzinfo) -> datetime:
    """The earliest moment a check-in may be said: its due time, moved out of quiet hours
    (reminders keep theirs)."""
    due = checkin.due_at.astimezone(tz)
    return due if checkin.kind == "reminder" else quiet_end(due, quiet)


def on_time_reminder(checkin: CheckIn, at: datetime) -> bool:
    return checkin.kind == "reminder" and checkin.due_at <= at < checkin.due_at + REMINDER_ON_TIME


def counted(checkin: CheckIn) -> bool:
    """Whether a sent check-in counts towards the day's limit and the gap: all but reminders
    said at the time the user set."""
    return checkin.sent_at is not None and not on_time_reminder(checkin, checkin.sent_at)


def decide(pending: Sequence[CheckIn], situation: Situation, rules: Rules) -> Decision:
    """Which pending check-ins to say now (on-time reminders, else at most one) and which
    have expired."""
    now = situation.now
    expire = [c for c in pending if c.expires_at <= now]
    live = [c for c in pending if c.expires_at > now]
    silences = sorted((c for c in live if c.kind == "silence"), key=lambda c: (c.due_at, c.id))
    expire += silences[:-1]  # one hello per silence, the newest
    live = [c for c in live if c not in silences[:-1]]

    send = sorted((c for c in live if on_time_reminder(c, now)), key=lambda c: (c.due_at, c.id))
    others = [c for c in live if c.due_at <= now and c not in send
              and (c.kind == "reminder" or not situation.only_reminders)]
    if others and not send and _may_speak(situation, rules):
        send.append(min(others, key=lambda c: (PRIORITY[c.kind], c.due_at, c.id)))
    return Decision(tuple(send), tuple(expire))


def _may_speak(situation: Situation, rules: Rules) -> bool:
    now = situation.now
    if situation.paused_until is not None and now < situation.paused_until:
        return False
    if in_quiet(now, rules.quiet):
        return False
    if situation.last_user_at is not None and now - situation.last_user_at < USER_TALKING:
        return False
    said = [(c, c.sent_at) for c in situation.sent if c.sent_at is not None and counted(c)]
    today = now.date()
    if sum(1 for _, at in said if at.astimezone(now.tzinfo).date() == today) >= rules.per_day:
        return False
    if any(now - c.sent_at < rules.gap for c in situation.sent if c.sent_at is not None):
        return False
    last_word = situation.last_user_at
    unanswered = sum(1 for _, at in said if last_word is None or at > last_word)
    return unanswered < MAX_UNANSWERED
