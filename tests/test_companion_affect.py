"""The affect engine inside the turn loop: real llama.cpp (SmolLM2 fixture), real SQLite, the
shipped emotion reader. The fixture model's replies are noise; what is checked is what the turn
reads, tells the model, shows the user and stores."""

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from conftest import RecordingModel
from os1.affect.engine import AffectEngine, Audio
from os1.app import close_companion, open_companion
from os1.companion import Companion
from os1.config import Settings
from os1.events import AffectRead, Done, Event, Token
from os1.llm.embedded import EmbeddedModel
from os1.memory.embedder import Embedder
from os1.persona import default_persona
from os1.store.sqlite import SQLiteStore
from test_prosody import SR, excited

NOW = datetime(2026, 11, 27, 20, 0).astimezone()


def build(settings: Settings, model: EmbeddedModel) -> tuple[Companion, RecordingModel,
                                                            SQLiteStore]:
    store = SQLiteStore(settings.database_path)
    embedder = Embedder.load()
    recording = RecordingModel(model)
    companion = Companion(recording, store, settings, default_persona(), lambda: NOW,
                          affect=AffectEngine(store, lambda: embedder))
    return companion, recording, store


def readings(settings: Settings) -> list[tuple[int, str, float, str]]:
    db = sqlite3.connect(settings.database_path)
    return db.execute("SELECT r.turn_id, t.content, r.valence, r.labels FROM mood_readings r "
                      "JOIN turns t ON t.id = r.turn_id ORDER BY r.id").fetchall()


async def test_a_sad_message_is_read_acknowledged_and_stored(
        settings: Settings, fixture_model: EmbeddedModel) -> None:
    companion, recording, store = build(settings, fixture_model)
    user = store.user("ana")
    events: list[Event] = [e async for e in companion.turn(user, "my divorce papers came today")]
    affect = next(e for e in events if isinstance(e, AffectRead))
    first_token = next(i for i, e in enumerate(events) if isinstance(e, Token))
    assert events.index(affect) < first_token  # known before the reply starts (voice prosody)
    assert "sadness" in affect.emotions or "grief" in affect.emotions
    assert affect.valence < -0.3 and affect.strategy
    note = recording.prompts[-1][-2]
    assert note.role == "system" and "acknowledge that before anything else" in note.content
    assert recording.prompts[-1][-1].content == "my divorce papers came today"
    rows = readings(settings)
    assert len(rows) == 1 and rows[0][1] == "my divorce papers came today"
    assert rows[0][2] < -0.3
    store.close()


async def test_a_prepared_turn_gets_the_prompt_the_model_already_read(
        settings: Settings, fixture_model: EmbeddedModel) -> None:
    """The voice session prepares while the user talks: the same words reuse the draft's
    prompt exactly (note included) and are still read and recorded; other words don't."""
    companion, recording, store = build(settings, fixture_model)
    user = store.user("ana")
    await companion.history(user)  # the voice session loads the conversation first
    await companion.prepare(user, "my divorce papers came today")
    drafted = recording.anticipated[-1]
    events = [e async for e in companion.turn(user, "my divorce papers came today")]
    assert recording.prompts[-1] == drafted
    assert "acknowledge that before anything else" in drafted[-2].content
    assert any(isinstance(e, AffectRead) for e in events)
    assert len(readings(settings)) == 1
    await companion.prepare(user, "my divorce papers came today")
    [_ async for _ in companion.turn(user, "What a lovely sunny morning!")]
    assert recording.prompts[-1][-1].content == "What a lovely sunny morning!"
    assert recording.prompts[-1][-2].role != "system"  # not the drafted sad note
    store.close()


async def test_neutral_chat_adds_no_note(settings: Settings,
                                         fixture_model: EmbeddedModel) -> None:
    companion, recording, store = build(settings, fixture_model)
    user = store.user("ana")
    events = [e async for e in companion.turn(user, "What time does the pharmacy close?")]
    affect = next(e for e in events if isinstance(e, AffectRead))
    assert affect.emotions == ("neutral",)
    assert not any("seem to feel" in m.content for m in recording.prompts[-1][1:])
    assert len(readings(settings)) == 1  # neutral is a reading too: the day was steady
    store.close()


