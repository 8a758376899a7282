"""`os1 persona`: who the companion is with you now, how it has changed, and undoing a change.

    os1 persona                 name, tone, traits, interests, how it sees the friendship
    os1 persona history         every version, what changed, the journal entry written with it
    os1 persona journal         the companion's own journal
    os1 persona undo [--to N]   go back one step (or to version N); the undo is itself a step
    os1 persona set name Sam    the user's layer: name, address (what to call you) or tone
    os1 persona reflect         reflect now on the conversations since the last reflection
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from rich.console import Console
from rich.markup import escape

from os1.config import Settings
from os1.persona import self_model
from os1.persona.profile import (
    PersonaInputError,
    PersonaSettings,
    Tone,
    checked_companion_name,
    checked_name,
    load_persona_settings,
    save_persona_settings,
)
from os1.persona.self_model import TRAITS, SelfVersion, UndoError
from os1.store.base import Database, User
from os1.store.open import open_store
from os1.store.sqlite import transaction

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_persona_parser(verbs: Any) -> None:
    persona = verbs.add_parser("persona", help="who os1 is with you, how it has grown; undo")
    actions = persona.add_subparsers(dest="persona_action", metavar="ACTION")
    show = actions.add_parser("show", help="who the companion is now (the default)")
    show.add_argument("--json", action="store_true", help="print JSON")
    actions.add_parser("history", help="every change, with the journal entry behind it")
    actions.add_parser("journal", help="the companion's own journal")
    undo = actions.add_parser("undo", help="undo the last change (or go back to --to N)")
    undo.add_argument("--to", type=int, metavar="N", help="the version to go back to")
    setting = actions.add_parser("set", help="set name, address (what it calls you) or tone")
    setting.add_argument("field", choices=("name", "address", "tone"))
    setting.add_argument("value", help="e.g. Sam; Alex; warm, playful or calm")
    actions.add_parser("reflect", help="reflect now on the conversations since the last time")


def run_persona(settings: Settings, args: argparse.Namespace, console: Console,
                errors: Console) -> int:
    action = args.persona_action or "show"
    if action == "reflect":
        return asyncio.run(_reflect(settings, console, errors))
    store = open_store(settings)
    try:
        user = store.user(settings.user_name)
        if action == "set":
            return _set(store, user, args.field, args.value, console, errors)
        if action == "undo":
            return _undo(store, user, args.to, console, errors)
        versions = store.run(lambda db: self_model.history(db, user))
        persona = store.run(lambda db: load_persona_settings(db, user))
        if action == "history":
            return _history(versions, console)
        if action == "journal":
            return _journal(versions, console)
        if getattr(args, "json", False):
            console.print_json(json.dumps(_as_json(persona, versions)))
            return EXIT_OK
        return _show(persona, versions, console)
    finally:
        store.close()


def _as_json(persona: PersonaSettings, versions: list[SelfVersion]) -> dict[str, Any]:
    current = versions[-1] if versions else None
    return {"name": persona.companion_name, "address_as": persona.address_as,
            "tone": persona.tone,
            "version": current.id if current else None,
            "self_model": current.model.as_json() if current else None,
            "versions": len(versions)}


def _bar(value: float) -> str:
    filled = round(value * 10)
    return "▇" * filled + "░" * (10 - filled)


def _show(persona: PersonaSettings, versions: list[SelfVersion], console: Console) -> int:
    name = escape(persona.companion_name)
    console.print(f"[bold]{name}[/bold] — an AI companion (os1)"
                  + (f", calls you {escape(persona.address_as)}" if persona.address_as else "")
                  + f"; tone: {persona.tone}")
    if not versions:
        console.print(f"{name} has not reflected yet: after a few conversations it writes its "
                      "first journal entry and starts to grow (`os1 persona reflect` does it "
                      "now).")
        return EXIT_OK
    current = versions[-1]
    model = current.model
    console.print(f"\nWho {name} is becoming (version #{current.id}, {current.reason}, "
                  f"{current.created_at.astimezone():%Y-%m-%d}):")
    for trait in TRAITS:
        value, start = model.traits[trait], model.start[trait]
        moved = f"started at {start:.2f}" if abs(value - start) >= 0.005 else "as it started"
        console.print(f"  {trait:<8} {_bar(value)} {value:.2f}  [dim]({moved})[/dim]")
    if model.interests:
        console.print("  Interests it has developed: " + escape(", ".join(model.interests)))
    if model.relationship:
        console.print("  How it sees your friendship: " + escape(model.relationship))
    if model.curious_about:
        console.print("  Curious to ask you: " + escape("; ".join(model.curious_about)))
    entries = [(v, text) for v in versions for text in v.journal]
    if entries:
        version, text = entries[-1]
        console.print(f"\nLatest journal entry ({version.created_at.astimezone():%Y-%m-%d}): "
                      f"[italic]{escape(text)}[/italic]")
    if len(versions) > 1:
        changes = current.model.changes_from(versions[0].model)
        console.print(f"\nSince it started ({versions[0].created_at.astimezone():%Y-%m-%d}): "
                      + escape("; ".join(changes) if changes else "no change"))
    console.print("[dim]os1 persona history shows each step; os1 persona undo takes the last "
                  "one back.[/dim]")
    return EXIT_OK


def _history(versions: list[SelfVersion], console: Console) -> int:
    if not versions:
        console.print("No versions yet: the companion has not reflected.")
        return EXIT_OK
    previous = None
    for version in versions:
        changes = version.model.changes_from(previous) if previous is not None else ["start"]
        made = version.created_at.astimezone()
        console.print(f"[bold]#{version.id}[/bold] {made:%Y-%m-%d %H:%M} {version.reason}: "
                      + escape("; ".join(changes) or "no change"))
        for text in version.journal:
            console.print(f"    [italic]{escape(text)}[/italic]")
        previous = version.model
    return EXIT_OK


def _journal(versions: list[SelfVersion], console: Console) -> int:
    entries = [(v, text) for v in versions for text in v.journal]
    if not entries:
        console.print("The journal is empty: the companion writes in it when it reflects.")
    for version, text in entries:
        console.print(f"[bold]{version.created_at.astimezone():%Y-%m-%d}[/bold]  {escape(text)}")
    return EXIT_OK


def _undo(store: Database, user: User, to: int | None, console: Console,
          errors: Console) -> int:
    def work(db: Any) -> list[SelfVersion]:
        with transaction(db):
            self_model.undo(db, user, datetime.now().astimezone(), to)
        return self_model.history(db, user)

    try:
        versions = store.run(work)
    except UndoError as exc:
        errors.print(f"[red]{exc}[/red]")
        return EXIT_FAILED
    back, undone = versions[-1], versions[-2]
    console.print(f"Undone. Version #{back.id} ({back.reason}): "
                  + escape("; ".join(back.model.changes_from(undone.model)) or "no change")
                  + ". It applies from the next conversation.")
    return EXIT_OK


def _set(store: Database, user: User, field: str, value: str, console: Console,
         errors: Console) -> int:
    current = store.run(lambda db: load_persona_settings(db, user))
    try:
        if field == "tone":
            changed = replace(current, tone=cast(Tone, value.strip().lower()))
        elif field == "name":
            changed = replace(current, companion_name=checked_companion_name(value))
        else:
            changed = replace(current, address_as=checked_name(value, "your name"))
    except PersonaInputError as exc:
        errors.print(f"[red]{exc}[/red]")
        return EXIT_USAGE

    def save(db: Any) -> None:
        with transaction(db):
            save_persona_settings(db, user, changed, datetime.now().astimezone())

    store.run(save)
    console.print(f"{field} set. It applies from the next conversation.")
    return EXIT_OK


async def _reflect(settings: Settings, console: Console, errors: Console) -> int:
    from os1.app import open_memory
    from os1.llm.select import open_chat_model, prepare_model_file
    from os1.persona.reflection import Reflection
    from os1.terminal.progress import byte_progress

    if not settings.memory:
        errors.print("Memory is off, so os1 does not reflect on your conversations "
                     "(os1 config set memory on).")
        return EXIT_FAILED
    with byte_progress(errors) as progress:
        model_file = await asyncio.to_thread(prepare_model_file, settings, progress)
    store = open_store(settings)
    model = None
    try:
        with errors.status("Loading the model…"):
            model = await asyncio.to_thread(open_chat_model, settings, model_file)
        memory = open_memory(settings, store)
        user = store.user(settings.user_name)
        reflection = Reflection(store, model, memory,
                                lambda: datetime.now().astimezone())
        with errors.status("Reflecting on your recent conversations (a minute or two on "
                           "a laptop)…"):
            reflected = await reflection.reflect(user)
        memory.close()
    finally:
        if model is not None:
            await model.aclose()
        store.close()
    if reflected is None:
        console.print("Nothing new to reflect on (or the model's answer could not be used; "
                      "nothing was changed).")
        return EXIT_OK
    console.print(f"Version #{reflected.version}: "
                  + escape("; ".join(reflected.changes) or "no change in traits"))
    if reflected.journal:
        console.print(f"[italic]{escape(reflected.journal)}[/italic]")
    return EXIT_OK
