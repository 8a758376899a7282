"""`os1`: one command, many verbs."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from os1.affect.cli import add_mood_parser, run_mood
from os1.affect.errors import AffectError
from os1.bench_cli import add_bench_parser, run_bench
from os1.checkins.cli import add_checkins_parser, run_checkins
from os1.companion import Companion
from os1.config import (
    ConfigError,
    ResolvedSettings,
    Settings,
    load_settings,
    set_in_config_file,
)
from os1.llm.base import ModelError
from os1.memory.cli import add_memory_parser, run_memory
from os1.memory.errors import MemoryError_
from os1.persona.cli import add_persona_parser, run_persona
from os1.privacy.cli import add_privacy_parsers, run_privacy
from os1.server.cli import add_server_parser, add_worker_parser, run_server, run_worker
from os1.skills.cli import add_actions_parser, run_actions
from os1.skills.letters.cli import add_letters_parser, run_letters
from os1.skills.mail.cli import add_mail_parser, run_mail
from os1.skills.reminders.cli import add_remind_parser, run_remind
from os1.store.base import Database, StorageError
from os1.store.encrypt_cli import add_encrypt_parser, run_encrypt
from os1.store.open import unlock
from os1.voice.cli import add_voice_parser, run_voice

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="os1", description="os1: a personal AI companion that runs on your own machine."
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")

    chat = verbs.add_parser("chat", help="talk with os1 in the terminal")
    chat.add_argument("--once", metavar="TEXT", help="print one reply to TEXT and exit")
    chat.add_argument("--model", help="default, fast, or a path to a .gguf file")
    chat.add_argument("--user", dest="user_name", help="whose conversation to continue")
    chat.add_argument("--new", action="store_true", help="start a new conversation")

    config = verbs.add_parser(
        "config", help="show the settings and their sources; `os1 config set NAME VALUE` "
        "changes one in the config file")
    config.add_argument("assignment", nargs="*", metavar="set NAME VALUE",
                        help="e.g. set affect off")
    config.add_argument("--json", action="store_true", help="print JSON")

    setup = verbs.add_parser(
        "setup", help="prepare the model (join, check, load once), then a few questions so "
        "os1 can get to know you (skippable, resumable)")
    setup.add_argument("--model", help="default, fast, or a path to a .gguf file")
    setup.add_argument("--redo", action="store_true", help="go through your answers again")
    setup.add_argument("--no-questions", action="store_true",
                       help="prepare the model only")

    add_memory_parser(verbs)
    add_mood_parser(verbs)
    add_voice_parser(verbs)
    add_bench_parser(verbs)
    add_privacy_parsers(verbs)
    add_persona_parser(verbs)
    add_checkins_parser(verbs)
    add_remind_parser(verbs)
    add_mail_parser(verbs)
    add_letters_parser(verbs)
    add_actions_parser(verbs)
    add_encrypt_parser(verbs)
    add_server_parser(verbs)
    add_worker_parser(verbs)
    return parser


# The verbs that read the user's data, each run by its own module the same way (chat and setup,
# which take more, are below; config, encrypt and bench do not unlock the database).
_VERBS: dict[str, Callable[[Settings, argparse.Namespace, Console, Console], int]] = {
    "memory": run_memory, "mood": run_mood, "voice": run_voice, "export": run_privacy,
    "forget": run_privacy, "safety": run_privacy, "persona": run_persona,
    "checkins": run_checkins, "remind": run_remind, "mail": run_mail, "letters": run_letters,
    "actions": run_actions, "serve": run_server, "account": run_server,
    "worker": run_worker,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(stderr=False, highlight=False)
    errors = Console(stderr=True, highlight=False)
    if args.verb is None:
        args = _parser().parse_args(["chat", *(argv or [])])
    overrides = {k: getattr(args, k, None) for k in ("model", "user_name")}
    try:
        resolved = load_settings(overrides=overrides)
    except ConfigError as exc:
        errors.print(f"[red]Configuration problem:[/red] {exc}")
        return EXIT_USAGE
    try:
        if args.verb == "config":
            if args.assignment:
                return _set_config(resolved, args.assignment, console, errors)
            return _show_config(resolved, console, as_json=args.json)
        if args.verb in ("encrypt", "decrypt"):
            return run_encrypt(args, resolved.settings, console, errors)
        verb = _VERBS.get(args.verb)
        if args.verb in ("chat", "setup") or verb is not None:
            unlock(resolved.settings)  # the passphrase prompt comes before any spinner
        if args.verb == "setup":
            return _setup(resolved, args, console)
        if verb is not None:
            return verb(resolved.settings, args, console, errors)
        if args.verb == "bench":
            return run_bench(args, console, errors)
        return _chat(resolved, args, console, errors)
    except (ModelError, StorageError, MemoryError_, AffectError) as exc:
        errors.print(f"[red]{exc}[/red]")
        return EXIT_FAILED
    except KeyboardInterrupt:
        errors.print("[dim]Stopped.[/dim]")
        return 130


def _set_config(resolved: ResolvedSettings, assignment: list[str], console: Console,
                errors: Console) -> int:
    if len(assignment) != 3 or assignment[0] != "set":
        errors.print("[red]Usage: os1 config set NAME VALUE[/red] (for example: "
                     "os1 config set affect off)")
        return EXIT_USAGE
    _, name, raw = assignment
    try:
        value = set_in_config_file(resolved.config_file, name, raw)
    except ConfigError as exc:
        errors.print(f"[red]{exc}[/red]")
        return EXIT_USAGE
    console.print(f"{name} = {value}  [dim](saved in {resolved.config_file})[/dim]")
    overridden = next((s.source for s in resolved.sources
                       if s.name == name and s.source.startswith(("env", "command"))), None)
    if overridden:
        console.print(f"[yellow]Note: {overridden} overrides the config file for {name}."
                      "[/yellow]")
    if name == "affect" and value is False:
        console.print("Emotion reading is off: nothing is inferred or stored from now on. "
                      "Readings kept so far stay until you run: os1 mood forget")
    return EXIT_OK


def _show_config(resolved: ResolvedSettings, console: Console, *, as_json: bool) -> int:
    def shown(value: Any, secret: bool) -> str:
        if secret and value:
            return "•••• (set)"
        return str(value)

    if as_json:
        data = {
            s.name: {"value": shown(s.value, s.secret), "source": s.source}
            for s in resolved.sources
        }
        console.print_json(json.dumps({"config_file": str(resolved.config_file),
                                       "settings": data}))
        return EXIT_OK
    table = Table(title="os1 settings", title_justify="left")
    table.add_column("setting")
    table.add_column("value")
    table.add_column("from")
    table.add_column("meaning", style="dim")
    for s in resolved.sources:
        table.add_row(s.name, shown(s.value, s.secret), s.source, s.help)
    console.print(table)
    exists = "exists" if resolved.config_file.exists() else "not created yet"
    console.print(f"[dim]Config file: {resolved.config_file} ({exists}). "
                  "Environment: OS1_<SETTING> (e.g. OS1_MODEL=fast).[/dim]")
    return EXIT_OK


async def _prepare(settings: Settings, console: Console) -> Companion:
    """Open the companion, showing progress: join the model (once), load it, warm it."""
    from os1.app import close_companion, open_companion
    from os1.llm.select import prepare_model_file
    from os1.terminal.progress import byte_progress

    with byte_progress(console) as progress:
        model_file = await asyncio.to_thread(prepare_model_file, settings, progress)
    what = f"Loading {model_file.name}…" if model_file else f"Connecting to {settings.llm_url}…"
    with console.status(what):
        companion = await asyncio.to_thread(open_companion, settings, model_file)
    try:
        with console.status("Getting ready (the very first time takes a minute)…"):
            user = await asyncio.to_thread(companion.store.user, settings.user_name)
            await companion.warm(user)
    except BaseException:
        await close_companion(companion)
        raise
    return companion


def _setup(resolved: ResolvedSettings, args: argparse.Namespace, console: Console) -> int:
    from os1.app import close_companion

    settings = resolved.settings

    async def run() -> None:
        companion = await _prepare(settings, console)
        try:
            console.print(f"[green]Ready.[/green] Model: {companion.model.name}")
            console.print(f"Conversations are stored in {settings.database_path}")
            if not args.no_questions:
                console.print()
                await _interview(companion, resolved, console, redo=args.redo)
        finally:
            await close_companion(companion)

    asyncio.run(run())
    return EXIT_OK


async def _interview(companion: Companion, resolved: ResolvedSettings, console: Console, *,
                     redo: bool = False, offer: bool = False) -> None:
    """The onboarding interview (os1 setup, or offered by a first os1 chat). Answers that
    change the persona apply at once: the model is readied for the new persona here."""
    from os1.persona.onboarding import QUESTIONS, Onboarding
    from os1.terminal.interview import line_reader, run_interview

    settings = resolved.settings
    user = await asyncio.to_thread(companion.store.user, settings.user_name)
    memory = companion.memory.engine if companion.memory is not None else None
    store = companion.store
    assert isinstance(store, Database)  # what open_companion opens
    onboarding = Onboarding(store, memory, resolved.config_file, companion.safety)
    read = line_reader()
    if offer:
        progress = await asyncio.to_thread(onboarding.progress, user)
        if progress.answered or progress.skipped:
            return  # offered once: started, finished or declined before
        console.print("Before we talk: may I ask a few questions to get to know you? About a "
                      "minute; every question can be skipped.")
        try:
            answer = (await read("Start now? [Y/n] ")).strip().lower()
        except (EOFError, KeyboardInterrupt):
            answer = "n"
        if answer not in ("", "y", "yes"):
            for question in QUESTIONS:  # declined: not asked again (os1 setup asks)
                await asyncio.to_thread(onboarding.skip, user, question.id)
            console.print("[dim]No problem. os1 setup --redo asks them whenever you like.[/dim]")
            return
    before = await asyncio.to_thread(companion.personas.persona, user)
    await run_interview(onboarding, user, console, read, redo=redo)
    after = await asyncio.to_thread(companion.personas.persona, user)
    if after != before:
        with console.status("Getting ready for who you'd like me to be…"):
            await companion.warm(user)


def _chat(resolved: ResolvedSettings, args: argparse.Namespace, console: Console,
          errors: Console) -> int:
    from os1.app import close_companion
    from os1.checkins.outreach import Outreach
    from os1.checkins.scheduler import CheckIns
    from os1.terminal.chat import chat_loop, chat_once

    settings = resolved.settings

    async def run() -> int:
        # Progress and spinners go to stderr so `os1 chat --once` prints only the reply.
        companion = await _prepare(settings, errors)
        if settings.uses_remote_model:
            errors.print(f"[dim]Using the model server at {settings.llm_url}: your messages "
                         "are sent there.[/dim]")
        try:
            user = await asyncio.to_thread(companion.store.user, settings.user_name)
            if args.once is None and sys.stdin.isatty():
                await _interview(companion, resolved, console, offer=True)
            if args.new:
                await companion.new_conversation(user)
            if args.once is not None:
                return await chat_once(companion, user, args.once, console, errors)
            store = companion.store
            assert isinstance(store, Database)  # what open_companion opens
            outreach = Outreach(companion, CheckIns(store, settings))
            return await chat_loop(companion, user, console, outreach)
        finally:
            unsaved = await close_companion(companion)
            if unsaved:
                # Last resort: the database still refuses them, so show them rather than
                # let them vanish with the process.
                errors.print(f"[red]{len(unsaved)} message(s) could not be saved "
                             f"to {settings.database_path}:[/red]")
                for turn in unsaved:
                    errors.print(f"  {turn.role}: {turn.content}", markup=False)

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
