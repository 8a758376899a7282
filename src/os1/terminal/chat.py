"""`os1 chat`: the terminal interface. It renders turn events and nothing more."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from functools import partial

from prompt_toolkit import PromptSession
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.key_binding.key_processor import KeyPressEvent
from rich.console import Console
from rich.status import Status

from os1.checkins.outreach import Outreach
from os1.checkins.records import CheckIn
from os1.companion import Companion
from os1.events import (
    ActionProgress,
    ActionTaken,
    AffectRead,
    Done,
    Event,
    MemoryUsed,
    Notice,
    Token,
    TurnError,
)
from os1.store.base import StorageError, User
from os1.terminal.wrap import StreamWrapper

HELP = """\
Type and press Enter to send. Esc then Enter (or Alt+Enter) starts a new line;
pasted text keeps its lines.
  /new    start a new conversation (the old one stays saved)
  /help   show this help
  /quit   leave (Ctrl-D works too)
Ctrl-C while os1 is answering stops the reply; what it said so far is kept."""

AFFECT_DISCLOSURE = ("os1 reads the feeling in your messages to answer with care, and keeps a "
                     "mood timeline only you see (os1 mood). Off: os1 config set affect off")

# Reads one message; its argument is text to offer again (a message that was not kept).
Reader = Callable[[str], Awaitable[str]]


async def chat_once(companion: Companion, user: User, text: str, console: Console,
                    aside: Console | None = None) -> int:
    """Print one reply to stdout and return an exit status (for scripts). What os1 recalled
    or sensed goes to ``aside`` (stderr), so stdout holds the reply alone."""
    opening = await companion.greet(user)
    if opening:
        (aside or console).print(f"[dim]{_escape(opening)}[/dim]")
    if companion.affect is not None:
        (aside or console).print(f"[dim]{AFFECT_DISCLOSURE}[/dim]")
    outcome = await _render_turn(companion.turn(user, text), console, aside)
    return 0 if outcome == "done" else 1


async def chat_loop(companion: Companion, user: User, console: Console,
                    outreach: Outreach | None = None, checkins_every_s: float = 60.0) -> int:
    """``outreach``: check-ins are said when the chat opens and, while the user is not in a
    turn, every ``checkins_every_s`` seconds (above the prompt)."""
    await _show_where_we_left_off(companion, user, console)
    name = (await companion.persona(user)).name
    opening = await companion.greet(user)
    if opening:  # honest from the first line: os1 is an AI
        console.print(f"[bold]{_escape(name)}:[/bold] {_escape(opening)}")
    if companion.affect is not None:  # consent starts with knowing
        console.print(f"[dim]{AFFECT_DISCLOSURE}[/dim]")
    console.print("[dim]/help for help. Ctrl-C stops a reply, Ctrl-D or /quit leaves.[/dim]")

    def show(said: list[CheckIn]) -> None:
        for checkin in said:
            console.print(f"[bold]{_escape(name)}:[/bold] {_escape(checkin.text)}")

    if outreach is not None:
        with suppress(StorageError):  # a locked database: check-ins wait, the chat goes on
            show(await outreach.take(user))
    read = _terminal_reader() if sys.stdin.isatty() else _pipe_reader()
    keep = ""
    while True:
        watcher = (asyncio.ensure_future(_watch(outreach, user, show, checkins_every_s))
                   if outreach is not None else None)
        try:
            text = await read(keep)
        except EOFError:
            console.print()
            return 0
        except KeyboardInterrupt:
            keep = ""
            continue
        finally:
            if watcher is not None:
                watcher.cancel()
                with suppress(asyncio.CancelledError):
                    await watcher
        keep = ""
        if outreach is not None and text.strip():
            paused = await outreach.answered(user, text)
            if paused is not None:
                console.print(f"[dim]Check-ins paused until {paused.astimezone():%a %H:%M}."
                              "[/dim]")
        command = text.strip().lower()
        if not command:
            continue
        if command in ("/quit", "/exit", "/q"):
            return 0
        if command == "/help":
            console.print(HELP, markup=False)
            continue
        if command == "/new":
            try:
                await companion.new_conversation(user)
            except StorageError as exc:
                console.print(f"[red]{_escape(str(exc))}[/red]")
                continue
            console.print("[dim]A new conversation. The old one is saved.[/dim]")
            continue
        if command.startswith("/") and " " not in command:
            console.print(f"[yellow]Unknown command {command}.[/yellow] /help lists them.")
            continue
        outcome = await _reply_until_ctrl_c(companion, user, text, console)
        if outcome == "lost":
            keep = text  # the store refused the message: offer it again, never lose it


async def _watch(outreach: Outreach, user: User, show: Callable[[list[CheckIn]], None],
                 every_s: float) -> None:
    """While the user is at the prompt: say due check-ins above it. A cancellation (the user
    pressed Enter) never falls between saying a check-in and showing it."""
    while True:
        await asyncio.sleep(every_s)
        taking = asyncio.ensure_future(outreach.take(user))
        try:
            said = await asyncio.shield(taking)
        except asyncio.CancelledError:
            with suppress(StorageError):
                show(await taking)
            raise
        except StorageError:  # a locked database: check-ins wait for the next minute
            continue
        if said:
            await run_in_terminal(partial(show, said))


async def _reply_until_ctrl_c(
    companion: Companion, user: User, text: str, console: Console
) -> str:
    """Show one reply. Outside the prompt the terminal is in cooked mode, so Ctrl-C is a
    signal: it cancels the reply (the companion keeps what was said), not the session.
    The handler is set per reply because prompt_toolkit resets SIGINT after each prompt."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(_render_turn(companion.turn(user, text), console))
    handled = False
    with suppress(NotImplementedError, RuntimeError):  # no signal handlers on this platform
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        handled = True
    try:
        return await task
    except asyncio.CancelledError:
        console.print("\n[dim](stopped — what was said so far is kept)[/dim]")
        return "stopped"
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)


