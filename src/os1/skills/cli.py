"""`os1 actions`: what os1 did (or was asked to do) for you, newest first; and how every
skill's verbs run an action from the command line (`run_command`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from os1.config import Settings
from os1.skills.actions import (
    ActionContext,
    ActionError,
    ActionLog,
    Actions,
    NeedsClarification,
    Outcome,
)
from os1.store.open import open_store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


async def run_command(actions: Actions, context: ActionContext, name: str,
                      arguments: dict[str, Any], *, yes: bool, console: Console,
                      errors: Console, before_asking: Callable[[], None] = lambda: None) -> int:
    """Run one action for a CLI verb and print what it did. An external one asks "[y/N]" on
    a terminal; elsewhere only ``--yes`` runs it (a script never sends by surprise)."""
    try:
        result = await actions.call(context, name, arguments, confirmed=yes)
        if not isinstance(result, Outcome):
            question = result.description[0].upper() + result.description[1:]
            if not sys.stdin.isatty():
                actions.log.settle(context.user, result.log_id, "declined", result.description)
                errors.print(f"{escape(question)}: add --yes (not asked: this is not a "
                             "terminal). Nothing was done.")
                return EXIT_USAGE
            before_asking()
            answer = await asyncio.to_thread(input, f"{question}? [y/N] ")
            outcome = await actions.confirm(context, result,
                                            answer.strip().casefold() in {"y", "yes"})
            if outcome is None:
                console.print("Nothing was done.")
                return EXIT_OK
            result = outcome
    except NeedsClarification as exc:
        errors.print(escape(str(exc)))
        return EXIT_USAGE
    except ActionError as exc:
        errors.print(f"[red]{escape(str(exc))}[/red]")
        return EXIT_FAILED
    before_asking()
    console.print(escape(result.text))
    if result.detail:
        console.print(escape(result.detail))
    return EXIT_OK


def add_actions_parser(verbs: Any) -> None:
    actions = verbs.add_parser("actions", help="what os1 did for you (mail, letters, "
                               "reminders): every action, asked for or run")
    actions.add_argument("--limit", type=int, default=30, help="how many (default 30)")
    actions.add_argument("--json", action="store_true", help="print JSON")


def run_actions(settings: Settings, args: argparse.Namespace, console: Console,
                errors: Console) -> int:
    if args.limit < 1:
        errors.print("[red]--limit must be 1 or more.[/red]")
        return 2
    store = open_store(settings)
    try:
        user = store.user(settings.user_name)
        entries = ActionLog(store).entries(user, args.limit)
    finally:
        store.close()
    if args.json:
        console.print_json(json.dumps([{
            "id": e.id, "at": e.at.isoformat(), "action": e.action, "arguments": e.arguments,
            "origin": e.origin, "status": e.status, "result": e.result} for e in entries]))
        return 0
    if not entries:
        console.print("os1 has not done anything for you yet.")
        return 0
    table = Table("when", "action", "status", "what happened", box=None, padding=(0, 1))
    for entry in entries:
        table.add_row(f"{entry.at.astimezone():%d %b %H:%M}", entry.action, entry.status,
                      entry.result or json.dumps(entry.arguments, ensure_ascii=False),
                      style="dim" if entry.status in ("declined", "refused") else None)
    console.print(table)
    return 0
