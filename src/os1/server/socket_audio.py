"""A browser's microphone and speaker as the voice session's `AudioSource` and `AudioSink`.

Nothing here knows about FastAPI: the socket handler feeds `SocketSource` the binary frames
it receives, and `SocketSink` hands what must go out (audio as bytes, playback commands as
dicts) to a ``send`` callable that queues it — so both are unit-tested with a list.

    browser ── int16 PCM 16 kHz ──► SocketSource.feed ─► 512-sample float32 frames ─► session
    session ─► SocketSink.play ─► int16 PCM at the voice's rate ──► browser (queues, plays)
    browser ── {"type": "played", "samples": N} ──► SocketSink.report (what was heard)

The session's clocks (VAD, end of turn, barge-in, check-ins) run on frames, so a client that
stops sending (released push-to-talk, a muted tab) must not stop time: after `gap_s` without
audio the source fills in silence at real-time pace, like a microphone in a quiet room.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from os1.server.protocol import MAX_AUDIO_FRAME
from os1.voice.audio import FRAME, FRAME_S, RATE, rms

Clock = Callable[[], float]
Outgoing = bytes | dict[str, Any]

_INT16 = np.dtype("<i2")


class AudioFrameError(ValueError):
    """A binary frame that is not int16 PCM; the message says what the client should send."""


class AudioTooLarge(AudioFrameError):
    """A frame over MAX_AUDIO_FRAME: the socket is closed with 1009."""


class AudioFlood(AudioFrameError):
    """Audio arriving much faster than anyone can speak: the socket is closed with 1008."""


def pcm_to_float(data: bytes) -> np.ndarray:
    """Little-endian int16 mono PCM → float32 in −1 … 1."""
    if len(data) > MAX_AUDIO_FRAME:
        raise AudioTooLarge(f"an audio frame may be at most {MAX_AUDIO_FRAME} bytes, not "
                            f"{len(data)}; send the microphone in chunks of 20–100 ms")
    if len(data) % 2:
        raise AudioFrameError(f"an audio frame is 16-bit samples, so an even number of bytes, "
                              f"not {len(data)}; send little-endian int16 mono PCM at {RATE} Hz")
    return np.frombuffer(data, dtype=_INT16).astype(np.float32) / 32768.0


def float_to_pcm(samples: np.ndarray) -> bytes:
    pcm: bytes = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(_INT16).tobytes()
    return pcm


class SocketSource:
    """The browser's microphone: `feed` it binary frames; `frames()` yields 32 ms frames.

    ``max_ahead_s``: how much audio may arrive ahead of the wall clock (network bursts, a
    worklet's start-up buffer, a moment the server was busy) before `feed` raises
    `AudioFlood`: a token bucket of seconds of audio, refilled in real time. Nobody speaks
    faster than real time, and a session fed hours of audio at once would queue
    transcription work for everyone on the server. Clients send audio once they have had
    ``audio_format`` (before it, the server may still be loading the voice).
    """

    def __init__(self, *, gap_s: float = 0.25, max_ahead_s: float = 5.0,
                 clock: Clock = time.monotonic) -> None:
        self._gap_s = gap_s
        self._max_ahead_s = max_ahead_s
        self._clock = clock
        self._partial = np.zeros(0, dtype=np.float32)
        self._frames: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self._credit_s = max_ahead_s  # seconds of audio that may arrive now
        self._credit_at = clock()
        self.samples_received = 0
        # Push-to-talk released: what arrives counts as silence, and when nothing arrives
        # silence follows at once (a page sends nothing while the button is up; releasing it
        # is the end of what was said, so the session should hear that now, not after gap_s).
        self.muted = False
        self.frames_filled = 0  # silent frames made up while the client sent nothing
        self._closed = False

    def feed(self, data: bytes) -> None:
        """Take one binary frame (any whole number of samples up to MAX_AUDIO_FRAME)."""
        samples = pcm_to_float(data)
        if self.muted:
            # Decided as it arrives, not when the session reads it: a session running behind
            # must not hear what was said before the button went down.
            samples = np.zeros_like(samples)
        if self._closed or not len(samples):
            return
        now = self._clock()
        self._credit_s = min(self._max_ahead_s, self._credit_s + now - self._credit_at)
        self._credit_at = now
        self._credit_s -= len(samples) / RATE
        if self._credit_s < 0:
            raise AudioFlood(f"audio is arriving faster than real time (over "
                             f"{self._max_ahead_s:g} s ahead); stream the microphone as it "
                             f"records, {RATE} samples a second")
        self.samples_received += len(samples)
        # Frames are 512 samples; a client's chunks are whatever its audio stack gives, so
        # the remainder waits for the next chunk.
        pending = np.concatenate([self._partial, samples]) if len(self._partial) else samples
        whole = len(pending) // FRAME * FRAME
        for start in range(0, whole, FRAME):
            self._frames.put_nowait(pending[start:start + FRAME])
        self._partial = pending[whole:].copy()

    def close(self) -> None:
        """The socket is gone: `frames()` ends once what was received has been yielded."""
        if not self._closed:
            self._closed = True
            self._frames.put_nowait(None)

    async def frames(self) -> AsyncIterator[np.ndarray]:
        last = self._clock()  # when the timeline last advanced
        filling = False
        while True:
            try:
                wait = FRAME_S if filling or self.muted else self._gap_s
                frame = await asyncio.wait_for(self._frames.get(), wait)
            except TimeoutError:
                # Nothing came: silence for the time that passed, so turn-taking goes on.
                now = self._clock()
                missing = max(1, int((now - last) / FRAME_S))
                last += missing * FRAME_S
                filling = True
                for _ in range(missing):
                    self.frames_filled += 1
                    yield np.zeros(FRAME, dtype=np.float32)
                continue
            if frame is None:
                return
            last, filling = self._clock(), False
            yield frame


class SocketSink:
    """The browser's speaker. Audio is sent as soon as it is queued (the page plays it in
    order); where the page is in it comes from its ``played`` reports, and between reports
    from the wall clock since the queued audio began to play.

    Positions are the AudioSink protocol's: samples heard (at ``rate``) since the socket
    opened. The page's reports are offsets in the stream of samples it was sent — played, or
    dropped on a discard — which needs no bookkeeping on the page: ``received − queued``.
    Here that stream offset is ``consumed``; ``dropped`` is what discards threw away unheard;
    position = consumed − dropped.
    """

    def __init__(self, rate: int, send: Callable[[Outgoing], None], *,
                 clock: Clock = time.monotonic, chunk: int = 4096) -> None:
        self.rate = rate
        self._send = send
        self._clock = clock
        self._chunk = chunk
        self._sent = 0  # stream offset: every sample sent
        self._consumed = 0  # stream offset the page had reached at `_anchor`
        self._anchor = clock()
        self._dropped = 0
        self._floor = 0  # the stream offset of the last discard: older reports are stale
        self._paused = False
        # What was sent and has not sounded long ago: (stream offset, samples), for the level.
        self._recent: deque[tuple[int, np.ndarray]] = deque()

    # -- where the page is -------------------------------------------------------------

    def _consumed_now(self, now: float) -> int:
        if self._paused:
            return self._consumed
        return min(self._sent, self._consumed + round((now - self._anchor) * self.rate))

    def _settle(self) -> None:
        now = self._clock()
        self._consumed = self._consumed_now(now)
        self._anchor = now

    def report(self, samples: int) -> None:
        """The page says it has consumed ``samples`` of the stream (played or dropped)."""
        if samples < self._floor:
            return  # from before the last discard reached the page
        self._consumed = min(samples, self._sent)
        self._anchor = self._clock()

    def position(self) -> int:
        return self._consumed_now(self._clock()) - self._dropped

    def client_gone(self, last_heard_from: float) -> None:
        """The page is gone: it played nothing after ``last_heard_from`` (the clock time of
        its last message). The position stops there, however long the session then takes to
        notice and store the reply (seconds, on a busy machine), so nothing unheard is kept
        as heard."""
        at = self._consumed_now(min(last_heard_from, self._clock()))
        self._consumed = max(min(self._consumed, self._sent), at)
        self._anchor = self._clock()
        self._paused = True

    def queued_until(self) -> int:
        return self._sent - self._dropped

    # -- playing -----------------------------------------------------------------------

    def play(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32)
        if not len(samples):
            return
        self._settle()  # the queue may have run dry: new audio starts sounding now
        for start in range(0, len(samples), self._chunk):
            self._send(float_to_pcm(samples[start:start + self._chunk]))
        self._recent.append((self._sent, samples))
        self._sent += len(samples)
        self._trim()

    def pause(self) -> None:
        if self._paused:
            return
        self._settle()
        self._paused = True
        self._send({"type": "playback", "action": "pause"})

    def resume(self) -> None:
        if not self._paused:
            return
        self._anchor = self._clock()
        self._paused = False
        self._send({"type": "playback", "action": "resume"})

    def discard(self) -> None:
        self._settle()
        self._dropped += self._sent - self._consumed
        self._consumed = self._floor = self._sent
        self._paused = False
        self._recent.clear()
        self._send({"type": "playback", "action": "discard"})

    def playing_level(self) -> float:
        """RMS of the last 50 ms that sounded (0 while paused or with nothing playing)."""
        now = self._consumed_now(self._clock())
        if self._paused or now >= self._sent:
            return 0.0
        start = max(0, now - self.rate // 20)
        parts = [samples[max(start, offset) - offset:now - offset]
                 for offset, samples in self._recent
                 if offset < now and offset + len(samples) > start]
        return rms(np.concatenate(parts)) if parts else 0.0

    def _trim(self) -> None:
        """Keep only audio that has not finished sounding (and a little before it)."""
        keep_from = self._consumed_now(self._clock()) - self.rate // 10
        while self._recent and self._recent[0][0] + len(self._recent[0][1]) < keep_from:
            self._recent.popleft()
