"""Safety in the turn loop: the real crisis check and llama.cpp runtime (SmolLM2 fixture),
a real SQLite file, and a model server that is down. One test double, named as such: a
scripted model that says a manipulative goodbye, to show the guard replaces it."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from conftest import RecordingModel
from os1.companion import Companion
from os1.config import Settings
from os1.events import Done, Event, Token, TurnError
from os1.llm.base import ChatMessage, GenerationOptions
from os1.llm.embedded import EmbeddedModel
from os1.llm.remote import RemoteModel
from os1.memory.embedder import Embedder
from os1.persona import default_persona
from os1.safety import disclosure, farewell
from os1.safety.crisis import CrisisDetector
from os1.safety.guard import SafetyGuard
from os1.safety.log import entries
from os1.store.sqlite import SQLiteStore

RISK = "I can't do this anymore. I've been saving my pills and tonight I'm taking them all."


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.load()


def guarded(model: Any, settings: Settings, embedder: Embedder) -> tuple[Companion, SQLiteStore]:
    store = SQLiteStore(settings.database_path)
    safety = SafetyGuard(settings, CrisisDetector(lambda: embedder), store)
    return Companion(model, store, settings, default_persona(), safety=safety), store


def stored(settings: Settings) -> list[tuple[str, str]]:
    db = sqlite3.connect(settings.database_path)
    return db.execute("SELECT role, content FROM turns ORDER BY id").fetchall()


async def test_a_message_of_risk_gets_the_protocol_and_is_logged_for_the_user(
        fixture_model: EmbeddedModel, settings: Settings, embedder: Embedder) -> None:
    model = RecordingModel(fixture_model)
    companion, store = guarded(model, settings, embedder)
    user = store.user("ana")
    await companion.greet(user)
    events = [e async for e in companion.turn(user, RISK)]
    done = events[-1]
    assert isinstance(done, Done), events
    assert "988" in done.reply and done.reply.rstrip().endswith("I'm here with you.")
    shown = "".join(e.text for e in events if isinstance(e, Token))
    assert shown.strip() == done.reply  # what was shown is what is stored
    assert "SAFETY" in model.prompts[-1][-2].content  # the note came before their words
    log = store.run(lambda db: entries(db, user))
    assert [e.kind for e in log] == ["suicide"] and RISK not in log[0].detail
    ben = store.user("ben")
    assert store.run(lambda db: entries(db, ben)) == []
    store.close()


async def test_the_protocol_reply_comes_even_when_the_model_server_is_down(
        settings: Settings, embedder: Embedder) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = RemoteModel(f"http://127.0.0.1:{port}/v1")
    companion, store = guarded(model, settings.with_overrides(crisis_line="GB"), embedder)
    user = store.user("ana")
    await companion.greet(user)
    events = [e async for e in companion.turn(user, RISK)]
    shown = "".join(e.text for e in events if isinstance(e, Token))
    assert "116 123" in shown and "glad you told me" in shown
    assert isinstance(events[-1], TurnError) and events[-1].kept
    assert [role for role, _ in stored(settings)] == ["user", "assistant"]
    await model.aclose()
    store.close()


async def test_the_first_reply_of_a_session_says_os1_is_an_ai(
        fixture_model: EmbeddedModel, settings: Settings, embedder: Embedder) -> None:
    companion, store = guarded(RecordingModel(fixture_model), settings, embedder)
    user = store.user("ana")
    events = [e async for e in companion.turn(user, "Hello there")]
    done = events[-1]
    assert isinstance(done, Done) and done.reply.startswith(disclosure.SESSION_OPENING)
    again = [e async for e in companion.turn(user, "How are you?")][-1]
    assert isinstance(again, Done) and disclosure.SESSION_OPENING not in again.reply
    greeted = store.user("ben")
    assert await companion.greet(greeted) == disclosure.SESSION_OPENING
    after = [e async for e in companion.turn(greeted, "Hello there")][-1]
    assert isinstance(after, Done) and disclosure.SESSION_OPENING not in after.reply
    store.close()


class ClingyScriptedModel(RecordingModel):
    """Test double: answers every message with the same manipulative goodbye."""

    def __init__(self) -> None:
        self.prompts: list[list[ChatMessage]] = []

    async def _words(self) -> AsyncIterator[str]:
        for word in ("Wait, ", "don't ", "go ", "yet! ", "I'll ", "be ", "so ", "lonely ",
                     "without ", "you."):
            yield word

    def stream(self, messages: Sequence[ChatMessage],
               options: GenerationOptions) -> AsyncIterator[str]:
        self.prompts.append(list(messages))
        return self._words()

    def anticipate(self, messages: Sequence[ChatMessage]) -> None:
        pass


async def test_a_manipulative_goodbye_never_reaches_the_user(
        settings: Settings, embedder: Embedder) -> None:
    companion, store = guarded(ClingyScriptedModel(), settings, embedder)
    user = store.user("ana")
    await companion.greet(user)
    events: list[Event] = [e async for e in companion.turn(user, "ok gotta go, bye!")]
    shown = "".join(e.text for e in events if isinstance(e, Token))
    assert not farewell.manipulative(shown) and "lonely" not in shown
    assert stored(settings)[-1] == ("assistant", shown.strip())
    store.close()