async def test_voice_fuses_into_the_reading_and_bad_audio_costs_nothing(
        settings: Settings, fixture_model: EmbeddedModel) -> None:
    companion, _, store = build(settings, fixture_model)
    user = store.user("ana")
    text = "What time does the pharmacy close?"  # calm words, said excitedly
    voice = Audio(excited().astype(np.float32), SR)
    spoken = [e async for e in companion.turn(user, text, voice)]
    typed = [e async for e in companion.turn(user, text)]
    broken = [e async for e in companion.turn(user, text, Audio(np.zeros(0, np.float32), SR))]
    heard, read = (next(e for e in events if isinstance(e, AffectRead))
                   for events in (spoken, typed))
    assert heard.arousal > read.arousal  # the voice raised it
    assert any(isinstance(e, AffectRead) for e in broken)  # empty audio: the text still read
    db = sqlite3.connect(settings.database_path)
    sources = [r[0] for r in db.execute("SELECT source FROM mood_readings ORDER BY id")]
    assert sources == ["text+voice", "text", "text"]
    assert db.execute("SELECT COUNT(*) FROM voice_baselines").fetchone()[0] == 1
    store.close()


async def test_a_damaged_emotion_model_never_costs_a_turn(
        settings: Settings, fixture_model: EmbeddedModel, tmp_path: Path) -> None:
    broken = tmp_path / "emotion_model.safetensors"
    broken.write_bytes(b"not a model")
    store = SQLiteStore(settings.database_path)
    embedder = Embedder.load()
    companion = Companion(fixture_model, store, settings, default_persona(), lambda: NOW,
                          affect=AffectEngine(store, lambda: embedder, emotion_model=broken))
    await companion.warm()  # logs the problem, does not raise
    user = store.user("ana")
    for _ in range(2):
        events = [e async for e in companion.turn(user, "my divorce papers came today")]
        assert isinstance(events[-1], Done)
        assert not any(isinstance(e, AffectRead) for e in events)
    store.close()


async def test_a_resumed_conversation_goes_on_from_the_last_strategy(
        settings: Settings, fixture_model: EmbeddedModel) -> None:
    companion, _, store = build(settings, fixture_model)
    user = store.user("ana")
    first = [e async for e in companion.turn(user, "I failed my driving test again")]
    chosen = next(e for e in first if isinstance(e, AffectRead)).strategy
    resumed, _, resumed_store = build(settings, fixture_model)  # a new process
    session = resumed._session(user)
    assert session.turns and session.last_strategy is None
    engine = resumed.affect
    assert engine is not None
    previous: list[str | None] = []
    read_turn = engine.read_turn

    def spying(*args: Any, **kwargs: Any) -> Any:  # records what the chooser was told
        previous.append(kwargs["previous"])
        return read_turn(*args, **kwargs)

    engine.read_turn = spying  # type: ignore[method-assign]
    [e async for e in resumed.turn(user, "and my car broke down")]
    assert previous == [chosen]
    resumed_store.close()
    store.close()


async def test_with_affect_off_nothing_is_inferred_or_stored(
        settings: Settings, fixture_model_path: Path) -> None:
    off = settings.with_overrides(affect=False, memory=False)
    companion = open_companion(off, fixture_model_path, lambda: NOW)
    try:
        assert companion.affect is None
        user = companion.store.user("ana")
        events = [e async for e in companion.turn(user, "my divorce papers came today",
                                                  Audio(excited().astype(np.float32), SR))]
        assert not any(isinstance(e, AffectRead) for e in events)
    finally:
        await close_companion(companion)
    db = sqlite3.connect(off.database_path)
    assert db.execute("SELECT COUNT(*) FROM mood_readings").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM voice_baselines").fetchone()[0] == 0
    contexts = [r[0] for r in db.execute("SELECT context FROM turns")]
    assert not any("seem to feel" in c for c in contexts)


async def test_a_turn_saved_late_keeps_its_mood_reading(
        settings: Settings, fixture_model: EmbeddedModel) -> None:
    store = SQLiteStore(settings.database_path, busy_timeout_ms=50)
    embedder = Embedder.load()
    companion = Companion(fixture_model, store, settings, default_persona(), lambda: NOW,
                          affect=AffectEngine(store, lambda: embedder))
    user = store.user("ana")
    [e async for e in companion.turn(user, "hello")]
    blocker = sqlite3.connect(settings.database_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another program holds the database
    [e async for e in companion.turn(user, "my divorce papers came today")]
    assert companion.unsaved_count(user) == 2
    blocker.execute("ROLLBACK")
    [e async for e in companion.turn(user, "thanks for listening")]
    rows = readings(settings)
    assert [r[1] for r in rows] == ["hello", "my divorce papers came today",
                                    "thanks for listening"]
    assert rows[1][2] < -0.3
    store.close()
