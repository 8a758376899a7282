"""Assemble a companion from settings: the store, the model and the persona."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from os1.affect.engine import AffectEngine
from os1.companion import Clock, Companion
from os1.config import Settings
from os1.llm.base import ChatModel
from os1.llm.select import open_chat_model
from os1.memory.embedder import Embedder
from os1.memory.engine import MemoryEngine
from os1.memory.writer import MemoryWriter
from os1.persona import default_persona
from os1.persona.book import PersonaBook
from os1.persona.reflection import Reflection
from os1.safety.crisis import CrisisDetector
from os1.safety.guard import SafetyGuard
from os1.skills.catalog import open_skills
from os1.store.base import Database, NewTurn, User
from os1.store.files import shred
from os1.store.open import open_store

if TYPE_CHECKING:
    from os1.privacy.erase import EraseReport

# Nothing in os1 may fetch weights from a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def open_companion(settings: Settings, model_file: Path | None = None,
                   clock: Clock | None = None, *, queued_jobs: bool = False) -> Companion:
    """Open the store first: a database problem should surface before a slow model load.
    ``queued_jobs``: memory writes and reflection go to `os1 worker` through Redis (the
    server with PostgreSQL) instead of running in this process."""
    store = open_store(settings)
    try:
        model = open_chat_model(settings, model_file)
    except BaseException:
        store.close()
        raise
    own = _own_embedder()

    def embedder() -> Embedder:
        """One sentence model for memory, affect and safety: memory's when it is on."""
        writer = companion.memory
        return writer.engine.embedder if writer is not None else own()

    safety = SafetyGuard(settings, CrisisDetector(embedder), store)
    personas = PersonaBook(store, safety.persona(default_persona()))
    companion = Companion(model, store, settings, personas, clock, safety=safety)
    if settings.memory and queued_jobs:  # the worker reflects, too
        from os1.server.jobs import open_queued_writer

        companion.memory = open_queued_writer(settings, open_memory(settings, store), model,
                                              "os1", companion.now)
    elif settings.memory:  # reflection is memory too: with memory off, nothing is reflected on
        writer = open_memory_writer(settings, store, model, companion.now)
        writer.when_quiet(Reflection(store, model, writer.engine, companion.now).reflect_if_due)
        companion.memory = writer
    if settings.affect:  # off: no engine at all, so nothing can be inferred or stored
        companion.affect = AffectEngine(store, embedder)
    companion.skills = open_skills(store, settings, model,
                                   companion.memory.engine if companion.memory else None)
    return companion


def _own_embedder() -> Callable[[], Embedder]:
    """With memory off, the affect engine loads the sentence model itself, on first use."""
    loaded: list[Embedder] = []

    def get() -> Embedder:
        if not loaded:
            loaded.append(Embedder.load())
        return loaded[0]

    return get


def conversation_snapshots(settings: Settings) -> list[Path]:
    """KV-cache snapshots of the last session hold the conversation, notes included: forgetting
    must remove them (they are remade, at the cost of one slower first reply)."""
    return sorted((settings.data_dir / "kv").glob("session-*.bin"))


def forget_mood(settings: Settings, store: Database, user: User) -> int:
    """`os1 mood forget` and the web page's: the readings, the voice baseline and the affect
    lines of the stored notes; then the conversation snapshots, which hold those notes too.
    How many readings went."""
    from os1.affect.timeline import MoodTimeline

    gone = MoodTimeline(store).forget(user)
    for snapshot in conversation_snapshots(settings):
        if snapshot.exists():
            shred(snapshot)
    return gone


def erase_everything(settings: Settings, store: Database, user: User,
                     engine: MemoryEngine | None = None) -> EraseReport:
    """`os1 forget --everything` for one user (the CLI's, or one of a server's): the mail
    password in the keyring, every row, the memories through ``engine`` (a server's shared
    one, which stays open; else one opened here and closed), the snapshots and the user's
    files."""
    from os1.privacy.erase import erase_user
    from os1.skills.mail.credentials import forget_password

    forget_password(store, user)  # the keyring holds it outside the database
    report = erase_user(store, engine or open_memory(settings, store), user,
                        [*conversation_snapshots(settings), *persona_snapshots(settings),
                         *user_files(settings, user)],
                        settings.memory_dir, close_memory=engine is None)
    shutil.rmtree(user_folder(settings, user), ignore_errors=True)  # empty by now
    return report


def user_files(settings: Settings, user: User) -> list[Path]:
    """Files made for one user (letters and their PDFs, the letters book): every one of
    them lies under their own folder, so erasing the user shreds the folder."""
    folder = user_folder(settings, user)
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def user_folder(settings: Settings, user: User) -> Path:
    return settings.data_dir / "users" / str(user.id)


def persona_snapshots(settings: Settings) -> list[Path]:
    """KV-cache snapshots of personas: a user's holds its layers (the names they chose, what
    the companion learned). Erasing removes them all; the shipped persona's is remade at the
    next start (one slower start)."""
    return sorted((settings.data_dir / "kv").glob("persona-*.bin"))


def open_memory(settings: Settings, store: Database) -> MemoryEngine:
    return MemoryEngine(store, settings.memory_dir,
                        private_files=lambda _user: conversation_snapshots(settings))


def open_memory_writer(settings: Settings, store: Database, model: ChatModel,
                       clock: Clock) -> MemoryWriter:
    return MemoryWriter(
        open_memory(settings, store), model, "os1",
        clock, idle_s=settings.memory_idle_s, extract=settings.memory_extraction)


async def close_companion(companion: Companion) -> list[NewTurn]:
    """Close the model and the store; return turns that could not be written, if any."""
    unsaved = await companion.flush()
    if companion.memory is not None:
        await companion.memory.aclose()
    await companion.model.aclose()
    companion.store.close()
    return unsaved
