"""The onboarding interview in the terminal: it asks and shows; os1.persona.onboarding decides.

Stopping is always safe: every answer is saved as it is given, so /stop, Ctrl-C or Ctrl-D
just pause, and `os1 setup` carries on at the first question left.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from prompt_toolkit import PromptSession
from rich.console import Console
from rich.markup import escape

from os1.persona.onboarding import QUESTIONS, AnswerResult, Onboarding, Question, position
from os1.store.base import StorageError, User
from os1.terminal.chat import stdin_line

# Shows its argument as the prompt and returns one line; EOFError or KeyboardInterrupt stop.
Reader = Callable[[str], Awaitable[str]]

PROMPT = "› "
INTRO = ("Before we talk, a few questions so I can get to know you. I'm an AI, not a person, "
         "and these answers shape how I talk with you. Press Enter to skip any question, or "
         "type /stop to pause. You can change every answer later with os1 setup --redo.")
EDITING = ("Let's go through your answers. Enter keeps each one as it is; /skip takes one "
           "back; /stop pauses.")
WELCOME_BACK = "Welcome back. Let's pick up where we left off (Enter skips, /stop pauses)."
PAUSED = "Paused. Run os1 setup to carry on where we left off."
DONE = "That's everything, thank you. os1 setup --redo changes any answer."
ALREADY = "The setup questions are done. os1 setup --redo changes any answer."
_STOP = {"/stop", "/pause", "/quit", "/q", "/exit"}


async def run_interview(onboarding: Onboarding, user: User, console: Console, read: Reader,
                        *, redo: bool = False) -> bool:
    """Ask the questions left (``redo``: all of them, offering each current answer).
    True when the interview is finished, False when it paused."""
    progress = await asyncio.to_thread(onboarding.progress, user)
    if progress.finished and not redo:
        console.print(f"[dim]{ALREADY}[/dim]")
        return True
    if redo:
        console.print(EDITING)
        asking = QUESTIONS
    else:
        started = progress.answered or progress.skipped
        console.print(WELCOME_BACK if started else INTRO)
        asking = tuple(q for q in QUESTIONS if q.id in progress.remaining)
    for question in asking:
        current = await asyncio.to_thread(onboarding.current, user, question.id)
        _ask(console, question, current)
        while True:
            try:
                text = await read(PROMPT)
            except (EOFError, KeyboardInterrupt):
                console.print()
                console.print(f"[dim]{PAUSED}[/dim]")
                return False
            command = text.strip().casefold()
            if command in _STOP:
                console.print(f"[dim]{PAUSED}[/dim]")
                return False
            try:
                if command == "/skip":
                    result = await asyncio.to_thread(onboarding.skip, user, question.id)
                else:
                    result = await asyncio.to_thread(onboarding.answer, user, question.id, text)
            except StorageError as exc:
                console.print(f"[red]{escape(str(exc))}[/red]")
                console.print(f"[dim]{PAUSED}[/dim]")
                return False
            _show(console, result)
            if result.status == "crisis":  # no more questions now; the person comes first
                console.print("[dim]We can finish setting up another time (os1 setup).[/dim]")
                return False
            if result.moves_on:
                break
    console.print()
    console.print(DONE)
    return True


def _ask(console: Console, question: Question, current: str) -> None:
    console.print()
    console.print(f"[dim]({position(question.id)} of {len(QUESTIONS)})[/dim] "
                  f"[bold]{escape(question.text)}[/bold]")
    for number, choice in enumerate(question.choices, start=1):
        console.print(f"  {number}. {escape(choice.label)}")
    if current:
        console.print(f"[dim]Enter keeps: {escape(question.shown(current))}[/dim]")
    elif question.hint:
        console.print(f"[dim]{escape(question.hint)}[/dim]")


def _show(console: Console, result: AnswerResult) -> None:
    if not result.message:
        return
    style = {"invalid": "yellow", "refused": "yellow", "failed": "red",
             "skipped": "dim", "kept": "dim"}.get(result.status, "")
    text = escape(result.message)
    console.print(f"[{style}]{text}[/{style}]" if style else text)


def line_reader() -> Reader:
    """Lines from the terminal (prompt_toolkit: editing keys, Ctrl-C, Ctrl-D), or from
    stdin when it is a pipe (EOFError at its end)."""
    if sys.stdin.isatty():
        session: PromptSession[str] = PromptSession()

        async def ask(prompt: str) -> str:
            return await session.prompt_async(prompt)

        return ask

    return stdin_line
