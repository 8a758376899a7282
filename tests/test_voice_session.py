"""The voice session end to end, on files in real time: real VAD (silero), Whisper tiny.en,
llama.cpp (the SmolLM2 fixture: its words are noise, the plumbing is real), Piper, SQLite.

What is checked is behaviour — a turn is heard and answered aloud, a user who talks over os1
cuts it off and the conversation keeps only what was heard, os1's own echo does not, a "mhm"
does not, noise is no turn, a vanished microphone loses nothing — never a timing: these
machines are shared (the latency targets are measured by `os1 bench voice`)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from os1.companion import Companion
from os1.config import Settings
from os1.llm.embedded import EmbeddedModel
from os1.persona import default_persona
from os1.store.sqlite import SQLiteStore
from os1.voice.audio import FRAME, RATE, read_wav, resample, write_wav
from os1.voice.devices import NoAudioDevice
from os1.voice.files import FileSink, FileSource
from os1.voice.session import (
    CutOff,
    Ignored,
    Replied,
    SaidFirst,
    Speaking,
    UserSaid,
    VoiceEvent,
    VoiceSession,
)
from os1.voice.stt import Transcriber
from os1.voice.tts import PiperSpeech
from os1.voice.turn_taking import words
from voice_helpers import said

OS1 = [sys.executable, "-m", "os1"]


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return Transcriber()


@pytest.fixture(scope="module")
def voice() -> PiperSpeech:
    return PiperSpeech()


class EchoSource(FileSource):
    """A microphone beside the speaker: it hears the user and os1's own voice at `gain`."""

    def __init__(self, sink: FileSink, gain: float) -> None:
        super().__init__()
        self._sink, self._gain = sink, gain

    async def frames(self) -> AsyncIterator[np.ndarray]:
        async for frame in super().frames():
            echo = resample(self._sink.recent(FRAME / RATE), self._sink.rate, RATE)[-FRAME:]
            mixed = frame.copy()
            mixed[FRAME - len(echo):] += self._gain * echo
            yield mixed


class BrokenMicrophone(FileSource):
    """Unplugged once os1 has begun to speak."""

    def __init__(self, sink: FileSink) -> None:
        super().__init__()
        self._sink = sink

    async def frames(self) -> AsyncIterator[np.ndarray]:
        async for frame in super().frames():
            if self._sink.position() > self._sink.rate // 2:
                raise NoAudioDevice("The microphone stopped (unplugged?).")
            yield frame


