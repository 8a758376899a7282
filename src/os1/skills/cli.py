"""`os1 actions`: what os1 did (or was asked to do) for you, newest first."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from os1.config import Settings
from os1.skills.actions import ActionLog
from os1.store.open import open_store


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
