"""Sound as the voice session handles it: mono float32 at 16 kHz, in 32 ms frames.

Everything that comes in (a microphone, a WAV file, later a browser's frames) is turned into
this one shape at the edge, so the rest of the session never thinks about sample rates or
channels. Speech going out keeps the voice's own rate until the sink resamples it.
"""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import soxr

RATE = 16_000  # what VAD, Whisper and the prosody reader expect
FRAME = 512  # samples per frame: silero-vad's window at 16 kHz (32 ms)
FRAME_S = FRAME / RATE


class AudioFormatError(ValueError):
    """Audio os1 cannot read; the message says what to do instead."""


@dataclass(frozen=True)
class Clip:
    samples: np.ndarray  # float32, mono, −1 … 1
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of (n, channels) audio; pass mono through."""
    if samples.ndim == 2:
        return np.asarray(samples.mean(axis=1), dtype=np.float32)
    if samples.ndim != 1:
        raise AudioFormatError(f"audio must be 1-D or (samples, channels), not {samples.shape}")
    return np.asarray(samples, dtype=np.float32)


def resample(samples: np.ndarray, rate: int, to: int) -> np.ndarray:
    if rate == to or len(samples) == 0:
        return np.asarray(samples, dtype=np.float32)
    return np.asarray(soxr.resample(samples, rate, to), dtype=np.float32)


def to_session(samples: np.ndarray, rate: int) -> np.ndarray:
    """Any mono or multi-channel audio at any rate → the session's mono 16 kHz float32."""
    if rate <= 0:
        raise AudioFormatError(f"a sample rate must be positive, not {rate}")
    return resample(to_mono(samples), rate, RATE)


_PCM = {1: (np.uint8, 128.0, 128.0), 2: (np.int16, 0.0, 32768.0), 4: (np.int32, 0.0, 2.0**31)}


def read_wav(path: Path) -> Clip:
    """A PCM WAV file (8, 16, 24 or 32 bit; any rate; any channels) as float32 mono."""
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width, rate = (handle.getnchannels(), handle.getsampwidth(),
                                     handle.getframerate())
            raw = handle.readframes(handle.getnframes())
    except FileNotFoundError:
        raise AudioFormatError(f"{path} does not exist") from None
    except (wave.Error, EOFError) as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise AudioFormatError(
            f"{path} is not a PCM WAV file{detail}; convert it first, e.g. "
            f"`ffmpeg -i {path.name} -ar 16000 -ac 1 out.wav`") from None
    if width == 3:  # 24-bit: widen to 32 by putting each sample in the top three bytes
        data = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        padded = np.zeros((len(data), 4), dtype=np.uint8)
        padded[:, 1:] = data
        values = padded.view("<i4").reshape(-1).astype(np.float32) / 2.0**31
    elif width in _PCM:
        dtype, offset, scale = _PCM[width]
        values = (np.frombuffer(raw, dtype=dtype).astype(np.float32) - offset) / scale
    else:
        raise AudioFormatError(f"{path}: {8 * width}-bit samples are not supported")
    if channels > 1:
        values = values[: len(values) // channels * channels].reshape(-1, channels)
    return Clip(to_mono(values), rate)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """16-bit PCM mono; written to a temporary name first so a crash leaves no half file."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with wave.open(str(partial), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    partial.replace(path)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if len(samples) else 0.0


class AudioSource(Protocol):
    """Where the user's voice comes from: a microphone, a file, a browser socket."""

    def frames(self) -> AsyncIterator[np.ndarray]:
        """FRAME-sample float32 frames at RATE, as they arrive (a microphone: in real time)."""
        ...


class AudioSink(Protocol):
    """Where os1's voice goes. Positions count samples at the sink's rate since it opened."""

    rate: int

    def play(self, samples: np.ndarray) -> None:
        """Queue speech (float32 at ``rate``) after whatever is queued; returns at once."""

    def position(self) -> int:
        """Samples heard so far: played ones, not merely queued ones."""

    def queued_until(self) -> int:
        """The position at which everything queued so far will have been heard."""

    def pause(self) -> None:
        """Stop sounding now (barge-in); queued speech waits for `resume` or `discard`."""

    def resume(self) -> None: ...

    def discard(self) -> None:
        """Drop whatever was queued and not yet heard, and end a pause."""

    def playing_level(self) -> float:
        """RMS of what is sounding right now (0 when silent): the echo gate's reference."""

