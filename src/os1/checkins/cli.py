"""`os1 checkins`: what os1 means to say first, what waits for you, and "not now".

    os1 checkins                  waiting in the inbox, and planned (with when and why)
    os1 checkins tick             plan and send what is due now, into the inbox (for cron or
                                  a systemd timer while no os1 is open: */15 * * * *)
    os1 checkins not-now [--hours N]   pause them (default: until tomorrow after quiet hours)
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape

from os1.checkins.records import CheckIn
from os1.checkins.scheduler import CheckIns
from os1.config import Settings
from os1.store.open import open_store

EXIT_OK, EXIT_USAGE = 0, 2

_WHY = {"reminder": "a reminder you set", "follow_up": "something you mentioned",
        "low_mood": "a few low days", "silence": "a quiet stretch", "date": "a date to remember"}


def add_checkins_parser(verbs: Any) -> None:
    checkins = verbs.add_parser(
        "checkins", help="when os1 speaks first: the inbox, what is planned, not now")
    actions = checkins.add_subparsers(dest="checkins_action", metavar="ACTION")
    actions.add_parser("list", help="the inbox and what is planned (the default)")
    actions.add_parser("tick", help="send what is due now into the inbox (for a timer)")
    pause = actions.add_parser("not-now", help="pause check-ins")
    pause.add_argument("--hours", type=float, help="how long (default: until tomorrow)")


def run_checkins(settings: Settings, args: argparse.Namespace, console: Console,
                 errors: Console) -> int:
    action = args.checkins_action or "list"
    store = open_store(settings)
    try:
        user = store.user(settings.user_name)
        checkins = CheckIns(store, settings)
        now = datetime.now().astimezone()
        if action == "not-now":
            try:
                until = checkins.not_now(user, now, args.hours)
            except ValueError as exc:
                errors.print(f"[red]{exc}[/red]")
                return EXIT_USAGE
            console.print(f"Check-ins paused until {until.astimezone():%a %d %b %H:%M}. "
                          "Reminders you set still come on time.")
            return EXIT_OK
        if action == "tick":
            sent = checkins.due(user, now)
            for checkin in sent:
                console.print(f"waiting for you: {escape(checkin.text)}")
            return EXIT_OK
        checkins.plan(user, now)
        _show(checkins.inbox(user), checkins.pending(user), settings, console)
        return EXIT_OK
    finally:
        store.close()


def _show(inbox: list[CheckIn], pending: list[CheckIn], settings: Settings,
          console: Console) -> None:
    if not settings.checkins:
        console.print("[dim]Check-ins are off (os1 config set checkins on): only reminders "
                      "you set are planned.[/dim]")
    if inbox:
        console.print("[bold]Waiting for you[/bold] (said while no os1 was open; the next "
                      "os1 chat shows them):")
        for checkin in inbox:
            sent = checkin.sent_at.astimezone() if checkin.sent_at else None
            console.print(f"  {sent:%a %d %b %H:%M}  {escape(checkin.text)}" if sent else
                          f"  {escape(checkin.text)}")
    if pending:
        console.print("[bold]Planned[/bold] (quiet hours "
                      f"{settings.quiet_hours or 'none'}, at most {settings.checkins_per_day} "
                      "a day):")
        for checkin in pending:
            why = _WHY.get(checkin.kind, checkin.kind)
            about = f": {escape(checkin.about)}" if checkin.about else ""
            console.print(f"  from {checkin.due_at.astimezone():%a %d %b %H:%M}  "
                          f"[dim]({why}{about})[/dim]")
    if not inbox and not pending:
        console.print("Nothing planned. os1 checks in about what you mention (an interview, "
                      "a trip), after a few low days or a quiet stretch, and on dates you told "
                      "it about.")
