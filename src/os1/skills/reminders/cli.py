"""`os1 remind`: set, list, snooze and cancel reminders; iCalendar files; CalDAV sync.

    os1 remind call Amy Friday at six        (the same as: os1 remind add "call Amy …")
    os1 remind list [--all]                  upcoming first; --all adds delivered/cancelled
    os1 remind snooze ID [--until WHEN]      default: 10 minutes from now
    os1 remind cancel ID                     ID: the number, or words from the reminder
    os1 remind export FILE [--all]           an .ics file of VTODOs with alarms
    os1 remind import FILE                   idempotent; past and done ones are skipped
    os1 remind sync URL [--username U] [--yes]   push pending ones, pull the collection's to-dos

The request is free words, so the verbs are read by hand from the first word (argparse cannot
have both a default verb and free text); every verb runs through the skill's actions, so it is
in the action log like the same request made in the chat.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.console import Console
from rich.markup import escape

from os1.config import Settings
from os1.local_zone import local_now
from os1.skills.actions import (
    ActionContext,
    ActionLog,
    Actions,
)
from os1.skills.cli import run_command
from os1.skills.reminders import command_actions, describe_all
from os1.skills.reminders.book import Reminders
from os1.store.open import open_store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
VERBS = ("add", "list", "snooze", "cancel", "export", "import", "sync")


def add_remind_parser(verbs: Any) -> None:
    remind = verbs.add_parser(
        "remind", help="reminders: os1 remind call Amy Friday at six",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    remind.add_argument("request", nargs=argparse.REMAINDER,
                        help="what and when, or a verb: " + ", ".join(VERBS))


def verb_parser(verb: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"os1 remind {verb}")
    if verb == "add":
        parser.add_argument("words", nargs="+", help='"call Amy Friday at six"')
    elif verb == "list":
        parser.add_argument("--all", action="store_true", help="delivered and cancelled too")
    elif verb == "snooze":
        parser.add_argument("which", nargs="+", help="the number, or words from it")
        parser.add_argument("--until", default="", help='"in an hour", "5pm" (default: 10 min)')
    elif verb == "cancel":
        parser.add_argument("which", nargs="+", help="the number, or words from it")
    elif verb in ("export", "import"):
        parser.add_argument("file")
        if verb == "export":
            parser.add_argument("--all", action="store_true", help="done and cancelled too")
    elif verb == "sync":
        parser.add_argument("url", help="the CalDAV collection (calendar or task list)")
        parser.add_argument("--username", default="", help="password: keyring or "
                            "OS1_CALDAV_PASSWORD")
        parser.add_argument("--yes", action="store_true", help="do not ask")
    return parser


def command(words: list[str]) -> tuple[str, dict[str, Any], bool]:
    """The action and its arguments for ``os1 remind WORDS…``, and whether --yes was given.
    Raises SystemExit (argparse) for bad usage."""
    if not words:
        return "remind.list", {}, False
    verb = words[0] if words[0] in VERBS else "add"
    rest = words[1:] if words[0] in VERBS else words
    if verb == "add" and words[0] != "add":
        return "remind.add", {"what": " ".join(rest), "when": ""}, False
    args = verb_parser(verb).parse_args(rest)
    if verb == "add":
        return "remind.add", {"what": " ".join(args.words), "when": ""}, False
    if verb == "list":
        return "remind.list", {}, args.all
    if verb in ("snooze", "cancel"):
        arguments = {"which": " ".join(args.which)}
        if verb == "snooze":
            arguments["until"] = args.until
        return f"remind.{verb}", arguments, False
    if verb == "export":
        return "remind.export", {"file": args.file, "all": args.all}, False
    if verb == "import":
        return "remind.import", {"file": args.file}, False
    arguments = {"url": args.url}
    if args.username:
        arguments["username"] = args.username
    return "remind.sync", arguments, args.yes


def run_remind(settings: Settings, args: argparse.Namespace, console: Console,
               errors: Console) -> int:
    try:
        name, arguments, flag = command(list(args.request or []))
    except SystemExit as exc:  # argparse has printed the usage
        return int(exc.code or EXIT_USAGE) if isinstance(exc.code, int) else EXIT_USAGE
    store = open_store(settings)
    try:
        user = store.user(settings.user_name)
        actions = Actions(command_actions(store, settings), ActionLog(store))
        context = ActionContext(user, local_now(), "command")
        if name == "remind.list":
            return _list(Reminders(store, settings), context, everything=flag, console=console)
        return asyncio.run(run_command(actions, context, name, arguments, yes=flag,
                                       console=console, errors=errors))
    finally:
        store.close()


def _list(book: Reminders, context: ActionContext, *, everything: bool,
          console: Console) -> int:
    """Listing only reads: it is not logged (like `os1 letters list`), and --all shows what
    the chat's remind.list never does."""
    reminders = book.listing(context.user, everything=everything)
    if not reminders:
        console.print("No reminders" + ("." if everything else " coming up.")
                      + " Set one: os1 remind call Amy Friday at six")
        return EXIT_OK
    console.print(escape(describe_all(reminders, context.now)))
    return EXIT_OK
