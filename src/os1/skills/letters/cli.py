"""`os1 letters`: write letters to people in your life, proofread them, print them, bind a book.

    os1 letters write "my sister" --occasion "her birthday" [--about "..."]
    os1 letters list | show ID | delete ID [--yes]
    os1 letters proofread ID [--accept] [--spelling-only]
    os1 letters pdf ID [-o FILE]
    os1 letters choose ID | unchoose ID
    os1 letters book [-o FILE] [--title "Dear ones"]

Every verb that changes something runs through the skill's actions, so it is in the action
log like the same request made in the chat.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from os1.config import Settings
from os1.llm.base import ChatModel
from os1.memory.engine import MemoryEngine
from os1.skills.actions import ActionContext, ActionError, ActionLog, Actions, Outcome
from os1.skills.letters.book import Letter, LetterBook
from os1.skills.letters.proofread import diff_text, word_diff
from os1.skills.letters.skill import LetterSkill, delete_letter
from os1.store.base import Database, User
from os1.store.open import open_store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_NEEDS_MODEL = {"write", "proofread"}


def add_letters_parser(verbs: Any) -> None:
    letters = verbs.add_parser("letters", help="letters to people in your life; your book")
    actions = letters.add_subparsers(dest="letters_action", metavar="ACTION")
    write = actions.add_parser("write", help="write a letter with what os1 remembers")
    write.add_argument("to", help='who it is to: "my sister", "Maya"')
    write.add_argument("--occasion", default="", help='e.g. "her birthday"')
    write.add_argument("--about", default="", help="what you would like to say")
    actions.add_parser("list", help="your letters (the default)")
    show = actions.add_parser("show", help="one letter in full")
    show.add_argument("id", type=int)
    proof = actions.add_parser("proofread", help="spelling and grammar, shown as changes")
    proof.add_argument("id", type=int)
    proof.add_argument("--accept", action="store_true", help="keep the changes without asking")
    proof.add_argument("--spelling-only", action="store_true",
                       help="only the dictionary (no model: fast)")
    pdf = actions.add_parser("pdf", help="a handwritten-looking PDF of a letter")
    pdf.add_argument("id", type=int)
    pdf.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to save it")
    for verb, what in (("choose", "put a letter in your book"),
                       ("unchoose", "take a letter out of your book")):
        actions.add_parser(verb, help=what).add_argument("id", type=int)
    book = actions.add_parser("book", help="the chosen letters as one PDF book")
    book.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to save it")
    book.add_argument("--title", default="", help='the title (default "Letters")')
    delete = actions.add_parser("delete", help="delete a letter")
    delete.add_argument("id", type=int)
    delete.add_argument("--yes", action="store_true", help="do not ask")


def run_letters(settings: Settings, args: argparse.Namespace, console: Console,
                errors: Console) -> int:
    return asyncio.run(_run(settings, args, console, errors))


@dataclass(frozen=True)
class _Session:
    settings: Settings
    store: Database
    user: User
    skill: LetterSkill
    actions: Actions
    context: ActionContext


@asynccontextmanager
async def _session(settings: Settings, action: str, errors: Console,
                   spelling_only: bool) -> AsyncIterator[_Session]:
    """The store, and for writing and proofreading the chat model and memory, opened like
    `os1 persona reflect` does; all closed on the way out."""
    from os1.app import open_memory

    model: ChatModel | None = None
    model_file = None
    if action in _NEEDS_MODEL and not spelling_only:
        from os1.llm.select import prepare_model_file
        from os1.terminal.progress import byte_progress

        with byte_progress(errors) as progress:
            model_file = await asyncio.to_thread(prepare_model_file, settings, progress)
    store = open_store(settings)
    memory: MemoryEngine | None = None
    try:
        if action in _NEEDS_MODEL and not spelling_only:
            from os1.llm.select import open_chat_model

            with errors.status("Loading the model…"):
                model = await asyncio.to_thread(open_chat_model, settings, model_file)
        if settings.memory and action in ("write", "proofread"):
            memory = open_memory(settings, store)
        user = store.user(settings.user_name)
        skill = LetterSkill(store, settings, model, memory)
        actions = Actions(skill.specs(), ActionLog(store))
        yield _Session(settings, store, user, skill, actions,
                       ActionContext(user, datetime.now().astimezone(), "command"))
    finally:
        if memory is not None:
            memory.close()
        if model is not None:
            await model.aclose()
        store.close()


async def _run(settings: Settings, args: argparse.Namespace, console: Console,
               errors: Console) -> int:
    action = args.letters_action or "list"
    async with _session(settings, action, errors,
                        bool(getattr(args, "spelling_only", False))) as session:
        try:
            return await _dispatch(session, action, args, console, errors)
        except ActionError as exc:
            errors.print(f"[red]{escape(str(exc))}[/red]")
            return EXIT_FAILED


async def _call(session: _Session, name: str, arguments: dict[str, Any]) -> Outcome:
    outcome = await session.actions.call(session.context, name, arguments, confirmed=True)
    assert isinstance(outcome, Outcome)  # every letters action is local
    return outcome


async def _dispatch(session: _Session, action: str, args: argparse.Namespace,
                    console: Console, errors: Console) -> int:
    book = LetterBook(session.store)
    if action == "list":
        return _list(book.all(session.user), console)
    if action == "show":
        letter = book.get(session.user, args.id)
        console.print(f"[bold]#{letter.id} to {escape(letter.recipient)}[/bold]"
                      + (f" — {escape(letter.title)}" if letter.title else "")
                      + f" [dim]({letter.updated_at.astimezone():%Y-%m-%d})[/dim]\n")
        console.print(escape(letter.body), highlight=False)
        return EXIT_OK
    if action == "write":
        arguments = {"to": args.to, "occasion": args.occasion, "about": args.about}
        with errors.status("Writing your letter (a minute or two on a laptop)…"):
            outcome = await _call(session, "letters.write",
                                  {k: v for k, v in arguments.items() if v})
        console.print(escape(outcome.detail) + "\n", highlight=False)
        console.print(escape(outcome.text))
        return EXIT_OK
    if action == "proofread":
        return await _proofread(session, args, console, errors)
    if action == "pdf":
        outcome = await _call(session, "letters.pdf", {"which": str(args.id)})
        return _deliver(outcome, args.output, console, errors)
    if action in ("choose", "unchoose"):
        outcome = await _call(session, "letters.choose",
                              {"which": str(args.id), "chosen": action == "choose"})
        console.print(escape(outcome.text))
        return EXIT_OK
    if action == "book":
        arguments = {"title": args.title} if args.title else {}
        outcome = await _call(session, "letters.book", arguments)
        return _deliver(outcome, args.output, console, errors)
    if action == "delete":
        return _delete(session, book, args, console, errors)
    raise AssertionError(action)


def _list(letters: list[Letter], console: Console) -> int:
    if not letters:
        console.print('No letters yet. `os1 letters write "my sister" --occasion "her '
                      'birthday"` writes one with what os1 remembers.')
        return EXIT_OK
    for letter in letters:
        mark = "[green]★[/green]" if letter.in_book else " "
        first = next((line for line in letter.body.splitlines()[1:] if line.strip()), "")
        console.print(f"{mark} [bold]#{letter.id}[/bold] "
                      f"{letter.created_at.astimezone():%Y-%m-%d} to "
                      f"{escape(letter.recipient)}"
                      + (f" — {escape(letter.title)}" if letter.title else "")
                      + f"  [dim]{escape(first[:60])}[/dim]", highlight=False)
    console.print("[dim]★ = chosen for your book (os1 letters choose ID; os1 letters "
                  "book)[/dim]")
    return EXIT_OK


def _rich_diff(old: str, new: str) -> str:
    out = []
    for kind, text in word_diff(old, new):
        if kind == "same":
            out.append(escape(text))
        elif kind == "removed":
            out.append(f"[red strike]{escape(text)}[/red strike]")
        else:
            out.append(f"[green]{escape(text)}[/green]")
    return "".join(out)


async def _proofread(session: _Session, args: argparse.Namespace, console: Console,
                     errors: Console) -> int:
    letter = LetterBook(session.store).get(session.user, args.id)
    with errors.status("Proofreading…"):
        outcome = await _call(session, "letters.proofread", {"which": str(args.id)})
    if not outcome.detail:  # nothing to change
        console.print(escape(outcome.text))
        return EXIT_OK
    suggested = _suggested(session, letter)
    # Colours on a terminal; the [-old-]{+new+} marks where colour would be lost.
    shown = (_rich_diff(letter.body, suggested) if console.is_terminal
             else escape(diff_text(letter.body, suggested)))
    console.print(shown + "\n", highlight=False)
    console.print(escape(outcome.text.replace(" Say “accept the corrections” to keep them.",
                                              "")))
    if not args.accept:
        if not sys.stdin.isatty():
            errors.print("Nothing changed: add --accept to keep these changes.")
            return EXIT_OK
        if input("Keep these changes? [y/N] ").strip().casefold() not in {"y", "yes"}:
            console.print("Kept your letter as it was.")
            return EXIT_OK
    accepted = await _call(session, "letters.accept", {"which": str(args.id)})
    console.print(escape(accepted.text))
    return EXIT_OK


def _suggested(session: _Session, letter: Letter) -> str:
    """The corrected text the proofread left waiting (the skill keeps it until accepted)."""
    pending = session.skill.pending(session.user)
    return pending.result.corrected if pending is not None else letter.body


def _deliver(outcome: Outcome, output: Path | None, console: Console, errors: Console) -> int:
    made = Path(outcome.detail)
    if output is None:
        console.print(escape(outcome.text))
        return EXIT_OK
    target = output.expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made, target)
        made.unlink()
    except OSError as exc:
        errors.print(f"[red]Cannot write {escape(str(target))} ({escape(str(exc))}). It is "
                     f"still at {escape(str(made))}.[/red]")
        return EXIT_FAILED
    console.print(escape(outcome.text.replace(str(made), str(target))))
    return EXIT_OK


def _delete(session: _Session, book: LetterBook, args: argparse.Namespace, console: Console,
            errors: Console) -> int:
    letter = book.get(session.user, args.id)
    if not args.yes:
        if not sys.stdin.isatty():
            errors.print("[red]Deleting cannot be undone: add --yes to confirm.[/red]")
            return EXIT_USAGE
        if input(f"Delete letter #{letter.id} to {letter.recipient}? [y/N] "
                 ).strip().casefold() not in {"y", "yes"}:
            console.print("Kept it.")
            return EXIT_OK
    delete_letter(session.store, session.settings, session.user, letter.id,
                  session.context.now)
    console.print(f"Deleted letter #{letter.id} to {escape(letter.recipient)}.")
    return EXIT_OK
