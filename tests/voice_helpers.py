"""Speech for voice tests, synthesised with the real Piper voice and resampled to 16 kHz."""

from __future__ import annotations

import functools

import numpy as np

from os1.voice.audio import RATE, resample
from os1.voice.tts import PiperSpeech, Prosody


@functools.cache
def _speaker() -> PiperSpeech:
    return PiperSpeech()


@functools.cache
def _said(text: str) -> np.ndarray:
    voice = _speaker()
    audio = np.concatenate(list(voice.speak(text, Prosody(rate=0.95))))
    out = resample(audio, voice.sample_rate, RATE) * 0.8
    out.setflags(write=False)
    return out


def said(text: str, before_s: float = 0.0, after_s: float = 0.0) -> np.ndarray:
    """``text`` spoken by a person, with silence around it (a fresh, writable array)."""
    return np.concatenate([np.zeros(int(before_s * RATE), np.float32), _said(text),
                           np.zeros(int(after_s * RATE), np.float32)])