async def _show_where_we_left_off(companion: Companion, user: User, console: Console) -> None:
    turns = await companion.history(user)
    if not turns:
        console.print("[bold]os1[/bold] [dim]· a new conversation[/dim]")
        return
    console.print(
        f"[bold]os1[/bold] [dim]· continuing our conversation ({len(turns)} messages)[/dim]"
    )
    for turn in turns[-4:]:
        who = "you" if turn.role == "user" else "os1"
        style = "cyan" if turn.role == "user" else "default"
        console.print(f"[dim]{who}:[/dim] [{style}]{_escape(turn.content)}[/{style}]")
    console.print()


async def _render_turn(events: AsyncIterator[Event], console: Console,
                       aside: Console | None = None) -> str:
    """Show a turn's events. Returns "done", "error" or "lost" (message not kept)."""
    aside = aside or console
    status: Status | None = console.status("[dim]…[/dim]", spinner="dots")
    if status is not None:
        status.start()
    out = console.file
    wrapper = StreamWrapper(console.width - 1)
    writing = False
    outcome = "error"
    detail = ""
    try:
        async for event in events:
            if isinstance(event, Token):
                if status is not None:
                    status.stop()
                    status = None
                if not writing:
                    out.write("\n")
                    writing = True
                out.write(wrapper.feed(event.text))
                out.flush()
            elif isinstance(event, Notice):
                if status is not None:
                    status.stop()
                console.print(f"[yellow]{_escape(event.text)}[/yellow]")
                if status is not None:
                    status.start()
            elif isinstance(event, MemoryUsed):
                # Say what os1 brought back from earlier conversations: no hidden recall.
                if status is not None:
                    status.stop()
                short = event.text if len(event.text) <= 70 else event.text[:69] + "…"
                aside.print(f"[dim]· remembering #{event.id}: {_escape(short)}[/dim]")
                if status is not None:
                    status.start()
            elif isinstance(event, AffectRead):
                # Say what os1 read, when it read something: no hidden inference.
                if event.emotions and event.emotions != ("neutral",):
                    if status is not None:
                        status.stop()
                    aside.print(f"[dim]· sensing {_escape(', '.join(event.emotions))}[/dim]")
                    if status is not None:
                        status.start()
            elif isinstance(event, TurnError):
                if status is not None:
                    status.stop()
                    status = None
                console.print(f"\n[red]{_escape(event.message)}[/red]")
                if event.kind == "model" and event.kept:
                    console.print("[dim]Your message is saved; send another when ready.[/dim]")
                outcome = "error" if event.kept or event.kind == "empty_input" else "lost"
            elif isinstance(event, ActionProgress):
                if status is not None:
                    status.update(f"[dim]{_escape(event.text)}[/dim]")
            elif isinstance(event, ActionTaken):
                # Say what os1 did for the user: no hidden action.
                if status is not None:
                    status.stop()
                if event.action:
                    aside.print(f"[dim]· {_escape(event.action)}: {event.status}[/dim]")
                if status is not None:
                    status.start()
                detail = event.detail
            elif isinstance(event, Done):
                outcome = "done"
                if detail:  # a list or a draft: after the words that introduce it
                    out.write("\n\n" + detail.rstrip() + "\n")
                    out.flush()
    finally:
        if status is not None:
            status.stop()
        if writing:
            out.write("\n\n")
            out.flush()
    return outcome


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _terminal_reader() -> Reader:
    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @bindings.add("enter")
    def _submit(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    session: PromptSession[str] = PromptSession(
        history=InMemoryHistory(), multiline=True, key_bindings=bindings,
        prompt_continuation="… ",
    )

    async def read(default: str) -> str:
        return await session.prompt_async("› ", default=default)

    return read


def _pipe_reader() -> Reader:
    """Lines from a pipe or file: one message per line."""
    return stdin_line


async def stdin_line(_shown: str = "") -> str:
    """The next line of stdin (a pipe: nothing is shown); EOFError at its end."""
    line: str = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        raise EOFError
    return line
