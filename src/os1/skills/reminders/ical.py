"""Reminders as iCalendar: export to an .ics file, import one back (or what CalDAV returns).

Each reminder is a VTODO with a DUE and a VALARM that fires at DUE, not a VEVENT: a reminder
is something to do by a time, not a span of time in the calendar; VTODO has the status a
reminder has (NEEDS-ACTION, COMPLETED, CANCELLED); and CalDAV servers and clients (Apple
Reminders, Thunderbird, Tasks.org) keep VTODOs as tasks with an alert — exactly a reminder.
Imports accept VEVENTs too (at their start time): a calendar export is mostly events.

Imports are idempotent by UID (the same file twice adds nothing), skip what is already past or
done, and parse the whole file before storing anything: a malformed file adds nothing. Text in
a file did not come from the user, so it is cleaned to one plain line, and a summary that reads
like an instruction to the model is not imported (a check-in would say it aloud).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from icalendar import Alarm, Calendar, Todo

from os1.persona.untrusted import instruction_like, plain
from os1.skills.actions import ActionError
from os1.skills.reminders.book import TEXT_CHARS, Reminder, Reminders
from os1.store.base import User

PRODID = "-//os1//reminders//EN"
UID_CHARS = 255  # a UID from a file names a CalDAV resource: one bounded line
DATE_ONLY_TIME = time(9, 0)  # an all-day to-do is reminded of at 9:00, like a day said alone


@dataclass(frozen=True)
class Entry:
    """One to-do or event read from a calendar."""

    uid: str
    text: str
    due_at: datetime  # aware
    done: bool  # completed or cancelled there


@dataclass(frozen=True)
class ImportResult:
    added: tuple[Reminder, ...]
    already: int  # a reminder with that UID was there
    past: int
    done: int  # completed or cancelled in the file
    refused: int  # text that reads like an instruction to the model
    unreadable: int = 0  # a CalDAV to-do that could not be read (left on the server)

    def summary(self) -> str:
        parts = [f"imported {len(self.added)} reminder{'s' if len(self.added) != 1 else ''}"]
        for count, why in ((self.already, "already here"), (self.past, "in the past"),
                           (self.done, "already done"),
                           (self.refused, "read like instructions, not reminders"),
                           (self.unreadable, "could not be read")):
            if count:
                parts.append(f"skipped {count} {why}")
        text = "; ".join(parts)
        return text[0].upper() + text[1:] + "."


def todo(reminder: Reminder) -> Todo:
    """One reminder as a VTODO with an alarm at its due time."""
    item = Todo()
    item.add("uid", reminder.uid)
    item.add("summary", reminder.text)
    item.add("dtstamp", datetime.now(UTC))
    item.add("created", reminder.created_at.astimezone(UTC))
    item.add("due", reminder.due_at.astimezone(UTC))
    item.add("status", {"pending": "NEEDS-ACTION", "done": "COMPLETED",
                        "cancelled": "CANCELLED"}[reminder.status])
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", reminder.text)
    alarm.add("trigger", timedelta(0), parameters={"RELATED": "END"})  # at DUE
    item.add_component(alarm)
    return item


def calendar(reminders: Sequence[Reminder]) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    for reminder in reminders:
        cal.add_component(todo(reminder))
    return bytes(cal.to_ical())


def read_entries(data: bytes | str, now: datetime, source: str = "the file") -> list[Entry]:
    """Every to-do and event in a calendar text. Raises `ActionError` for a malformed one."""
    try:
        calendars = Calendar.from_ical(data, multiple=True)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise ActionError(f"{source} is not a valid iCalendar file ({exc}); nothing was "
                          "imported.") from None
    if not calendars:
        raise ActionError(f"{source} has no calendar in it; nothing was imported.")
    entries = []
    for cal in calendars:
        for component in cal.walk():
            if component.errors:  # icalendar is lenient: it notes what it could not read
                raise ActionError(f"{source} has a part that cannot be read ({component.name}: "
                                  f"{component.errors[0][1]}); nothing was imported.")
            if component.name not in ("VTODO", "VEVENT"):
                continue
            entries.append(_entry(component, now, source))
    return entries


def import_entries(book: Reminders, user: User, entries: Sequence[Entry],
                   now: datetime) -> ImportResult:
    """Store what is new, future and not done. A failure part-way removes what this import
    added, so an import is all or nothing."""
    counts = {"already": 0, "past": 0, "done": 0, "refused": 0}
    todo_list: list[tuple[Entry, str]] = []
    seen: set[str] = set()
    for entry in entries:
        text = plain(entry.text, TEXT_CHARS)
        if entry.uid in seen or book.by_uid(user, entry.uid) is not None:
            counts["already"] += 1
        elif entry.done:
            counts["done"] += 1
        elif entry.due_at <= now:
            counts["past"] += 1
        elif not text or instruction_like(entry.text):
            counts["refused"] += 1
        else:
            todo_list.append((entry, text))
        seen.add(entry.uid)
    added: list[Reminder] = []
    try:
        for entry, text in todo_list:
            added.append(book.add(user, text, entry.due_at.astimezone(now.tzinfo), now,
                                  uid=entry.uid))
    except BaseException:
        for reminder in added:
            book.remove(user, reminder.id)
        raise
    return ImportResult(tuple(added), **counts)


def _entry(component: Any, now: datetime, source: str) -> Entry:
    uid = plain(str(component.get("uid") or ""), UID_CHARS)
    if not uid:
        raise ActionError(f"A {component.name} in {source} has no UID; nothing was imported.")
    when = component.get("due") if component.name == "VTODO" else None
    when = when or component.get("dtstart")
    if when is None:
        raise ActionError(f"{component.name} {uid} in {source} has no date; nothing was "
                          "imported.")
    try:
        moment = when.dt
    except AttributeError:
        raise ActionError(f"{component.name} {uid} in {source} has a date that cannot be "
                          "read; nothing was imported.") from None
    if isinstance(moment, datetime):
        # A floating time (no zone) is the user's local time.
        due = moment if moment.tzinfo is not None else moment.replace(tzinfo=now.tzinfo)
    elif isinstance(moment, date):
        due = datetime.combine(moment, DATE_ONLY_TIME, tzinfo=now.tzinfo)
    else:
        raise ActionError(f"{component.name} {uid} in {source} has a date that cannot be "
                          "read; nothing was imported.")
    status = str(component.get("status") or "").upper()
    done = status in ("COMPLETED", "CANCELLED") or component.get("completed") is not None
    return Entry(uid, str(component.get("summary") or ""), due, done)
