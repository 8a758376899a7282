"""The voice session's pure parts: turn-taking rules, the echo gate, speech chunks, WAV files,
the file sink's timeline, what a cut-off reply keeps, and Whisper loop removal."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from os1.voice.audio import RATE, AudioFormatError, read_wav, to_session, write_wav
from os1.voice.benchmark import word_error_rate
from os1.voice.chunks import SpeechChunker
from os1.voice.files import FileSink, FileSource
from os1.voice.session import TurnTimings, _Piece, _Reply
from os1.voice.stt import _unloop
from os1.voice.turn_taking import EchoGate, is_backchannel, looks_finished


@pytest.mark.parametrize(("text", "finished"), [
    ("Hey, I just got home. It was a long day.", True),
    ("Can you remind me to call Amy?", True),
    ("I went to the...", False),
    ("So I was thinking about", False),
    ("My manager and", False),
    ("That sounds nice, thank you.", True),
    ("Yes, I did.", True),
    ("I was talking to my.", False),
    ("I told her that,", False),
    ("Um.", False),
    ("", False),
])
def test_a_finished_thought_reads_finished(text: str, finished: bool) -> None:
    assert looks_finished(text) is finished


@pytest.mark.parametrize(("text", "backchannel"), [
    ("Mhm.", True), ("Uh-huh.", True), ("Yeah, okay.", True), ("I see.", True),
    ("Yeah, but I disagree.", False), ("Okay, stop, wait.", False), ("", False),
])
def test_backchannels(text: str, backchannel: bool) -> None:
    assert is_backchannel(text) is backchannel


def speak_into(gate: EchoGate, echo: float, playing: float, frames: int = 100) -> None:
    for frame in range(frames):  # os1 talks; the microphone hears only its echo
        gate.observe(echo, playing, calibrating=frame < EchoGate.calibration_frames)


def test_the_echo_gate_learns_the_room_and_still_lets_the_user_in() -> None:
    gate = EchoGate(margin=2.0)
    playing = 0.2
    echo = 0.6 * playing  # loud speakers beside the microphone
    speak_into(gate, echo, playing)
    assert 0.5 < gate.coupling < 0.7
    assert not gate.allows(echo, playing)
    assert not gate.allows(echo * 1.3, playing)  # a louder echo peak is still echo
    assert gate.allows(echo + 0.25, playing)  # the user speaking over it gets through


def test_an_echo_louder_than_the_first_guess_is_learnt_before_it_can_cut_in() -> None:
    gate = EchoGate(margin=2.0)
    playing, echo = 0.2, 0.3  # the echo is 1.5 x the playback level
    speak_into(gate, echo, playing, frames=EchoGate.calibration_frames)
    assert not gate.allows(echo, playing)
    speak_into(gate, echo, playing)
    assert not gate.allows(echo * 1.2, playing)


def test_a_user_who_murmured_under_the_gate_still_gets_in_by_speaking_up() -> None:
    gate = EchoGate(margin=2.0)
    speak_into(gate, 0.02, 0.2)  # a quiet room: the coupling sinks
    murmur = 0.9 * gate.margin * gate.coupling * 0.2
    for _ in range(10):  # the user murmurs under the gate for 0.3 s
        gate.observe(murmur, 0.2, calibrating=False)
    assert gate.allows(2 * murmur, 0.2)


def test_with_headphones_the_gate_opens_for_quiet_speech() -> None:
    gate = EchoGate(margin=2.0)
    speak_into(gate, 0.0005, 0.2, frames=30)  # nothing of os1's voice reaches the mic
    assert gate.allows(0.1, 0.2)  # a normal voice gets in at once
    speak_into(gate, 0.0005, 0.2, frames=300)  # ten seconds on: the gate has sunk
    assert gate.allows(0.02, 0.2)  # a quiet one too
    assert gate.allows(0.001, 0.0)  # nothing playing: no gate at all


def feed(chunker: SpeechChunker, text: str) -> list[str]:
    pieces: list[str] = []
    for word in text.split(" "):
        pieces.extend(chunker.feed(word + " "))
    return pieces + chunker.flush()


def test_the_first_clause_is_spoken_before_its_sentence_ends() -> None:
    assert feed(SpeechChunker(), "Oh no, that sounds exhausting. Do you want to talk?") == [
        "Oh no,", "that sounds exhausting.", "Do you want to talk?"]
    assert feed(SpeechChunker(), "Welcome home! How was it?") == ["Welcome home!",
                                                                 "How was it?"]
    # One word before the comma is too little to say on its own.
    assert feed(SpeechChunker(), "So, what happened next?") == ["So, what happened next?"]
    assert feed(SpeechChunker(), "I **really** mean it. `Truly`.") == [
        "I really mean it.", "Truly."]


def test_a_long_first_sentence_is_cut_where_a_speaker_would_breathe() -> None:
    assert feed(SpeechChunker(), "Here's a simple recipe you might like to try tonight. "
                "Enjoy it.") == ["Here's a simple recipe you might like",
                                 "to try tonight.", "Enjoy it."]
    # Short sentences wait for their end.
    assert feed(SpeechChunker(), "I think you should go to bed.") == [
        "I think you should go to bed."]


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.5 * np.sin(2 * np.pi * 220 * t)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


def write_pcm(path: Path, samples: np.ndarray, rate: int, width: int) -> None:
    channels = samples.shape[1] if samples.ndim == 2 else 1
    scale = {1: 127, 2: 32767, 3: 2**23 - 1, 4: 2**31 - 1}[width]
    ints = np.round(samples * scale).astype(np.int64).reshape(-1)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    else:
        raw = b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(raw)


@pytest.mark.parametrize(("width", "rate", "channels"), [
    (2, 16_000, 1), (2, 44_100, 2), (3, 48_000, 1), (4, 22_050, 2), (1, 8_000, 1)])
def test_any_pcm_wav_becomes_the_sessions_mono_16k(tmp_path: Path, width: int, rate: int,
                                                   channels: int) -> None:
    path = tmp_path / "in.wav"
    write_pcm(path, tone(0.5, rate, channels), rate, width)
    clip = read_wav(path)
    assert clip.rate == rate and clip.samples.ndim == 1
    samples = to_session(clip.samples, clip.rate)
    assert abs(len(samples) - RATE // 2) <= 2
    assert 0.3 < float(np.abs(samples).max()) < 0.6  # the level survives


def test_what_is_not_a_wav_file_gets_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "song.mp3"
    bad.write_bytes(b"ID3\x03\x00\x00\x00 not a wave file at all")
    with pytest.raises(AudioFormatError, match=r"not a PCM WAV file.*ffmpeg"):
        read_wav(bad)
    with pytest.raises(AudioFormatError, match="does not exist"):
        read_wav(tmp_path / "missing.wav")


def test_written_wav_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "reply.wav"
    samples = tone(0.25, 22_050).astype(np.float32)
    write_wav(out, samples, 22_050)
    back = read_wav(out)
    assert back.rate == 22_050 and np.allclose(back.samples, samples, atol=1e-4)
    assert not list(out.parent.glob("*.partial"))


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def started_sink() -> tuple[Clock, FileSink]:
    """A 100 Hz file sink whose timeline starts now, on a clock the test moves."""
    clock = Clock()
    sink = FileSink(rate=100, clock=clock)
    sink.start()
    return clock, sink


def test_the_file_sink_sounds_in_real_time_and_pauses_where_cut() -> None:
    clock, sink = started_sink()
    sink.play(np.ones(200, np.float32))
    clock.t = 1.0
    sink.play(np.full(100, 0.5, np.float32))
    assert sink.position() == 100 and sink.queued_until() == 300
    assert sink.playing_level() == pytest.approx(1.0)
    sink.pause()  # the user cut in at 1 s
    clock.t = 2.0
    assert sink.position() == 100 and sink.playing_level() == 0.0
    sink.resume()  # only a "mhm": the rest follows from 2 s
    clock.t = 5.0
    assert sink.position() == 300 == sink.queued_until()
    assert sink.heard_segments() == [(0, 100), (200, 300), (300, 400)]
    assert len(sink.timeline()) == 500


def test_a_discarded_reply_leaves_only_what_sounded() -> None:
    clock, sink = started_sink()
    sink.play(np.ones(300, np.float32))
    clock.t = 1.5
    sink.discard()
    clock.t = 4.0
    assert sink.position() == 150 == sink.queued_until()
    assert float(sink.timeline()[:150].min()) == 1.0 and float(sink.timeline()[150:].max()) == 0


async def test_the_file_source_pads_with_silence_and_takes_more_speech() -> None:
    source = FileSource(np.ones(700, np.float32), realtime=False)
    frames = source.frames()
    first = await anext(frames)
    second = await anext(frames)
    assert first.sum() == 512 and second.sum() == 700 - 512
    assert source.exhausted
    assert source.say(np.ones(100, np.float32)) == pytest.approx(2 * 512 / RATE)
    assert (await anext(frames)).sum() == 100
    assert (await anext(frames)).sum() == 0  # silence after the speech
    source.close()


def test_a_cut_off_reply_keeps_the_words_that_were_heard() -> None:
    reply = _Reply(TurnTimings())
    reply.pieces = [_Piece("Oh no,", 0, 100),
                    _Piece("that sounds like a really long day.", 100, 300)]
    reply.cut_at = 200  # half way through the second piece
    text, whole = reply.heard("Oh no, that sounds like a really long day. Tell me more.")
    assert (text, whole) == ("Oh no, that sounds like…", False)
    reply.cut_at = 50
    assert reply.heard("")[0] == "Oh…"
    reply.cut_at = None
    reply.heard_all.set()
    assert reply.heard("All of it.") == ("All of it.", True)


def test_a_reply_cut_just_after_its_last_word_is_whole() -> None:
    reply = _Reply(TurnTimings())
    reply.pieces = [_Piece("Sleep well.", 0, 100)]
    reply.cut_at = 100
    assert reply.heard("Sleep well. And") == ("Sleep well.", False)  # more was written
    reply.finish_text()  # the model had finished and every piece was spoken
    reply.texts.get_nowait()
    assert reply.heard("Sleep well.") == ("Sleep well.", True)


def test_pausing_a_sink_whose_speech_has_not_begun() -> None:
    clock, sink = started_sink()
    sink.play(np.ones(100, np.float32))
    sink.pause()  # at the very sample it was queued
    clock.t = 1.0
    sink.discard()  # ends the pause too
    sink.play(np.ones(50, np.float32))
    clock.t = 2.0
    assert sink.position() == 50


@pytest.mark.parametrize(("looped", "clean"), [
    ("Okay. Okay. Okay.", "Okay."),
    ("Hey, I just got home. That was a long day. Hey, I just got home. That was",
     "Hey, I just got home. That was a long day."),
    ("So I was thinking about. So I was thinking about. So", "So I was thinking about."),
    ("No. Yes. No.", "No. Yes. No."),
    ("Hi. Hi there.", "Hi. Hi there."),
])
def test_whisper_loops_are_cut(looped: str, clean: str) -> None:
    assert _unloop(looped) == clean


def test_word_error_rate() -> None:
    assert word_error_rate(["call my sister at six"], ["call my sister at 6"]) == 0
    assert word_error_rate(["I am here now"], ["I'm here"]) == pytest.approx(0.25)
    assert word_error_rate(["a b c d"], ["a x c"]) == pytest.approx(0.5)
