"""The turn loop end to end, on the real llama.cpp runtime (SmolLM2 fixture) and SQLite."""

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator

from conftest import RecordingModel
from os1.companion import Companion
from os1.config import Settings
from os1.events import Done, Event, Notice, Sentence, Token, TurnError
from os1.llm.base import ChatModel
from os1.llm.embedded import EmbeddedModel
from os1.llm.remote import RemoteModel
from os1.persona import default_persona
from os1.store.base import User
from os1.store.sqlite import SQLiteStore


async def collect(events: AsyncIterator[Event]) -> list[Event]:
    return [e async for e in events]


def stored(settings: Settings) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(settings.database_path)
    return db.execute("SELECT role, content, status FROM turns ORDER BY id").fetchall()


def companion_for(model: ChatModel, settings: Settings) -> tuple[Companion, SQLiteStore]:
    store = SQLiteStore(settings.database_path)
    return Companion(model, store, settings, default_persona()), store


async def test_a_turn_streams_and_is_remembered(fixture_model: EmbeddedModel,
                                                settings: Settings) -> None:
    companion, store = companion_for(fixture_model, settings)
    user = store.user("ana")
    events = await collect(companion.turn(user, "Hello! How are you today?"))
    tokens = [e.text for e in events if isinstance(e, Token)]
    done = events[-1]
    assert isinstance(done, Done)
    assert tokens and done.reply == "".join(tokens).strip()
    assert any(isinstance(e, Sentence) for e in events)
    assert done.stats.first_token_s is not None and done.stats.reply_tokens == len(tokens)
    assert stored(settings) == [("user", "Hello! How are you today?", "complete"),
                                ("assistant", done.reply, "complete")]


async def test_a_restart_continues_the_conversation(fixture_model: EmbeddedModel,
                                                    settings: Settings) -> None:
    first, store = companion_for(fixture_model, settings)
    await collect(first.turn(store.user("ana"), "My sister is called Catherine."))
    store.close()

    recorder = RecordingModel(fixture_model)
    second, store = companion_for(recorder, settings)
    user = store.user("ana")
    assert [t.role for t in await second.history(user)] == ["user", "assistant"]
    await collect(second.turn(user, "What is my sister called?"))
    prompt = recorder.prompts[-1]
    assert prompt[0].role == "system" and "os1" in prompt[0].content
    contents = [m.content for m in prompt]
    assert "My sister is called Catherine." in contents
    assert contents[-1] == "What is my sister called?"


async def test_new_conversation_starts_empty_and_keeps_the_old(fixture_model: EmbeddedModel,
                                                               settings: Settings) -> None:
    recorder = RecordingModel(fixture_model)
    companion, store = companion_for(recorder, settings)
    user = store.user("ana")
    await collect(companion.turn(user, "first conversation"))
    await companion.new_conversation(user)
    await collect(companion.turn(user, "second conversation"))
    assert "first conversation" not in [m.content for m in recorder.prompts[-1]]
    assert len(stored(settings)) == 4


async def test_cancelling_keeps_what_was_said(fixture_model: EmbeddedModel,
                                              settings: Settings) -> None:
    companion, store = companion_for(fixture_model, settings.with_overrides(max_reply_tokens=300))
    user = store.user("ana")
    seen: list[str] = []

    async def consume() -> None:
        async for event in companion.turn(user, "Tell me a long story about the sea."):
            if isinstance(event, Token):
                seen.append(event.text)

    task = asyncio.create_task(consume())
    while len(seen) < 5:
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    rows = stored(settings)
    assert rows[0] == ("user", "Tell me a long story about the sea.", "complete")
    role, content, status = rows[1]
    assert (role, status) == ("assistant", "interrupted")
    assert content and content == "".join(seen).strip()


async def test_unreachable_server_keeps_the_message(settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = RemoteModel(f"http://127.0.0.1:{port}/v1")
    companion, store = companion_for(model, settings)
    events = await collect(companion.turn(store.user("ana"), "Are you there?"))
    error = events[-1]
    assert isinstance(error, TurnError) and error.kind == "model" and error.kept
    assert "Cannot reach the model server" in error.message
    assert stored(settings) == [("user", "Are you there?", "complete")]
    await model.aclose()


async def started_then_locked(
    model: ChatModel, settings: Settings, first: str
) -> tuple[Companion, User, sqlite3.Connection]:
    """A conversation with one stored exchange, then another program locks the database."""
    store = SQLiteStore(settings.database_path, busy_timeout_ms=50)
    companion = Companion(model, store, settings, default_persona())
    user = store.user("ana")
    await collect(companion.turn(user, first))
    blocker = sqlite3.connect(settings.database_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    return companion, user, blocker


async def test_a_locked_database_loses_nothing(fixture_model: EmbeddedModel,
                                               settings: Settings) -> None:
    companion, user, blocker = await started_then_locked(fixture_model, settings, "one")
    events = await collect(companion.turn(user, "two"))
    assert any(isinstance(e, Notice) and e.kind == "not_saved" for e in events)
    assert isinstance(events[-1], Done)  # the conversation goes on
    assert companion.unsaved_count(user) == 2
    blocker.execute("ROLLBACK")

    events = await collect(companion.turn(user, "three"))
    assert any(isinstance(e, Notice) and e.kind == "saved_late" for e in events)
    assert [r[1] for r in stored(settings) if r[0] == "user"] == ["one", "two", "three"]
    assert len(stored(settings)) == 6


async def test_empty_input_is_refused_and_nothing_stored(fixture_model: EmbeddedModel,
                                                         settings: Settings) -> None:
    companion, store = companion_for(fixture_model, settings)
    events = await collect(companion.turn(store.user("ana"), " \n\t "))
    assert len(events) == 1 and isinstance(events[0], TurnError)
    assert events[0].kind == "empty_input"
    assert stored(settings) == []


async def test_a_huge_paste_is_cut_with_a_notice(fixture_model: EmbeddedModel,
                                                 settings: Settings) -> None:
    companion, store = companion_for(fixture_model, settings.with_overrides(max_input_chars=2000))
    events = await collect(companion.turn(store.user("ana"), "help me read this " * 11_112))
    notice = next(e for e in events if isinstance(e, Notice))
    assert notice.kind == "input_truncated" and "200,015" in notice.text  # trailing space stripped
    assert isinstance(events[-1], Done)
    assert len(stored(settings)[0][1]) <= 2000


async def test_invalid_utf8_and_control_characters(fixture_model: EmbeddedModel,
                                                   settings: Settings) -> None:
    companion, store = companion_for(fixture_model, settings)
    events = await collect(companion.turn(store.user("ana"), b"caf\xe9\x00 \x1b[2Jtime"))
    assert isinstance(events[-1], Done)
    assert stored(settings)[0][1] == "caf\ufffd time"


async def test_waiting_turns_survive_a_new_conversation_and_are_flushed(
    fixture_model: EmbeddedModel, settings: Settings
) -> None:
    companion, user, blocker = await started_then_locked(fixture_model, settings, "hello")
    await collect(companion.turn(user, "said while the disk was busy"))
    assert len(await companion.flush()) == 2  # still locked: both turns are reported back
    blocker.execute("ROLLBACK")
    await companion.new_conversation(user)  # /new before anything was written
    assert companion.unsaved_count(user) == 2
    assert await companion.flush() == []
    assert stored(settings)[2] == ("user", "said while the disk was busy", "complete")
    assert len(stored(settings)) == 4
