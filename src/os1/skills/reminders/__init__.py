"""Reminders: "remind me to call Amy Friday at six", said back on time by a check-in.

`reminder_actions` are what the chat's planner may ask for: add, snooze and cancel change
os1's own data (effect ``local``), list only reads. `command_actions` adds what only the
`os1 remind` command does — export, import and CalDAV sync (``external``: it writes to a
server) — so those are validated and logged the same way but never offered to the model.

Times reach the actions as the user's own words ("Friday at six") and are parsed by
`parse`, never computed by the model.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from os1.config import Settings
from os1.skills.actions import ActionContext, ActionError, ActionSpec, Outcome, arguments_schema
from os1.skills.reminders.book import Reminder, Reminders
from os1.skills.reminders.parse import parse_parts, parse_when, say_when
from os1.store.base import Database

# A snooze with no time: 10 minutes, as on a phone's alarm. A reminder is said at the moment
# the user chose; "not yet" usually means "when I finish this", not "this afternoon" (and
# they can say "snooze it until 5").
DEFAULT_SNOOZE = timedelta(minutes=10)
_UNTIL = re.compile(r"^\s*(?:until|till|til|to|for)\s+", re.I)
_BARE_DURATION = re.compile(
    r"^\s*(?:an?|one|two|three|four|five|ten|fifteen|twenty|thirty|forty-five|\d+(?:\.\d+)?)\s*"
    r"(?:more\s+)?(?:minutes?|mins?|hours?|hrs?|h|m)\b", re.I)
_WHICH = {"type": "string", "description": "the reminder's number, or words from it"}


def reminder_actions(store: Database, settings: Settings) -> list[ActionSpec]:
    book = Reminders(store, settings)

    async def add(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        parsed = parse_parts(args["what"], args.get("when", ""), ctx.now)
        reminder = book.add(ctx.user, parsed.what, parsed.due_at, ctx.now)
        return Outcome(f"I'll remind you {say_when(reminder.due_at, ctx.now)} "
                       f"{_about(reminder.text)}." + (f" {parsed.note}" if parsed.note else ""),
                       made=reminder.id)

    async def listing(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        reminders = book.listing(ctx.user)
        if not reminders:
            return Outcome("You have no reminders coming up.")
        first = reminders[0]
        count = f"{len(reminders)} reminders" if len(reminders) > 1 else "one reminder"
        return Outcome(f"You have {count}; the next is {say_when(first.due_at, ctx.now)} "
                       f"{_about(first.text)}.", detail=describe_all(reminders, ctx.now))

    async def snooze(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        reminder = book.find(ctx.user, args["which"], ctx.now, states=("pending", "done"))
        until = snooze_until(args.get("until", ""), ctx.now)
        moved = book.snooze(ctx.user, reminder.id, until, ctx.now)
        return Outcome(f"Snoozed: I'll remind you {say_when(moved.due_at, ctx.now)} "
                       f"{_about(moved.text)}.")

    async def cancel(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        reminder = book.find(ctx.user, args["which"], ctx.now)
        book.cancel(ctx.user, reminder.id)
        return Outcome(f"Cancelled the reminder {_about(reminder.text)}.")

    return [
        ActionSpec(
            name="remind.add",
            summary="Set a reminder: what to remind the user of and when, in their words.",
            parameters=arguments_schema({"what": {"type": "string", "description": "what to do"},
                                "when": {"type": "string",
                                         "description": "when, in the user's words"}},
                               ["what", "when"]),
            effect="local", run=add,
            describe=lambda _, a: f"remind you {a.get('when', '')} to {a.get('what', '')}",
            cues=r"\bremind|\breminder|\bdon'?t let me forget|\bnudge me|\bping me",
            examples=(("Remind me to call Amy Friday at six",
                       {"what": "call Amy", "when": "Friday at six"}),
                      ("remind me in 20 minutes to take the pasta off",
                       {"what": "take the pasta off", "when": "in 20 minutes"}),
                      ("don't let me forget the dentist tomorrow morning",
                       {"what": "the dentist", "when": "tomorrow morning"}))),
        ActionSpec(
            name="remind.list", summary="List the user's upcoming reminders.",
            parameters=arguments_schema({}, []), effect="read", run=listing,
            describe=lambda _, a: "list your reminders",
            cues=r"\breminders?\b|\bwhat (?:do i|did i ask you to) remember",
            examples=(("what reminders do I have?", {}), ("show my reminders", {}))),
        ActionSpec(
            name="remind.snooze",
            summary="Move a reminder later (snooze it); 'until' in the user's words, empty for "
                    "ten minutes.",
            parameters=arguments_schema({"which": _WHICH,
                                "until": {"type": "string",
                                          "description": "new time in the user's words"}},
                               ["which", "until"]),
            effect="local", run=snooze,
            describe=lambda _, a: f"snooze the reminder {a.get('which', '')}",
            cues=r"\bsnooze|\bremind me (?:again|later)|\blater\b.*\bremind|\bpostpone",
            examples=(("snooze it", {"which": "it", "until": ""}),
                      ("snooze the Amy reminder until 8", {"which": "Amy", "until": "8"}),
                      ("remind me again in an hour", {"which": "it", "until": "in an hour"}))),
        ActionSpec(
            name="remind.cancel", summary="Cancel one of the user's reminders.",
            parameters=arguments_schema({"which": _WHICH}, ["which"]), effect="local", run=cancel,
            describe=lambda _, a: f"cancel the reminder {a.get('which', '')}",
            cues=r"\b(?:cancel|delete|remove|drop|forget)\b.*\breminder|\bno need to remind",
            examples=(("cancel the reminder about Amy", {"which": "Amy"}),
                      ("delete reminder 3", {"which": "3"}))),
    ]


def command_actions(store: Database, settings: Settings) -> list[ActionSpec]:
    """The chat's actions plus export, import and sync, for `os1 remind` only."""
    from os1.skills.reminders import caldav, ical  # icalendar/httpx: only for these verbs

    book = Reminders(store, settings)

    async def export(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        path = Path(args["file"]).expanduser()
        reminders = book.listing(ctx.user, everything=bool(args.get("all")))
        try:
            path.write_bytes(ical.calendar(reminders))
        except OSError as exc:
            raise ActionError(f"Cannot write {path} ({exc.strerror}).") from None
        return Outcome(f"Wrote {len(reminders)} reminder{'s' if len(reminders) != 1 else ''} "
                       f"to {path}.")

    async def import_file(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        path = Path(args["file"]).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ActionError(f"Cannot read {path} ({exc.strerror}).") from None
        entries = ical.read_entries(data, ctx.now, source=str(path))
        result = ical.import_entries(book, ctx.user, entries, ctx.now)
        return Outcome(result.summary(), detail=describe_all(list(result.added), ctx.now))

    async def sync(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        # Network time (up to the timeouts) is spent off the event loop.
        result = await asyncio.to_thread(caldav.sync, book, ctx.user, args["url"], ctx.now,
                                         args.get("username", ""))
        return Outcome(result.summary(), detail=describe_all(list(result.pulled.added), ctx.now))

    return [
        *reminder_actions(store, settings),
        ActionSpec("remind.export", "Export reminders to an iCalendar file.",
                   arguments_schema({"file": {"type": "string"}, "all": {"type": "boolean"}},
                                    ["file"]),
                   "local", export, lambda _, a: f"export your reminders to {a.get('file')}"),
        ActionSpec("remind.import", "Import reminders from an iCalendar file.",
                   arguments_schema({"file": {"type": "string"}}, ["file"]), "local", import_file,
                   lambda _, a: f"import reminders from {a.get('file')}"),
        ActionSpec("remind.sync", "Sync reminders with a CalDAV calendar.",
                   arguments_schema({"url": {"type": "string"}, "username": {"type": "string"}},
                           ["url"]),
                   "external", sync,
                   lambda _, a: f"send your pending reminders to {a.get('url')} and fetch its "
                             "to-dos"),
    ]


def snooze_until(words: str, now: datetime) -> datetime:
    """The snooze's end: the user's words ("until 5", "an hour", "20 minutes"), or 10 minutes."""
    words = " ".join(words.split())
    if not words:
        return (now + DEFAULT_SNOOZE).replace(microsecond=0)
    words = _UNTIL.sub("", words)
    if _BARE_DURATION.match(words):
        words = "in " + words  # "an hour", "20 minutes": a snooze's length
    if words.strip().isdigit():
        words = "at " + words  # "until 8"
    return parse_when(words, now)[0]


def describe_all(reminders: list[Reminder], now: datetime) -> str:
    return "\n".join(
        f"{r.id:>4}  {r.due_at.astimezone(now.tzinfo):%a %d %b %Y %H:%M}  "
        f"{r.state(now):<9}  {r.text}" for r in reminders)


def _about(text: str) -> str:
    first = text.split()[0].lower() if text.split() else ""
    if first in {"the", "a", "an", "my", "your", "our", "his", "her", "their", "this", "that"}:
        return f"about {text}"
    return f"to {text}"

