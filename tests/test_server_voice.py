"""Voice over the WebSocket /api/voice, end to end: the real app on real uvicorn on a free
port, a real account and session token, the `websockets` client streaming a spoken sentence in real
time (32 ms frames), and behind the socket the real voice session — silero VAD, Whisper
tiny.en, llama.cpp (the SmolLM2 fixture: its words are noise, the plumbing is real), Piper
and SQLite. The socket's audio adapters are also checked on their own, with a fake clock.

What is checked is behaviour (what is transcribed, stored, sent back, refused), never a
timing: these machines are shared."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets

from conftest import MODEL_CACHE
from os1.config import Settings
from os1.llm.embedded import EmbeddedModel
from os1.server.protocol import MAX_AUDIO_FRAME
from os1.server.socket_audio import (
    AudioFlood,
    AudioFrameError,
    AudioTooLarge,
    SocketSink,
    SocketSource,
    pcm_to_float,
)
from os1.server.state import VoiceRoom
from os1.server.voice_socket import voice_models
from os1.system_packages import ensure
from os1.voice.audio import FRAME, FRAME_S, RATE, read_wav, write_wav
from os1.voice.tts import ESPEAK, EspeakSpeech, PiperSpeech
from os1.voice.turn_taking import words
from server_helpers import LiveServer, a_sign_up, serving
from voice_helpers import said

# The fixture model answers in a second or two on an idle machine; with half a dozen test
# runs sharing two cores its first token has taken 40 s. Waits are generous, not timings.
REPLY_S = 180

# -- the adapters on their own ---------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


async def test_the_source_makes_whole_frames_of_any_chunks_and_refuses_bad_ones() -> None:
    source = SocketSource(gap_s=5.0)
    audio = np.linspace(-0.5, 0.5, 3 * FRAME, dtype=np.float32)
    raw = pcm(audio)
    for start in range(0, len(raw), 300):  # 150-sample chunks: frames span chunks
        source.feed(raw[start:start + 300])
    source.close()
    frames = [frame async for frame in source.frames()]
    assert [len(f) for f in frames] == [FRAME] * 3
    assert np.allclose(np.concatenate(frames), audio, atol=1e-4)
    with pytest.raises(AudioFrameError, match="even number of bytes"):
        source.feed(b"\x00\x01\x02")
    with pytest.raises(AudioTooLarge, match=str(MAX_AUDIO_FRAME)):
        pcm_to_float(bytes(MAX_AUDIO_FRAME + 2))


async def test_the_source_fills_silence_when_the_client_goes_quiet() -> None:
    source = SocketSource(gap_s=0.05)
    source.feed(pcm(np.full(FRAME, 0.25, np.float32)))
    got: list[np.ndarray] = []
    started = time.monotonic()
    async for frame in source.frames():
        got.append(frame)
        if len(got) >= 6:
            break
    # The first frame is the client's; then time goes on in silence, about in real time.
    assert got[0][0] == pytest.approx(0.25, abs=1e-3) and not np.any(got[1:])
    assert time.monotonic() - started >= 0.05 + 3 * FRAME_S * 0.8
    assert source.frames_filled >= 5


async def test_a_muted_source_hears_silence_and_keeps_time_at_once() -> None:
    source = SocketSource(gap_s=30.0)  # unmuted, it would wait 30 s before filling in
    source.muted = True  # push-to-talk released
    source.feed(pcm(np.full(FRAME, 0.5, np.float32)))
    got: list[np.ndarray] = []
    async for frame in source.frames():
        got.append(frame)
        if len(got) >= 4:
            break
    assert not np.any(np.concatenate(got))


def test_the_source_refuses_audio_faster_than_real_time() -> None:
    clock = FakeClock()
    source = SocketSource(clock=clock, max_ahead_s=2.0)
    clock.now += 60  # idle a minute: no credit beyond the two seconds builds up
    second = pcm(np.zeros(RATE, np.float32))
    for _ in range(3):  # three seconds in no time: a burst up to two seconds is tolerated…
        with contextlib.suppress(AudioFlood):
            source.feed(second[: len(second) // 2])
            source.feed(second[len(second) // 2:])
            continue
        break
    else:
        raise AssertionError("three seconds of audio in no time were accepted")
    clock.now += 10  # …and audio at real-time pace is always fine
    source.feed(second)


def test_the_sink_sends_audio_and_tracks_what_was_heard() -> None:
    clock = FakeClock()
    sent: list[Any] = []
    sink = SocketSink(1000, sent.append, clock=clock, chunk=400)
    tone = np.full(1000, 0.5, np.float32)
    sink.play(tone)  # one second at 1 kHz
    audio = [item for item in sent if isinstance(item, bytes)]
    assert [len(b) for b in audio] == [800, 800, 400]  # int16, chunked
    assert np.allclose(pcm_to_float(b"".join(audio)), 0.5, atol=1e-3)
    assert sink.position() == 0 and sink.queued_until() == 1000
    clock.now += 0.3  # no report yet: the wall clock says 300 samples have sounded
    assert sink.position() == 300 and sink.playing_level() == pytest.approx(0.5, abs=1e-3)
    sink.report(200)  # the page is behind (it got the audio late): the page is right
    assert sink.position() == 200
    clock.now += 0.1
    assert sink.position() == 300
    sink.pause()
    clock.now += 5
    assert sink.position() == 300 and sink.playing_level() == 0.0
    sink.resume()
    clock.now += 0.2
    assert sink.position() == 500
    sink.discard()  # barge-in: the rest is dropped, unheard
    assert sink.position() == sink.queued_until() == 500
    assert [m["action"] for m in sent if isinstance(m, dict)] == ["pause", "resume", "discard"]
    sink.report(400)  # stale: sent before the page saw the discard
    assert sink.position() == 500
    sink.play(tone)  # the next reply counts on from what was heard
    clock.now += 0.25
    sink.report(1000 + 200)  # stream offset: received (2000) − still queued (800)
    assert sink.position() == 700 and sink.queued_until() == 1500
    clock.now += 10
    assert sink.position() == 1500  # never past what was sent


def test_a_page_that_is_gone_heard_nothing_after_its_last_message() -> None:
    """A dropped connection is noticed late on a busy server; the wall clock must not count
    the seconds in between as heard (the reply would be stored whole)."""
    clock = FakeClock()
    sink = SocketSink(1000, lambda _item: None, clock=clock)
    sink.play(np.full(5000, 0.5, np.float32))  # five seconds sent
    clock.now += 1.0
    sink.report(900)
    last_message = clock.now + 0.2
    clock.now += 3.0  # the server notices the drop three seconds later
    sink.client_gone(last_message)
    assert sink.position() == 1100  # 900 reported + 0.2 s of playing since
    clock.now += 30
    assert sink.position() == 1100


# -- a real server -------------------------------------------------------------------------


@dataclass
class Server:
    live: LiveServer
    settings: Settings

    @property
    def url(self) -> str:
        return f"{self.live.ws_url}/api/voice"

    async def token(self, name: str) -> str:
        async with httpx.AsyncClient(base_url=self.live.url) as client:
            return await a_sign_up(client, name)

    def turns(self, name: str) -> list[tuple[str, str, str]]:
        db = sqlite3.connect(self.settings.database_path)
        try:
            return db.execute(
                "SELECT t.role, t.content, t.status FROM turns t JOIN users u "
                "ON u.id = t.user_id WHERE u.name = ? ORDER BY t.id", (name,)).fetchall()
        finally:
            db.close()

    async def wait_turns(self, name: str, count: int, timeout: float = 30) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            turns = self.turns(name)
            if len(turns) >= count:
                return turns
            await asyncio.sleep(0.1)
        raise AssertionError(f"{count} turns were not stored for {name}: {self.turns(name)}")


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory,
                 fixture_model: EmbeddedModel) -> AsyncIterator[Server]:
    """`create_app` on the real companion `open_companion` assembles, served by uvicorn;
    one per file, so Whisper and the voice load once (on the first voice socket)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("voice_server"),
                        cache_dir=MODEL_CACHE, model="fixture", context_tokens=2048,
                        max_reply_tokens=24, temperature=0.0, memory_extraction=False)
    async with serving(settings, fixture_model) as live:
        yield Server(live, settings)


