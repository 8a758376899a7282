"""The embedded llama.cpp backend, on the real runtime with the SmolLM2 fixture model."""

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from os1.llm.base import ChatMessage, GenerationOptions, ModelFileError
from os1.llm.embedded import EmbeddedModel
from os1.store.files import shred

MESSAGES = [ChatMessage("system", "You are kind."), ChatMessage("user", "Tell me about the sea.")]


async def test_stream_yields_text(fixture_model: EmbeddedModel) -> None:
    pieces = [p async for p in fixture_model.stream(MESSAGES, GenerationOptions(max_tokens=16))]
    assert len(pieces) >= 4
    assert "".join(pieces).strip()


async def test_closing_the_stream_stops_generation(fixture_model: EmbeddedModel) -> None:
    options = GenerationOptions(max_tokens=400, temperature=0.0)
    start = time.monotonic()
    full = [p async for p in fixture_model.stream(MESSAGES, options)]
    full_s = time.monotonic() - start

    stream = fixture_model.stream(MESSAGES, options)
    got = [await stream.__anext__() for _ in range(3)]
    await stream.aclose()
    # The next request must not wait behind the abandoned one's remaining tokens.
    start = time.monotonic()
    after = [p async for p in fixture_model.stream(MESSAGES, GenerationOptions(max_tokens=2))]
    second_s = time.monotonic() - start
    assert len(got) == 3 and after
    assert len(full) > 50
    assert second_s < full_s / 2


async def test_cancelling_the_consuming_task_stops_generation(
    fixture_model: EmbeddedModel,
) -> None:
    received: list[str] = []

    async def consume() -> None:
        async for piece in fixture_model.stream(MESSAGES, GenerationOptions(max_tokens=400)):
            received.append(piece)

    task = asyncio.create_task(consume())
    while len(received) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    count = len(received)
    await asyncio.sleep(0.3)
    assert len(received) == count  # nothing more arrives after the cancel
    assert [p async for p in fixture_model.stream(MESSAGES, GenerationOptions(max_tokens=2))]


async def test_structured_reply_matches_schema(fixture_model: EmbeddedModel) -> None:
    schema = {
        "type": "object",
        "properties": {
            "mood": {"type": "string", "enum": ["happy", "sad", "neutral"]},
            "intensity": {"type": "integer", "minimum": 0, "maximum": 10},
        },
        "required": ["mood", "intensity"],
        "additionalProperties": False,
    }
    messages = [ChatMessage("system", "Reply in JSON."),
                ChatMessage("user", "I lost my keys and missed the bus.")]
    value = await fixture_model.structured(messages, schema, GenerationOptions(max_tokens=40))
    assert value["mood"] in {"happy", "sad", "neutral"}
    assert 0 <= value["intensity"] <= 10


def test_truncated_model_file_gives_a_clear_error(fixture_model_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    with fixture_model_path.open("rb") as source:
        broken.write_bytes(source.read(1_000_000))  # valid header, missing tensors
    with pytest.raises(ModelFileError, match=r"broken\.gguf.*corrupted or truncated"):
        EmbeddedModel(broken)


def test_garbage_model_file_is_refused_before_loading(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"\x00" * 4096)
    with pytest.raises(ModelFileError, match="not a GGUF model file"):
        EmbeddedModel(garbage)


def test_model_file_can_live_anywhere(fixture_model_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "my models" / "small.gguf"
    copy.parent.mkdir()
    shutil.copy(fixture_model_path, copy)
    model = EmbeddedModel(copy, context_tokens=512)
    assert model.name == "small.gguf"
    asyncio.run(model.aclose())


class _CountedPrompts:
    """Passes everything to llama.cpp's server, counting the prompts it is asked to read."""

    def __init__(self, server: object) -> None:
        self._server = server
        self.prompts = 0

    def handle_chat_completions(self, *args: object, **kwargs: object) -> object:
        self.prompts += 1
        return self._server.handle_chat_completions(*args, **kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._server, name)


async def test_the_shipped_personas_snapshot_serves_every_data_folder(
        fixture_model_path: Path, tmp_path: Path) -> None:
    shipped = "You are os1, a warm companion. " * 20
    personal = shipped + "The user likes to be called Addie."
    machine = tmp_path / "cache" / "kv"

    def model(folder: str) -> EmbeddedModel:
        return EmbeddedModel(fixture_model_path, batch_threads=1, context_tokens=2048,
                             state_dir=tmp_path / folder / "kv", shared_state_dir=machine)

    first = model("first")
    await first.warm(shipped, shipped)
    await first.aclose()
    kept = list(machine.glob("persona-*.bin"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0
    before = kept[0].read_bytes()

    # A fresh data folder restores it: the persona is not read again.
    second = model("second")
    counted = _CountedPrompts(second._server)
    second._server = counted  # type: ignore[assignment]
    await second.warm(shipped, shipped)
    assert counted.prompts == 0
    # A user's persona reads only its own layers, on top of the restored shipped one.
    await second.warm(personal, shipped)
    assert counted.prompts == 1
    await second.aclose()

    # The user's copy is theirs: shredding it (an erase) leaves the machine's copy whole.
    own = tmp_path / "second" / "kv" / kept[0].name
    assert own.exists()
    shred(own)
    assert kept[0].read_bytes() == before