class Talk:
    """A session running on a file source and sink, and the events it reported."""

    def __init__(self, companion: Companion, settings: Settings, transcriber: Transcriber,
                 voice: PiperSpeech, source: Any = None, sink: FileSink | None = None,
                 outreach: Any = None) -> None:
        self.sink = sink or FileSink(rate=voice.sample_rate)
        self.source = source or FileSource()
        if isinstance(self.source, FileSource):
            self.source.on_start = self.sink.start
        self.events: list[VoiceEvent] = []
        self.user = companion.store.user("voice")
        self.session = VoiceSession(companion, self.user, transcriber, voice, self.source,
                                    self.sink, on_event=self.events.append,
                                    outreach=outreach, outreach_every_s=0.5)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Talk:
        self.task = asyncio.create_task(self.session.run())
        await asyncio.sleep(0.3)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.session.stop()
        self.source.close()
        assert self.task is not None
        await asyncio.wait_for(self.task, 60)

    async def wait(self, kind: type, after: int = 0, timeout: float = 90) -> tuple[int, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(after, len(self.events)):
                if isinstance(self.events[index], kind):
                    return index, self.events[index]
            if self.task is not None and self.task.done():
                self.task.result()  # raises what ended the session
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {kind.__name__} in {timeout} s; events: {self.events}")

    async def speaking_a_while(self, asked: str, seconds: float) -> None:
        """Ask for something long and wait until os1 has been answering aloud a while."""
        mark = len(self.events)
        self.source.say(said(asked))
        await self.wait(Speaking, mark)
        await self.sounded(seconds)

    async def sounded(self, seconds: float) -> None:
        """Wait until this much of os1's voice has sounded (from now)."""
        begun = self.sink.position()
        while self.sink.position() < begun + seconds * self.sink.rate:
            await asyncio.sleep(0.02)


def companion_for(settings: Settings, model: EmbeddedModel) -> Companion:
    return Companion(model, SQLiteStore(settings.database_path), settings, default_persona())


def stored(settings: Settings) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(settings.database_path)
    return db.execute("SELECT role, content, status FROM turns ORDER BY id").fetchall()


def test_os1_voice_round_trips_files(clean_env: dict[str, str], tmp_path: Path) -> None:
    """`os1 voice --in/--out` as a user runs it: a stereo 44.1 kHz recording in, os1's voice
    out on the recording's timeline, the exchange stored."""
    talk = said("Hey, I just got home, it was a long day.", before_s=0.5, after_s=0.3)
    stereo = np.stack([resample(talk, RATE, 44_100)] * 2, axis=1)
    wav_in, wav_out = tmp_path / "talk.wav", tmp_path / "reply.wav"
    write_stereo(wav_in, stereo, 44_100)
    env = {**clean_env, "OS1_MODEL": "fixture", "OS1_MAX_REPLY_TOKENS": "24",
           "OS1_MEMORY": "off"}
    done = subprocess.run([*OS1, "voice", "--in", str(wav_in), "--out", str(wav_out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    you = [line for line in done.stdout.splitlines() if line.startswith("You:")]
    # One turn, or two when the comma's pause read as the end of one (os1 then yields and
    # answers the rest: a busy machine's timing decides which).
    assert 1 <= len(you) <= 2 and {"got", "home", "long", "day"} <= set(words(" ".join(you)))
    said_by_os1 = [line for line in done.stdout.splitlines() if line.startswith("os1:")]
    assert "I'm an AI" in said_by_os1[0]  # the session's opening, shown (not spoken over
    assert len(said_by_os1) == 2          # the recording), then the reply
    reply = read_wav(wav_out)
    assert reply.rate == 22_050
    speech_end = int((len(talk) / RATE - 0.3) * reply.rate)
    assert np.abs(reply.samples[:speech_end]).max() < 1e-3  # os1 let the user finish
    assert np.abs(reply.samples[speech_end:]).max() > 0.05  # and then answered aloud
    turns = stored_at(Path(env["OS1_DATA_DIR"]))
    assert [role for role, _, _ in turns] in (["user", "assistant"],
                                               ["user", "user", "assistant"])
    assert "home" in turns[0][1].lower() and turns[-1][2] == "complete"


def write_stereo(path: Path, samples: np.ndarray, rate: int) -> None:
    import wave

    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())


def stored_at(data_dir: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(data_dir / "os1.sqlite3")
    return db.execute("SELECT role, content, status FROM turns ORDER BY id").fetchall()


def test_bad_files_get_clear_errors(clean_env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros(0, np.float32), 16_000)
    for args, message in (
            (["--in", str(empty), "--out", str(tmp_path / "o.wav")], "holds no audio"),
            (["--in", str(tmp_path / "none.wav"), "--out", str(tmp_path / "o.wav")],
             "does not exist"),
            (["--in", str(empty)], "--in and --out go together")):
        done = subprocess.run([*OS1, "voice", *args], env=clean_env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2 and message in " ".join(done.stderr.split())


async def test_talking_over_os1_cuts_it_off_and_keeps_what_was_heard(
        settings: Settings, fixture_model: EmbeddedModel, transcriber: Transcriber,
        voice: PiperSpeech) -> None:
    companion = companion_for(settings, fixture_model)
    async with Talk(companion, settings, transcriber, voice) as talk:
        await talk.speaking_a_while("Tell me a long story about a lighthouse keeper.", 0.8)
        mark = len(talk.events)
        talk.source.say(said("Wait, stop, I have to tell you something important."))
        _, cut = await talk.wait(CutOff, mark)
        _, first = await talk.wait(Replied, mark)
        said_at, heard = await talk.wait(UserSaid, mark)
        await talk.wait(Replied, said_at)
    assert not cut.resumed and talk.sink.pauses
    assert first.interrupted and first.text.endswith("…")
    assert {"stop", "tell", "something"} <= set(words(heard.text))
    turns = stored(settings)
    cut_reply = turns[1]
    assert cut_reply[0] == "assistant" and cut_reply[2] == "interrupted"
    assert cut_reply[1] == first.text  # exactly what was heard, not what was written
    assert turns[2][0] == "user" and "stop" in turns[2][1].lower()
    companion.store.close()


async def test_os1_does_not_cut_itself_off_on_its_own_echo(
        settings: Settings, fixture_model: EmbeddedModel, transcriber: Transcriber,
        voice: PiperSpeech) -> None:
    companion = companion_for(settings, fixture_model)
    sink = FileSink(rate=voice.sample_rate)
    source = EchoSource(sink, gain=0.5)  # loud speakers, no echo cancellation
    async with Talk(companion, settings, transcriber, voice, source, sink) as talk:
        source.say(said("Tell me about your favourite place by the sea."))
        _, reply = await talk.wait(Replied)
        kinds = [type(event).__name__ for event in talk.events]
        assert not reply.interrupted, kinds  # heard all the way through its own echo
        assert not [e for e in talk.events if isinstance(e, CutOff)]
        await talk.wait(UserSaid)
        await talk.speaking_a_while("And what else do you like about it?", 0.8)
        mark = len(talk.events)
        source.say(np.clip(said("No wait, stop, listen to me please.") * 2.5, -1, 1))
        _, cut = await talk.wait(CutOff, mark)  # the user, louder than the echo, gets in
    assert not cut.resumed
    companion.store.close()


async def test_a_mhm_while_os1_talks_does_not_stop_it(
        settings: Settings, fixture_model: EmbeddedModel, transcriber: Transcriber,
        voice: PiperSpeech) -> None:
    companion = companion_for(settings, fixture_model)
    async with Talk(companion, settings, transcriber, voice) as talk:
        await talk.speaking_a_while("Tell me a long story about a lighthouse keeper.", 0.6)
        mark = len(talk.events)
        talk.source.say(said("Yeah."))
        _, ignored = await talk.wait(Ignored, mark)
        _, reply = await talk.wait(Replied, mark)
    assert ignored.why == "backchannel"
    cuts = [e for e in talk.events[mark:] if isinstance(e, CutOff)]
    assert [c.resumed for c in cuts] == [False, True]  # paused, then went on
    assert not reply.interrupted
    assert [role for role, _, _ in stored(settings)] == ["user", "assistant"]
    companion.store.close()


async def test_silence_noise_and_a_vanished_microphone(
        settings: Settings, fixture_model: EmbeddedModel, transcriber: Transcriber,
        voice: PiperSpeech) -> None:
    companion = companion_for(settings, fixture_model)
    quiet = np.zeros(120 * RATE, np.float32)  # two minutes of a quiet room…
    hiss = np.random.default_rng(3).normal(0, 0.02, 30 * RATE).astype(np.float32)
    hum = 0.05 * np.sin(2 * np.pi * 50 * np.arange(30 * RATE) / RATE).astype(np.float32)
    source = FileSource(np.concatenate([quiet, hiss, hum]), realtime=False)
    talk = Talk(companion, settings, transcriber, voice, source)
    await asyncio.wait_for(talk.session.run(until_idle=lambda: source.exhausted), 300)
    assert not [e for e in talk.events if isinstance(e, UserSaid | Replied)]
    assert stored(settings) == []

    sink = FileSink(rate=voice.sample_rate)
    broken = BrokenMicrophone(sink)
    talk = Talk(companion, settings, transcriber, voice, broken, sink)
    broken.say(said("Tell me a long story about a lighthouse keeper."))
    with pytest.raises(NoAudioDevice, match="unplugged"):
        await asyncio.wait_for(talk.session.run(), 120)
    turns = stored(settings)
    assert [role for role, _, _ in turns] == ["user", "assistant"]
    assert turns[1][2] == "interrupted" and turns[1][1]  # what was heard is kept
    companion.store.close()


async def test_a_reminder_is_said_aloud_at_its_time_and_kept_in_the_conversation(
        settings: Settings, fixture_model: EmbeddedModel, transcriber: Transcriber,
        voice: PiperSpeech) -> None:
    from datetime import datetime, timedelta

    from os1.checkins.outreach import Outreach
    from os1.checkins.records import Candidate
    from os1.checkins.scheduler import CheckIns

    companion = companion_for(settings, fixture_model)
    store = companion.store
    assert isinstance(store, SQLiteStore)
    checkins = CheckIns(store, settings)
    outreach = Outreach(companion, checkins)
    user = store.user("voice")
    due = datetime.now().astimezone() + timedelta(seconds=4)
    checkins.schedule(user, Candidate("reminder", "reminder:test:0", "stretch", due,
                                      due + timedelta(hours=1), "Reminder: stretch."))

    async def take() -> list[str]:
        return [checkin.text for checkin in await outreach.take(user)]

    async with Talk(companion, settings, transcriber, voice, outreach=take) as talk:
        assert not [e for e in talk.events if isinstance(e, SaidFirst)]  # not before its time
        _, said_first = await talk.wait(SaidFirst, timeout=60)
        heard_at = datetime.now().astimezone()
        await talk.sounded(0.3)  # and it is spoken, not only shown
    assert said_first.text == "Reminder: stretch." and heard_at >= due
    assert ("assistant", "Reminder: stretch.", "complete") in stored(settings)
    assert checkins.inbox(user) == []  # said, so seen: not said again
    store.close()
