"""Assemble a companion from settings: the store, the model and the persona."""

from __future__ import annotations

import os
from pathlib import Path

from os1.companion import Companion
from os1.config import Settings
from os1.llm.select import open_chat_model
from os1.persona import default_persona
from os1.store.base import NewTurn
from os1.store.sqlite import SQLiteStore

# Nothing in os1 may fetch weights from a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def open_companion(settings: Settings, model_file: Path | None = None) -> Companion:
    """Open the store first: a database problem should surface before a slow model load."""
    store = SQLiteStore(settings.database_path)
    try:
        model = open_chat_model(settings, model_file)
    except BaseException:
        store.close()
        raise
    return Companion(model, store, settings, default_persona())


async def close_companion(companion: Companion) -> list[NewTurn]:
    """Close the model and the store; return turns that could not be written, if any."""
    unsaved = await companion.flush()
    await companion.model.aclose()
    companion.store.close()
    return unsaved
