"""Choose the chat model from the settings: a server if one is configured, else embedded.

Two steps, so an interface can show a progress bar for the first (joining and checking
a gigabyte, once) and a spinner for the second (loading it, every start).
"""

from __future__ import annotations

from pathlib import Path

from os1.config import Settings
from os1.llm.base import ChatModel
from os1.llm.model_files import Progress, resolve_model_path


def prepare_model_file(settings: Settings, progress: Progress | None = None) -> Path | None:
    """The GGUF the embedded model will load, ready on disk; None when a server is used."""
    if settings.uses_remote_model:
        return None
    return resolve_model_path(settings.model, settings.cache_dir, progress)


def open_chat_model(settings: Settings, model_file: Path | None) -> ChatModel:
    if settings.uses_remote_model:
        from os1.llm.remote import RemoteModel

        return RemoteModel(
            settings.llm_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
        )
    from os1.llm.embedded import EmbeddedModel

    if model_file is None:
        model_file = prepare_model_file(settings)
    assert model_file is not None
    return EmbeddedModel(
        model_file,
        threads=settings.threads,
        batch_threads=settings.batch_threads,
        context_tokens=settings.context_tokens,
        state_dir=settings.data_dir / "kv",
        # A snapshot of the conversation would be a plaintext copy beside an encrypted database.
        session_snapshots=settings.encryption == "off",
        shared_state_dir=settings.cache_dir / "kv",
    )
