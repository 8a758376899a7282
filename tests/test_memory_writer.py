"""The memory write path: episodes right after each turn, facts extracted in the background.

The turn loop runs on the real llama.cpp runtime (SmolLM2 fixture) and a real SQLite file.
Extraction quality needs the 1.5B model (tests/test_memory_quality.py); here a test double
stands in for the extractor's model where the test is about what happens to its output."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import ScriptedModel
from os1.app import open_memory
from os1.companion import Companion
from os1.config import Settings
from os1.events import Done, MemoryUsed
from os1.llm.base import StructuredReplyError
from os1.llm.embedded import EmbeddedModel
from os1.memory.writer import MemoryWriter
from os1.persona import default_persona
from os1.store.sqlite import SQLiteStore

NOW = datetime(2026, 11, 23, 18, 0).astimezone()


def fact(statement: str, **fields: Any) -> dict[str, Any]:
    base = {"kind": "fact", "subject": "user", "relation": "", "attribute": "", "value": "",
            "statement": statement, "date": "", "importance": 3}
    return {**base, **fields}


def build(settings: Settings, model: Any) -> tuple[Companion, MemoryWriter, SQLiteStore]:
    store = SQLiteStore(settings.database_path)
    writer = MemoryWriter(open_memory(settings, store), model, "os1",
                          lambda: NOW, idle_s=3600)
    companion = Companion(model, store, settings, default_persona(), lambda: NOW, writer)
    return companion, writer, store


async def test_extraction_that_fails_the_schema_is_retried_then_skipped(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    bad = StructuredReplyError("reply did not match the schema")
    model = ScriptedModel([bad, bad, {"memories": [fact("The user has a cat named Miso.",
                                                             attribute="pet", value="Miso")]}])
    companion, writer, store = build(settings, model)
    me = store.user("me")
    [e async for e in companion.turn(me, "I have a cat called Miso.")]
    [e async for e in companion.turn(me, "She sleeps all day.")]
    with caplog.at_level(logging.WARNING, logger="os1.memory"):
        written = await writer.extract_pending(me)
    assert "failed (try 1 of 2)" in caplog.text and "gave up" in caplog.text
    # The first exchange was skipped, the second one's fact was stored; every turn is kept.
    assert [w.memory.text for w in written] == ["The user has a cat named Miso."]
    episodes = writer.engine.store.records(me, kinds=("episode",))
    assert len(episodes) == 4
    assert writer.engine.store.pending_extractions(me) == []
    await writer.aclose()
    store.close()


async def test_extracted_facts_merge_and_link_to_their_turns(settings: Settings) -> None:
    said = fact("The user's sister is Maria.", subject="Maria", relation="sister",
                attribute="relation", value="sister")
    model = ScriptedModel([{"memories": [said]}, {"memories": [said]}])
    companion, writer, store = build(settings, model)
    me = store.user("me")
    [e async for e in companion.turn(me, "My sister Maria called.")]
    [e async for e in companion.turn(me, "Maria is my sister, did I say?")]
    written = await writer.extract_pending(me)
    assert [w.outcome for w in written] == ["added", "merged"]
    memory = writer.engine.store.get(me, written[0].memory.id)
    assert memory.mentions == 2 and len(memory.sources) == 4  # both exchanges, both turns each
    # The exchange reached the model as data, after the instructions.
    assert model.calls[0][0].role == "system"
    assert "My sister Maria called." in model.calls[0][1].content
    await writer.aclose()
    store.close()


async def test_turns_become_episodes_and_later_turns_recall_them(
        settings: Settings, fixture_model: EmbeddedModel) -> None:
    companion, writer, store = build(settings, fixture_model)
    me = store.user("me")
    events = [e async for e in companion.turn(me, "My sister Maria Quintanilla plays the oboe.")]
    assert isinstance(events[-1], Done)
    await writer.settle()
    assert len(writer.engine.store.records(me, kinds=("episode",))) == 2  # the turn and reply
    await companion.new_conversation(me)
    events = [e async for e in companion.turn(me, "I'm seeing my sister tonight.")]
    used = [e for e in events if isinstance(e, MemoryUsed)]
    assert used and "Quintanilla" in used[0].text
    first_event = next(i for i, e in enumerate(events) if isinstance(e, MemoryUsed))
    assert all(not isinstance(e, Done) for e in events[:first_event])
    # The recalled memory is in the prompt's note for this turn, and stored with the turn.
    turns = store.turns(me, store.current_conversation(me).id)
    assert "Quintanilla" in turns[0].context
    await writer.aclose()
    store.close()


async def test_with_memory_off_nothing_is_remembered_or_recalled(
        settings: Settings, fixture_model: EmbeddedModel, tmp_path: Path) -> None:
    store = SQLiteStore(settings.database_path)
    companion = Companion(fixture_model, store, settings.with_overrides(memory=False),
                          default_persona(), lambda: NOW)
    me = store.user("me")
    events = [e async for e in companion.turn(me, "My sister Maria plays the oboe.")]
    assert not any(isinstance(e, MemoryUsed) for e in events)
    count = store.run(lambda db: db.execute("SELECT count(*) FROM memories").fetchone()[0])
    assert count == 0
    store.close()
