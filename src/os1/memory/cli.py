"""`os1 memory …`: see, search, correct, export and erase what os1 remembers."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from os1.config import Settings
from os1.memory.engine import MemoryEngine
from os1.memory.errors import MemoryNotFoundError
from os1.memory.records import MEMORY_KINDS, Memory
from os1.store.base import User
from os1.store.open import open_store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_memory_parser(verbs: Any) -> None:
    memory = verbs.add_parser("memory", help="see, search, edit, export and forget memories")
    memory.add_argument("--user", dest="user_name", help="whose memories (default: you)")
    actions = memory.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="the newest memories")
    listing.add_argument("--kind", choices=MEMORY_KINDS, action="append",
                         help="only this kind (repeatable)")
    listing.add_argument("--history", action="store_true",
                         help="include facts that were replaced by newer ones")
    listing.add_argument("--limit", type=int, default=30)
    listing.add_argument("--json", action="store_true")

    search = actions.add_parser("search", help="what os1 would recall for QUERY")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=10, help="how many (default 10)")
    search.add_argument("--json", action="store_true")

    show = actions.add_parser("show", help="one memory, with where it came from")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")

    edit = actions.add_parser("edit", help="correct a memory's words")
    edit.add_argument("id", type=int)
    edit.add_argument("--text", help="the corrected words (asked for if not given)")

    forget = actions.add_parser("forget", help="erase memories for good")
    forget.add_argument("ids", type=int, nargs="*", metavar="ID")
    forget.add_argument("--about", metavar="NAME",
                        help="everything about or mentioning NAME")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    export = actions.add_parser("export", help="everything os1 remembers, as JSON")
    export.add_argument("--out", type=Path, help="write to this file instead of the screen")


def run_memory(settings: Settings, args: argparse.Namespace, console: Console,
               errors: Console) -> int:
    store = open_store(settings)
    try:
        from os1.app import open_memory

        engine = open_memory(settings, store)
        user = store.user(settings.user_name)
        try:
            return _ACTIONS[args.action](engine, user, args, console, errors)
        except MemoryNotFoundError as exc:
            errors.print(f"[red]{exc}[/red]")
            return EXIT_FAILED
        finally:
            engine.close()
    finally:
        store.close()


def _when(memory: Memory) -> str:
    moment = memory.occurred_at or memory.created_at
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _table(memories: list[Memory], scores: list[float] | None = None) -> Table:
    table = Table(show_lines=False, expand=True)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("when", no_wrap=True)
    table.add_column("memory", ratio=1)
    if scores is not None:
        table.add_column("score", justify="right")
    for row, memory in enumerate(memories):
        text = f"{memory.speaker}: {memory.text}" if memory.speaker else memory.text
        if not memory.current:
            text += " [dim](replaced)[/dim]"
        cells = [str(memory.id), memory.kind, _when(memory), text]
        if scores is not None:
            cells.append(f"{scores[row]:.3f}")
        table.add_row(*cells)
    return table


def _list(engine: MemoryEngine, user: User, args: argparse.Namespace, console: Console,
          errors: Console) -> int:
    memories = engine.store.records(user, kinds=args.kind or (), history=args.history,
                                    limit=args.limit)
    if args.json:
        print(json.dumps([m.as_json() for m in memories], ensure_ascii=False, indent=2))
    elif not memories:
        console.print("os1 remembers nothing yet.")
    else:
        console.print(_table(memories))
        total = engine.store.count(user)
        if total > len(memories):
            console.print(f"[dim]{len(memories)} of {total}; use --limit or --kind for more.[/dim]")
    return EXIT_OK


def _search(engine: MemoryEngine, user: User, args: argparse.Namespace, console: Console,
            errors: Console) -> int:
    if not args.query.strip():
        errors.print("[red]Give something to search for, e.g. os1 memory search sister[/red]")
        return EXIT_USAGE
    result = engine.recall(user, args.query, max(1, args.k), datetime.now().astimezone(),
                           with_context=True)
    if args.json:
        print(json.dumps([{**h.memory.as_json(), "score": h.score} for h in result.hits],
                         ensure_ascii=False, indent=2))
    elif not result.hits:
        console.print("Nothing found.")
    else:
        console.print(_table([h.memory for h in result.hits], [h.score for h in result.hits]))
        best = result.hits[0]
        if best.context:
            console.print(f"[dim]around #{best.memory.id}:[/dim]")
            for memory in best.context:
                console.print(f"[dim]  {memory.speaker}: {memory.text}[/dim]")
        console.print(f"[dim]{result.total_ms:.0f} ms[/dim]")
    return EXIT_OK


def _show(engine: MemoryEngine, user: User, args: argparse.Namespace, console: Console,
          errors: Console) -> int:
    memory = engine.store.get(user, args.id)
    if args.json:
        print(json.dumps(memory.as_json(), ensure_ascii=False, indent=2))
        return EXIT_OK
    console.print(_table([memory]))
    if memory.subject:
        console.print(f"about: {memory.subject}" + (f" ({memory.relation})"
                                                    if memory.relation else ""))
    if memory.superseded_by:
        console.print(f"replaced by #{memory.superseded_by} on {memory.valid_to:%Y-%m-%d}")
    if memory.sources:
        console.print("from turn(s): " + ", ".join(f"#{t}" for t in memory.sources))
    return EXIT_OK


def _edit(engine: MemoryEngine, user: User, args: argparse.Namespace, console: Console,
          errors: Console) -> int:
    memory = engine.store.get(user, args.id)
    text = args.text
    if text is None:
        if not sys.stdin.isatty():
            errors.print("[red]Give the corrected words with --text.[/red]")
            return EXIT_USAGE
        console.print(f"Now: {memory.text}")
        text = input("Corrected: ")
    try:
        edited = engine.edit(user, args.id, text)
    except ValueError as exc:
        errors.print(f"[red]{exc}[/red]")
        return EXIT_USAGE
    console.print(f"#{edited.id} now reads: {edited.text}")
    return EXIT_OK


def _confirm(question: str, yes: bool, errors: Console) -> bool | None:
    if yes:
        return True
    if not sys.stdin.isatty():
        errors.print("[red]Forgetting cannot be undone: add --yes to confirm.[/red]")
        return None
    return input(f"{question} [y/N] ").strip().casefold() in {"y", "yes"}


def _forget(engine: MemoryEngine, user: User, args: argparse.Namespace, console: Console,
            errors: Console) -> int:
    if bool(args.ids) == bool(args.about):
        errors.print("[red]Say what to forget: os1 memory forget ID … or --about NAME[/red]")
        return EXIT_USAGE
    if args.about:
        if not args.about.strip():
            errors.print("[red]--about needs a name.[/red]")
            return EXIT_USAGE
        found = engine.store.about(user, args.about.strip())
    else:
        found = [engine.store.get(user, i) for i in args.ids]
    if not found:
        console.print(f"os1 remembers nothing about {args.about}.")
        return EXIT_OK
    console.print(_table(found))
    answer = _confirm(f"Forget these {len(found)} memories for good? (A turn takes the facts "
                      "drawn only from it; a fact takes its older versions.)", args.yes, errors)
    if answer is None:
        return EXIT_USAGE
    if not answer:
        console.print("Nothing was forgotten.")
        return EXIT_OK
    report = engine.forget(user, [m.id for m in found])
    console.print(f"Forgotten: {report.records} record(s)"
                  + (f", and {report.files} conversation snapshot file(s)" if report.files else "")
                  + ". The bytes are gone from the database.")
    return EXIT_OK


def _export(engine: MemoryEngine, user: User, args: argparse.Namespace, console: Console,
            errors: Console) -> int:
    document = {"user": user.name, "exported_at": datetime.now().astimezone().isoformat(),
                "memories": engine.store.export(user)}
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if args.out is None:
        print(text)
        return EXIT_OK
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    console.print(f"Wrote {len(document['memories'])} memories to {args.out}")
    return EXIT_OK


_ACTIONS = {"list": _list, "search": _search, "show": _show, "edit": _edit, "forget": _forget,
            "export": _export}