@dataclass
class Call:
    """A browser page on the socket: streams a microphone in real time, plays os1's voice
    (a simulated player: received audio sounds at the announced rate, pauses and drops as
    told, and reports where it is), and keeps every message."""

    ws: Any
    rate: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # audio_format came
    events: list[dict[str, Any]] = field(default_factory=list)
    received: int = 0  # samples of os1's voice received
    played: float = 0.0  # samples consumed (played, or dropped on a discard)
    paused: bool = False
    reply_audio: list[np.ndarray] = field(default_factory=list)  # after a "speaking"
    reply_from: int = 0  # where in the received audio the reply began (after the greeting)
    first_reply_audio_at: float = 0.0
    closed: int | None = None

    async def listen(self) -> None:
        async def play() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.05)
                now = time.monotonic()
                if not self.paused:
                    self.played = min(self.received, self.played + (now - last) * self.rate)
                last = now
                with contextlib.suppress(websockets.ConnectionClosed):
                    await self.ws.send(json.dumps({"type": "played",
                                                   "samples": int(self.played)}))

        player = asyncio.create_task(play())
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    samples = pcm_to_float(message)
                    self.received += len(samples)
                    if any(e["type"] == "speaking" for e in self.events):
                        if not self.reply_audio:
                            self.first_reply_audio_at = time.monotonic()
                            self.reply_from = self.received - len(samples)
                        self.reply_audio.append(samples)
                    continue
                event = json.loads(message)
                self.events.append(event)
                if event["type"] == "audio_format":
                    self.rate = event["rate"]
                    self.ready.set()
                elif event["type"] == "playback":
                    self.paused = event["action"] == "pause"
                    if event["action"] == "discard":
                        self.played = self.received
        except websockets.ConnectionClosed as closed:
            self.closed = closed.rcvd.code if closed.rcvd else 1006
        else:
            self.closed = self.ws.close_code
        finally:
            player.cancel()

    async def speak(self, samples: np.ndarray) -> float:
        """Stream samples in 32 ms frames at real-time pace; returns when the last was sent."""
        await asyncio.wait_for(self.ready.wait(), 60)  # a page sends once it knows the format
        raw = pcm(samples)
        started = time.monotonic()
        for index, start in enumerate(range(0, len(raw), 2 * FRAME)):
            await self.ws.send(raw[start:start + 2 * FRAME])
            delay = started + (index + 1) * FRAME_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        return time.monotonic()

    async def wait(self, kind: str, timeout: float = 60, after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events[after:]:
                if event["type"] == kind:
                    return event
            if self.closed is not None:
                break
            await asyncio.sleep(0.05)
        errors = [e["message"] for e in self.events if e["type"] == "error"]
        raise AssertionError(f"no {kind} in {timeout} s (closed: {self.closed}, errors: "
                             f"{errors}); got {[e['type'] for e in self.events]}")


@contextlib.asynccontextmanager
async def call(url: str, token: str) -> AsyncIterator[Call]:
    async with websockets.connect(f"{url}?token={token}", max_size=2**22) as ws:
        page = Call(ws)
        listening = asyncio.create_task(page.listen())
        try:
            yield page
        finally:
            with contextlib.suppress(Exception):
                await ws.close()
            await asyncio.wait_for(listening, 30)


def spoken_wav(tmp_path: Path, text: str) -> np.ndarray:
    """A sentence in os1's own Piper voice, as a 16 kHz WAV a person might have recorded."""
    path = tmp_path / "talk.wav"
    write_wav(path, said(text, before_s=0.3), RATE)
    clip = read_wav(path)
    assert clip.rate == RATE
    return clip.samples


async def test_a_spoken_turn_is_heard_answered_aloud_and_stored(
        server: Server, tmp_path: Path) -> None:
    token = await server.token("ada")
    talk = spoken_wav(tmp_path, "Hey, I just got home, it was a long day.")
    async with call(server.url, token) as page:
        spoken_at = await page.speak(talk)
        heard = await page.wait("user_said")
        replied = await page.wait("replied", timeout=REPLY_S)
        done = await page.wait("done")
        assert page.events[0] == {"type": "audio_format", "rate": 22_050}
    assert {"got", "home", "long", "day"} <= set(words(heard["text"]))
    assert heard["timings"]["stt"] is not None
    kinds = [e["type"] for e in page.events]
    assert kinds.index("user_said") < kinds.index("token") < kinds.index("replied")
    assert "speaking" in kinds and "greeted" in kinds, " ".join(kinds)
    reply = np.concatenate(page.reply_audio)
    assert len(reply) > page.rate // 2 and np.abs(reply).max() > 0.05  # os1's voice, aloud
    assert page.first_reply_audio_at > spoken_at - 1.0  # it let the user finish
    assert not replied["interrupted"] and replied["text"] == done["reply"]
    turns = await server.wait_turns("ada", 2)
    assert turns[0][0] == "user" and "home" in turns[0][1].lower()
    assert turns[-1] == ("assistant", replied["text"], "complete")


async def test_push_to_talk_listens_only_while_the_button_is_down(server: Server) -> None:
    token = await server.token("bea")
    async with call(server.url, token) as page:
        await page.ws.send(json.dumps({"type": "mode", "mode": "push_to_talk"}))
        await page.speak(said("The weather is terrible in Paris.", before_s=0.2,
                              after_s=1.6))
        assert not [e for e in page.events if e["type"] == "user_said"]
        await page.ws.send(json.dumps({"type": "talk", "down": True}))
        await page.speak(said("Hello, my cat is called Jasper.", before_s=0.2))
        await page.ws.send(json.dumps({"type": "talk", "down": False}))
        # Released: the page may stop sending; the server's own silence ends the turn.
        heard = await page.wait("user_said", timeout=30)
    assert {"cat", "jasper"} <= set(words(heard["text"]))
    assert not {"weather", "paris"} & set(words(heard["text"]))
    turns = await server.wait_turns("bea", 1)
    assert "paris" not in " ".join(content.lower() for _, content, _ in turns)


async def test_a_socket_dropped_mid_reply_keeps_what_was_heard(server: Server) -> None:
    token = await server.token("cid")
    async with call(server.url, token) as page:
        await page.speak(said("Tell me a long story about a lighthouse keeper.", before_s=0.2,
                              after_s=0.2))
        await wait_reply_playing(page, 0.8)  # ~1 s of os1's voice played by the page…
        page.ws.transport.abort()  # …then the connection is gone (a lost network)
    turns = await server.wait_turns("cid", 2, timeout=REPLY_S)
    assert turns[0][0] == "user" and "lighthouse" in turns[0][1].lower()
    role, content, status = turns[1]
    assert role == "assistant" and status == "interrupted"
    assert content and content.endswith("…")  # what had sounded, not the whole reply


async def wait_reply_playing(page: Call, seconds: float) -> None:
    """Until the page has played this much of the reply (not of the greeting)."""
    await page.wait("speaking", timeout=REPLY_S)
    deadline = time.monotonic() + 60
    while (not page.reply_audio or page.played - page.reply_from < page.rate * seconds) \
            and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def test_talking_over_os1_stops_the_page_and_keeps_what_was_heard(
        server: Server) -> None:
    token = await server.token("eve")
    async with call(server.url, token) as page:
        await page.speak(said("Tell me a long story about a lighthouse keeper.", before_s=0.2,
                              after_s=0.2))
        await wait_reply_playing(page, 0.8)
        mark = len(page.events)
        # The user talks over os1, the microphone streaming as before (no echo: headphones).
        await page.speak(said("Wait, stop, I have to tell you something important."))
        cut = await page.wait("cut_off", after=mark)
        replied = await page.wait("replied", after=mark)
        heard = await page.wait("user_said", after=mark)
    actions = [e["action"] for e in page.events[mark:] if e["type"] == "playback"]
    assert actions[:1] == ["pause"] and "discard" in actions  # the page fell silent at once
    assert not cut["resumed"]
    # What is kept is what had sounded: less than the model wrote (cut inside a sentence it
    # ends in "…"; between two, at the last one heard).
    first_reply = page.events[:page.events.index(replied)]
    written = "".join(e["text"] for e in first_reply if e["type"] == "token")
    kept = words(replied["text"])
    assert replied["interrupted"] and kept and kept == words(written)[:len(kept)]
    assert len(kept) < len(words(written))
    assert {"stop", "tell", "something"} <= set(words(heard["text"]))
    turns = await server.wait_turns("eve", 3)
    assert turns[1] == ("assistant", replied["text"], "interrupted")  # exactly what was heard
    assert turns[2][0] == "user" and "stop" in turns[2][1].lower()


async def test_bad_frames_get_clear_errors(server: Server) -> None:
    token = await server.token("dan")
    async with call(server.url, token) as page:
        await page.ws.send(b"\x01\x02\x03")  # odd: not int16
        await page.ws.send("{not json")
        await page.ws.send(json.dumps({"type": "talk", "down": True}))  # not push-to-talk
        await page.ws.send(json.dumps({"type": "dance"}))
        await page.ws.send(json.dumps({"type": "played", "samples": -4}))
        deadline = time.monotonic() + 10
        while len([e for e in page.events if e["type"] == "error"]) < 5:
            assert time.monotonic() < deadline, page.events
            await asyncio.sleep(0.05)
        errors = [e["message"] for e in page.events if e["type"] == "error"]
        assert "even number of bytes" in errors[0] and "JSON" in errors[1]
        assert "push-to-talk" in errors[2] and "dance" in errors[3] and "samples" in errors[4]
        await page.ws.send(json.dumps({"type": "say", "text": "  "}))  # typed, but empty
        turn_error = await page.wait("turn_error")
        assert turn_error["kind"] == "empty_input" and not turn_error["kept"]
        await page.wait("problem")  # the session's own report of it
        await page.ws.send(bytes(MAX_AUDIO_FRAME + 2))  # too big: closed
        await asyncio.wait_for(page.ws.wait_closed(), 10)
    assert page.closed == 1009

    async with call(server.url, token) as page:  # a flood, faster than real time: closed
        with contextlib.suppress(websockets.ConnectionClosed):
            for _ in range(20):
                await page.ws.send(bytes(RATE))  # half a second each, all at once
        await asyncio.wait_for(page.ws.wait_closed(), 10)
    assert page.closed == 1008
    assert "real time" in [e for e in page.events if e["type"] == "error"][-1]["message"]

    async with call(server.url, token) as first:  # a second window takes the voice over
        await asyncio.wait_for(first.ready.wait(), 30)
        async with call(server.url, token) as second:
            await asyncio.wait_for(first.ws.wait_closed(), 10)
            await asyncio.wait_for(second.ready.wait(), 30)
            assert second.closed is None
    assert first.closed == 4409
    assert "another window" in [e for e in first.events if e["type"] == "error"][-1]["message"]

    for url in (server.url, f"{server.url}?token=not-a-token"):
        async with websockets.connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed) as refused:
                await ws.recv()
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401


async def test_each_user_hears_the_voice_they_chose_and_a_broken_choice_gives_way(
        tmp_path: Path) -> None:
    """`voice_models` as the socket calls it with the user's interview answer: a chosen voice
    loads once and is shared by everyone who chose it; one that cannot load gives way to the
    server's own; Whisper is one for all."""
    ensure(ESPEAK)
    room = VoiceRoom()
    settings = Settings(data_dir=tmp_path, cache_dir=MODEL_CACHE)  # the server's voice: joe
    espeak = await voice_models(room, settings, "espeak")
    assert isinstance(espeak.voice, EspeakSpeech)
    again = await voice_models(room, settings, "espeak")
    assert again.voice is espeak.voice
    own = await voice_models(room, settings, None)
    assert isinstance(own.voice, PiperSpeech)
    broken = await voice_models(room, settings, "no such voice")
    assert broken.voice is own.voice
    assert espeak.transcriber is own.transcriber is broken.transcriber
