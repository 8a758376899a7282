"""Headless audio: a WAV file played into the session in real time, and os1's voice written
to a WAV file on the same timeline. `os1 voice --in/--out`, the tests and the benchmark use
these; they behave like a microphone and a speaker, clock and all, so what is measured on
files is what a person at a microphone would get."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np

from os1.voice.audio import FRAME, FRAME_S, RATE, rms

Clock = Callable[[], float]


class FileSource:
    """Frames of a recording, each delivered when its last sample would have been spoken.

    After the recording, silence follows until `close()` (a microphone in a quiet room), so
    the session can finish answering the last thing said. `say()` queues more speech, which
    is how the benchmark talks to the session turn by turn."""

    def __init__(self, samples: np.ndarray | None = None, clock: Clock = time.monotonic,
                 realtime: bool = True) -> None:
        self._pending = np.zeros(0, dtype=np.float32) if samples is None else \
            np.asarray(samples, dtype=np.float32)
        self._clock = clock
        self._realtime = realtime
        self._closed = False
        self.started_at: float | None = None
        self.frames_delivered = 0
        # Called with the start time: a FileSink starts its timeline here, so the output
        # file lines up with the input file sample for sample.
        self.on_start: Callable[[float], None] | None = None

    @property
    def exhausted(self) -> bool:
        """Everything queued has been delivered."""
        return len(self._pending) == 0

    def say(self, samples: np.ndarray) -> float:
        """Queue speech after what is queued; return the session time it will start at."""
        starts = self.frames_delivered * FRAME_S + len(self._pending) / RATE
        self._pending = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        return starts

    def close(self) -> None:
        self._closed = True

    async def frames(self) -> AsyncIterator[np.ndarray]:
        self.started_at = self._clock()
        if self.on_start is not None:
            self.on_start(self.started_at)
        while not self._closed:
            frame = self._pending[:FRAME]
            self._pending = self._pending[FRAME:]
            if len(frame) < FRAME:
                frame = np.concatenate([frame, np.zeros(FRAME - len(frame), np.float32)])
            if self._realtime:
                delay = self.started_at + (self.frames_delivered + 1) * FRAME_S - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            self.frames_delivered += 1
            yield frame


@dataclass
class _Queued:
    samples: np.ndarray
    start: int  # timeline position at which it starts (or started) to sound


@dataclass
class FileSink:
    """A speaker that plays into a timeline. Timeline position 0 is `start()`; `timeline()` is
    the finished recording, with silence between replies. `position()` counts samples of
    speech heard, as the AudioSink protocol says, not timeline positions."""

    rate: int = 22_050
    clock: Clock = time.monotonic
    _origin: float | None = None
    _queue: list[_Queued] = field(default_factory=list)
    _heard: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (start, samples)
    _paused_at: int | None = None
    pauses: list[int] = field(default_factory=list)  # timeline positions of each cut-off

    def start(self, origin: float | None = None) -> None:
        self._origin = self.clock() if origin is None else origin

    def now(self) -> int:
        """The timeline position of this moment."""
        if self._origin is None:
            self.start()
        assert self._origin is not None
        return int((self.clock() - self._origin) * self.rate)

    def _settle(self) -> int:
        """Move what has finished sounding from the queue to the timeline; return now."""
        now = self._paused_at if self._paused_at is not None else self.now()
        while self._queue and self._queue[0].start + len(self._queue[0].samples) <= now:
            item = self._queue.pop(0)
            self._heard.append((item.start, item.samples))
        return now

    def _sounding(self, now: int) -> int:
        """Samples of the queue's head that have sounded by `now`."""
        if not self._queue or self._queue[0].start >= now:
            return 0
        return now - self._queue[0].start

    def _heard_at(self, now: int) -> int:
        return sum(len(samples) for _, samples in self._heard) + self._sounding(now)

    def position(self) -> int:
        return self._heard_at(self._settle())

    def queued_until(self) -> int:
        now = self._settle()  # one reading of the clock for both parts
        return self._heard_at(now) + sum(len(item.samples) for item in self._queue) \
            - self._sounding(now)

    def play(self, samples: np.ndarray) -> None:
        now = self._settle()
        start = now
        if self._queue:
            last = self._queue[-1]
            start = max(now, last.start + len(last.samples))
        self._queue.append(_Queued(np.asarray(samples, dtype=np.float32), start))

    def pause(self) -> None:
        if self._paused_at is not None:
            return
        now = self._settle()
        self.pauses.append(now)
        # What was sounding is cut at `now`: its heard part goes to the timeline.
        cut = self._sounding(now)
        if cut:
            item = self._queue[0]
            self._heard.append((item.start, item.samples[:cut]))
            item.samples = item.samples[cut:]
        if self._queue:
            self._queue[0].start = now
        self._paused_at = now

    def resume(self) -> None:
        if self._paused_at is None:
            return
        shift = self.now() - self._paused_at
        for item in self._queue:
            item.start += shift
        self._paused_at = None

    def discard(self) -> None:
        now = self._settle()
        cut = self._sounding(now)
        if cut:
            item = self._queue[0]
            self._heard.append((item.start, item.samples[:cut]))
        self._queue.clear()
        self._paused_at = None

    def playing_level(self) -> float:
        """RMS of what sounded in the last 50 ms: the echo a microphone hears now."""
        if self._paused_at is not None:
            return 0.0
        return rms(self.recent(0.05))

    def _sounded(self, now: int) -> list[tuple[int, np.ndarray]]:
        """(start, samples) of everything that has sounded by `now`, oldest first."""
        pieces = list(self._heard)
        sounding = self._sounding(now)
        if sounding:
            pieces.append((self._queue[0].start, self._queue[0].samples[:sounding]))
        return pieces

    def recent(self, seconds: float) -> np.ndarray:
        """What sounded in the last ``seconds`` (silence where nothing did): what a
        microphone beside the speaker picks up, for echo tests."""
        now = self._settle()
        start = max(0, now - int(seconds * self.rate))
        out = np.zeros(now - start, dtype=np.float32)
        for begin, samples in self._sounded(now)[-4:]:
            lo, hi = max(begin, start), min(begin + len(samples), now)
            if hi > lo:
                out[lo - start:hi - start] += samples[lo - begin:hi - begin]
        return out

    def heard_segments(self) -> list[tuple[int, int]]:
        """(start, end) timeline positions of each stretch of os1's voice that sounded."""
        return [(start, start + len(samples))
                for start, samples in self._sounded(self._settle()) if len(samples)]

    def timeline(self) -> np.ndarray:
        """Everything that sounded, at its place; what never sounded is left out."""
        now = self._settle()
        pieces = self._sounded(now)
        out = np.zeros(max([now, *[s + len(a) for s, a in pieces]]), dtype=np.float32)
        for start, samples in pieces:
            out[start:start + len(samples)] += samples
        return out

