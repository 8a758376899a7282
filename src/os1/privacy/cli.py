"""`os1 export`, `os1 forget --everything` and `os1 safety`: see, take away, erase."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from os1.config import Settings, default_config_file
from os1.privacy.export import export_everything
from os1.safety.log import entries
from os1.store.files import shred
from os1.store.open import open_store

EXIT_OK, EXIT_FAILED = 0, 1


def add_privacy_parsers(verbs: Any) -> None:
    export = verbs.add_parser(
        "export", help="everything os1 holds about you, as JSON plus readable files")
    export.add_argument("--out", type=Path,
                        help="folder to write (default: os1-export-DATE in this folder)")
    forget = verbs.add_parser(
        "forget", help="erase data: --everything erases all os1 holds about you")
    forget.add_argument("--everything", action="store_true",
                        help="conversations, memories, mood, safety log, who the companion "
                        "became with you, check-ins, settings, snapshots")
    forget.add_argument("--yes", action="store_true", help="do not ask before erasing")
    verbs.add_parser("safety", help="the safety log: when os1 followed its crisis protocol")


def run_privacy(settings: Settings, args: argparse.Namespace, console: Console,
                errors: Console) -> int:
    if args.verb == "forget" and not args.everything:
        errors.print("[red]Say what to forget:[/red] os1 forget --everything erases all os1 "
                     "holds about you; os1 memory forget ID and os1 mood forget erase parts.")
        return EXIT_FAILED
    if args.verb == "forget" and not args.yes and not _confirmed(settings, console):
        console.print("Nothing was erased.")
        return EXIT_OK
    store = open_store(settings)
    try:
        user = store.user(settings.user_name)
        if args.verb == "export":
            return _export(store, user, settings, args.out, console, errors)
        if args.verb == "safety":
            return _safety_log(store, user, console)
        return _erase(store, user, settings, console)
    finally:
        store.close()


def _export(store: Any, user: Any, settings: Settings, out: Path | None, console: Console,
            errors: Console) -> int:
    folder = out or Path(f"os1-export-{datetime.now():%Y-%m-%d-%H%M%S}")
    if folder.exists() and any(folder.iterdir()):
        errors.print(f"[red]{folder} is not empty.[/red] Choose another folder with --out.")
        return EXIT_FAILED

    def progress(table: str, rows: int) -> None:
        errors.print(f"[dim]· {table}: {rows:,} rows[/dim]")

    try:
        report = export_everything(store, user, settings, folder, progress)
    except OSError as exc:
        errors.print(f"[red]Could not write the export to {folder}: {exc.strerror}.[/red] "
                     "Check the folder is writable and the disk has room.")
        return EXIT_FAILED
    console.print(f"Exported to {report.folder}: {report.rows['turns']:,} messages, "
                  f"{report.rows['memories']:,} memories, {report.rows['mood_readings']:,} "
                  "mood readings. everything.json has it all; the .md and .csv files are "
                  "for reading. It is not encrypted: keep it somewhere safe.")
    return EXIT_OK


def _safety_log(store: Any, user: Any, console: Console) -> int:
    found = store.run(lambda db: entries(db, user))
    if not found:
        console.print("The safety log is empty: os1 has not needed its crisis protocol.")
        return EXIT_OK
    console.print("When os1 followed its crisis protocol (only you can see this):")
    for entry in found:
        console.print(f"  {entry.at.astimezone():%Y-%m-%d %H:%M}  {entry.detail}")
    return EXIT_OK


def _erase(store: Any, user: Any, settings: Settings, console: Console) -> int:
    from os1.app import erase_everything

    report = erase_everything(settings, store, user)
    config = default_config_file(os.environ)
    if config.exists():
        shred(config)
    console.print(f"Erased: {report.turns:,} messages, {report.memories:,} memories, the mood "
                  f"timeline, the safety log, {report.files} file(s) of saved state, and the "
                  "settings. os1 holds nothing about you now.")
    return EXIT_OK


def _confirmed(settings: Settings, console: Console) -> bool:
    if not sys.stdin.isatty():
        console.print("[red]This erases everything os1 holds about you, for good.[/red] "
                      "Run it in a terminal to confirm, or add --yes.")
        return False
    console.print(f"This erases everything os1 holds about {settings.user_name}: every "
                  "conversation, memory, mood reading, the safety log, who the companion "
                  "became with you (its journal too), check-ins and your settings. "
                  "It cannot be undone (os1 export first if you want a copy).")
    answer = input("Type 'erase' to go on: ")
    return answer.strip().lower() == "erase"
