"""The microphone and the speakers, through PortAudio (the `sounddevice` package).

PortAudio calls us from its own audio thread, once per block, and that thread must never
wait: a late callback is a click or a gap. So the callbacks do as little as possible and the
real work lives in two plain classes they call, which the tests drive with numpy arrays:

- `Reframer`: whatever the microphone gives (any rate, any channels, any block size) →
  the session's exact FRAME-sample mono frames at RATE.
- `PlaybackQueue`: speech waiting to be heard, pause/discard, and how much of it the
  loudspeaker has sounded (`position()`, in samples of speech).

`BlockHandoff` carries microphone blocks from the audio thread to the event loop and turns
silence from a vanished device into `NoAudioDevice` instead of an endless wait.

`sounddevice` is imported only when a device is opened: it fails to import at all without
the PortAudio library, and os1 must run headless (WAV in, WAV out) without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import numpy as np
import soxr

from os1.system_packages import MissingSystemPackage, SystemPackage, ensure, library
from os1.voice.audio import FRAME, RATE, rms, to_mono

log = logging.getLogger(__name__)

PORTAUDIO = SystemPackage("libportaudio2", "Talking through the microphone and speakers",
                          library("portaudio"))

HEADLESS = "or run headless: os1 voice --in talk.wav --out reply.wav"
STALL_S = 2.0  # a live device calls back every few ms; two silent seconds mean it is gone

Kind = Literal["input", "output"]
_WHAT: dict[Kind, str] = {"input": "microphone", "output": "speaker"}


class NoAudioDevice(RuntimeError):
    """No usable microphone or speaker, or it went away; the message says what to do."""


def open_sounddevice() -> Any:
    """The `sounddevice` module, with PortAudio installed first if it is missing.

    Typed `Any`: sounddevice ships no type information, and importing it through importlib
    keeps its untyped surface inside this module.
    """
    ensure(PORTAUDIO)
    try:
        return importlib.import_module("sounddevice")
    except OSError as exc:  # the library is on disk (find_library saw it) but will not load
        raise MissingSystemPackage(
            f"PortAudio is installed but could not be loaded ({exc}). Reinstall it with "
            f"`sudo apt-get install --reinstall {PORTAUDIO.debian}`, {HEADLESS}.") from exc


# ---- choosing a device -----------------------------------------------------------------------

def _none_found(kind: Kind) -> NoAudioDevice:
    if kind == "input":
        return NoAudioDevice(
            "No microphone found. Plug one in (and check that it is not muted or disabled "
            f"in your system's sound settings), {HEADLESS}")
    return NoAudioDevice(
        f"No speaker found. Plug in speakers or headphones, {HEADLESS}")


def pick_device(sd: Any, device: int | str | None, kind: Kind) -> dict[str, Any]:
    """The device to open: the one named (index or part of its name), else the default.

    Raises NoAudioDevice when there is none, rather than letting PortAudio's "Error querying
    device -1" reach the user.
    """
    channels = f"max_{kind}_channels"
    candidates = [dict(d) for d in sd.query_devices() if d[channels] > 0]
    if not candidates:
        raise _none_found(kind)
    if isinstance(device, str) and device.strip().isdigit():
        device = int(device)  # "3" from the command line is device 3, not a name containing 3
    if device is not None:
        try:
            return dict(sd.query_devices(device, kind=kind))
        except (ValueError, sd.PortAudioError) as exc:
            raise NoAudioDevice(
                f"No {_WHAT[kind]} matches {device!r} ({exc}). `os1 voice --devices` lists "
                "the ones this machine has.") from None
    try:
        return dict(sd.query_devices(kind=kind))
    except (ValueError, sd.PortAudioError):
        # Devices exist but none is the system default (common on bare ALSA): take the first.
        return candidates[0]


def stream_settings(sd: Any, info: dict[str, Any], kind: Kind,
                    rates: Sequence[int]) -> tuple[int, int]:
    """The (rate, channels) to open with: the preferred rates first, then the device's own.

    Mono first; then stereo or whatever the device insists on (raw ALSA `hw:` devices often
    accept only their native channel count); the extra channels are averaged or duplicated.
    """
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    most = int(info[f"max_{kind}_channels"])
    tried = list(dict.fromkeys([*rates, int(info["default_samplerate"])]))
    for rate in tried:
        for channels in dict.fromkeys([1, min(most, 2), most]):
            try:
                check(device=info["index"], samplerate=rate, channels=channels,
                      dtype="float32")
            except (ValueError, sd.PortAudioError):
                continue
            return rate, channels
    raise NoAudioDevice(
        f"The {_WHAT[kind]} {info['name']!r} accepts no usable format (tried "
        f"{', '.join(map(str, tried))} Hz). "
        f"Pick another device (`os1 voice --devices` lists them), {HEADLESS}")


def list_devices() -> str:
    """A short listing for `os1 voice --devices`; `*` marks the system default."""
    sd = open_sounddevice()
    devices = [dict(d) for d in sd.query_devices()]
    if not devices:
        return ("No microphones or speakers found (PortAudio sees no sound devices). "
                f"Plug some in, {HEADLESS}")
    defaults = list(sd.default.device)
    lines = []
    for kind, title in (("input", "Microphones"), ("output", "Speakers")):
        default = defaults[0 if kind == "input" else 1]
        rows = [d for d in devices if d[f"max_{kind}_channels"] > 0]
        lines.append(f"{title}:")
        lines.extend(
            f"  {'*' if d['index'] == default else ' '} {d['index']:>2}  {d['name']}  "
            f"({d[f'max_{kind}_channels']} ch, {int(d['default_samplerate'])} Hz)"
            for d in rows)
        if not rows:
            lines.append("    (none)")
    return "\n".join(lines)


# ---- the microphone --------------------------------------------------------------------------

class Reframer:
    """Device blocks of any size, rate and channel count → FRAME-sample mono frames at RATE.

    Resampling is a streaming soxr resampler, not `audio.resample` per block: resampling each
    block on its own pads both its edges, which puts a click at every block boundary (every
    32 ms) that VAD and Whisper would hear. The stream keeps its filter state between blocks.
    """

    def __init__(self, rate: int, frame: int = FRAME) -> None:
        self.rate = rate
        self._frame = frame
        self._resampler = (None if rate == RATE else
                           soxr.ResampleStream(rate, RATE, 1, dtype="float32"))
        self._pending = np.zeros(0, dtype=np.float32)

    def push(self, block: np.ndarray) -> list[np.ndarray]:
        """The whole frames now available; the remainder waits for the next block."""
        mono = to_mono(block)
        if self._resampler is not None:
            mono = np.asarray(self._resampler.resample_chunk(mono), dtype=np.float32)
        buffer = np.concatenate([self._pending, mono]) if len(self._pending) else mono
        whole = len(buffer) // self._frame
        frames = [buffer[i * self._frame:(i + 1) * self._frame].copy() for i in range(whole)]
        self._pending = buffer[whole * self._frame:].copy()
        return frames


class BlockHandoff:
    """Microphone blocks from PortAudio's thread to the event loop, with a dead-device check.

    `deliver` and `fail` may be called from any thread: `call_soon_threadsafe` is the one
    event-loop method that is safe there. `blocks()` raises NoAudioDevice when the device
    reports an error or when nothing arrives for `stall_s` (an unplugged USB microphone often
    simply stops calling back, and the session must not wait forever).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, stall_s: float = STALL_S,
                 max_blocks: int = 500, what: str = "microphone") -> None:
        self._loop = loop
        self._stall_s = stall_s
        self._max_blocks = max_blocks  # ~15 s of 32 ms blocks: bounds memory if the loop lags
        self._what = what
        self._queue: deque[np.ndarray | BaseException] = deque()
        self._ready = asyncio.Event()
        self.dropped = 0

    def deliver(self, block: np.ndarray) -> None:
        self._call(self._put, block)

    def fail(self, error: BaseException) -> None:
        self._call(self._put, error)

    def _call(self, function: Any, item: np.ndarray | BaseException) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is listening
            self._loop.call_soon_threadsafe(function, item)

    def _put(self, item: np.ndarray | BaseException) -> None:
        if (len(self._queue) >= self._max_blocks and isinstance(item, np.ndarray)
                and isinstance(self._queue[0], np.ndarray)):
            # The session has fallen far behind; keep the newest sound, it is what matters.
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1:
                log.warning("the %s is ahead of os1 by %d blocks; dropping the oldest",
                            self._what, self._max_blocks)
        self._queue.append(item)
        self._ready.set()

    def stopped(self, cause: str) -> NoAudioDevice:
        return NoAudioDevice(
            f"The {self._what} stopped ({cause}; unplugged?). Plug it back in and start "
            f"os1 voice again, {HEADLESS}")

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        while True:
            if not self._queue:
                self._ready.clear()
                try:
                    await asyncio.wait_for(self._ready.wait(), self._stall_s)
                except TimeoutError:
                    raise self.stopped(f"no sound for {self._stall_s:g} s") from None
            item = self._queue.popleft()
            if isinstance(item, BaseException):
                raise self.stopped(str(item) or type(item).__name__) from item
            yield item


class MicrophoneSource:
    """An `AudioSource` on a PortAudio input device.

    The device is chosen and checked here, so a missing microphone is reported when the
    session starts, not at its first frame. The stream itself opens when `frames()` is
    iterated and closes when the iteration ends.
    """

    def __init__(self, device: int | str | None = None, *, stall_s: float = STALL_S) -> None:
        self._sd = open_sounddevice()
        self._info = pick_device(self._sd, device, "input")
        # The device's own rate; frames() always yields RATE.
        self.device_rate, self._channels = stream_settings(self._sd, self._info, "input",
                                                           [RATE])
        self._stall_s = stall_s
        self.name = str(self._info["name"])

    async def frames(self) -> AsyncIterator[np.ndarray]:
        sd = self._sd
        handoff = BlockHandoff(asyncio.get_running_loop(), stall_s=self._stall_s)
        reframer = Reframer(self.device_rate)
        closing = threading.Event()

        def callback(indata: np.ndarray, frames: int, when: Any, status: Any) -> None:
            if status.input_overflow:
                log.debug("microphone overflow: a block was lost")
            handoff.deliver(indata.copy())  # PortAudio reuses `indata` after we return

        def finished() -> None:
            if not closing.is_set():
                handoff.fail(RuntimeError("the audio stream ended"))

        try:
            stream = sd.InputStream(
                device=self._info["index"], samplerate=self.device_rate,
                channels=self._channels, dtype="float32",
                blocksize=round(FRAME * self.device_rate / RATE),
                callback=callback, finished_callback=finished)
            stream.start()
        except sd.PortAudioError as exc:
            raise NoAudioDevice(
                f"The microphone {self.name!r} could not be opened ({exc}). Another program "
                f"may be using it; close that, or pick another (`os1 voice --devices`), "
                f"{HEADLESS}") from None
        try:
            async for block in handoff.blocks():
                for frame in reframer.push(block):
                    yield frame
        finally:
            closing.set()
            try:
                stream.abort()
                stream.close()
            except sd.PortAudioError:  # already gone with the device
                pass


# ---- the speakers ----------------------------------------------------------------------------

class PlaybackQueue:
    """Speech waiting to be heard, and how much of it has been.

    Positions count samples of speech, not of the device's clock: silence while idle or
    paused is not counted, so a reply's pieces keep their positions across a pause (a
    "mhm" that resumed os1), as the AudioSink protocol asks. What has been handed is not
    yet heard: the device buffers `latency` samples of its clock ahead of the loudspeaker,
    so a sample of speech is heard `latency` samples of the clock after it was handed.

    `pull` runs on the audio thread and the rest on the caller's; one lock covers both, held
    only for list bookkeeping and copies of at most one block.
    """

    def __init__(self, latency: int = 0) -> None:
        self.latency = latency
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self._offset = 0  # samples of the first chunk already handed
        self._waiting = 0  # queued samples not yet handed
        self._handed = 0  # the device's clock: every sample handed, silence included
        self._spoken = 0  # samples of speech handed
        self._paused = False
        # (clock at block start, speech before it, speech in it, rms) of blocks handed but
        # perhaps still sounding.
        self._blocks: deque[tuple[int, int, int, float]] = deque()

    def push(self, samples: np.ndarray) -> None:
        chunk = np.ascontiguousarray(to_mono(samples), dtype=np.float32)
        if not len(chunk):
            return
        with self._lock:
            self._chunks.append(chunk)
            self._waiting += len(chunk)

    def pull(self, count: int) -> np.ndarray:
        """The next `count` samples for the device: queued speech, else silence."""
        out = np.zeros(count, dtype=np.float32)
        with self._lock:
            filled = 0
            while not self._paused and filled < count and self._chunks:
                chunk = self._chunks[0]
                take = min(count - filled, len(chunk) - self._offset)
                out[filled:filled + take] = chunk[self._offset:self._offset + take]
                filled += take
                self._offset += take
                if self._offset == len(chunk):
                    self._chunks.popleft()
                    self._offset = 0
            self._waiting -= filled
            self._blocks.append((self._handed, self._spoken, filled, rms(out)))
            self._handed += count
            self._spoken += filled
            # Keep only blocks that may still be sounding, plus the latest.
            heard = self._handed - self.latency
            while len(self._blocks) > 1 and self._blocks[1][0] <= heard:
                self._blocks.popleft()
        return out

    def position(self) -> int:
        with self._lock:
            heard = self._handed - self.latency  # the device clock at the loudspeaker
            for start, before, speech, _ in reversed(self._blocks):
                if start <= heard:
                    return before + min(speech, heard - start)
            return 0

    def queued_until(self) -> int:
        with self._lock:
            return self._spoken + self._waiting

    def waiting(self) -> int:
        """Queued samples not yet handed to the device (0 once everything is out)."""
        with self._lock:
            return self._waiting

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    def discard(self) -> None:
        """Drop what waits, and end a pause: the next speech plays at once."""
        with self._lock:
            self._chunks.clear()
            self._offset = 0
            self._waiting = 0
            self._paused = False

    def playing_level(self) -> float:
        """RMS of the block at the loudspeaker now (handed `latency` samples ago)."""
        with self._lock:
            heard = self._handed - self.latency
            for start, _, _, level in reversed(self._blocks):
                if start <= heard:
                    return level if heard < self._handed else 0.0
            return 0.0


class SpeakerSink:
    """An `AudioSink` on a PortAudio output device.

    `rate` is 22050 Hz (Piper's voices) or 16 kHz when the device accepts it, else the
    device's own rate; callers resample their speech to `rate` before `play`.

    Blocks are at most 20 ms and the device buffer is asked for 100 ms, so `pause()` (which
    takes effect at the next callback) is silent within ~120 ms of a barge-in, while a busy
    2-core machine (the model generating) still has 100 ms of slack before an underrun.

    If the device vanishes, `play` and `position` raise NoAudioDevice rather than letting the
    session wait for speech that will never be heard.
    """

    def __init__(self, device: int | str | None = None, *,
                 rates: Sequence[int] = (22050, RATE), latency_s: float = 0.1,
                 stall_s: float = STALL_S) -> None:
        sd = self._sd = open_sounddevice()
        self._info = pick_device(sd, device, "output")
        self.name = str(self._info["name"])
        self.rate, channels = stream_settings(sd, self._info, "output", rates)
        self._queue = PlaybackQueue()
        self._stall_s = stall_s
        self._last_callback = time.monotonic()
        self._ended: str | None = None
        self._closed = False
        try:
            self._stream = sd.OutputStream(
                device=self._info["index"], samplerate=self.rate, channels=channels,
                dtype="float32", blocksize=self.rate // 50, latency=latency_s,
                callback=self._callback, finished_callback=self._finished)
            self._stream.start()
        except sd.PortAudioError as exc:
            raise NoAudioDevice(
                f"The speaker {self.name!r} could not be opened ({exc}). Another program may "
                f"be using it; close that, or pick another (`os1 voice --devices`), "
                f"{HEADLESS}") from None
        # PortAudio's estimate of how long a handed sample takes to reach the loudspeaker.
        self._queue.latency = round(float(self._stream.latency or 0.0) * self.rate)

    def _callback(self, outdata: np.ndarray, frames: int, when: Any, status: Any) -> None:
        if status.output_underflow:
            log.debug("speaker underflow: the device ran dry for a moment")
        # (n, 1) broadcasts to any channel count: mono speech on every channel.
        outdata[:] = self._queue.pull(frames)[:, None]
        self._last_callback = time.monotonic()

    def _finished(self) -> None:
        if not self._closed:
            self._ended = "the audio stream ended"

    def _check(self) -> None:
        if self._closed:
            return
        silent = time.monotonic() - self._last_callback
        cause = self._ended or (f"no callback for {silent:.0f} s"
                                if silent > self._stall_s else None)
        if cause:
            raise NoAudioDevice(
                f"The speaker stopped ({cause}; unplugged?). Plug it back in and start os1 "
                f"voice again, {HEADLESS}")

    def play(self, samples: np.ndarray) -> None:
        self._check()
        self._queue.push(samples)

    def position(self) -> int:
        self._check()
        return self._queue.position()

    def queued_until(self) -> int:
        return self._queue.queued_until()

    def pause(self) -> None:
        self._queue.pause()

    def resume(self) -> None:
        self._queue.resume()

    def discard(self) -> None:
        self._queue.discard()

    def playing_level(self) -> float:
        return self._queue.playing_level()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._stream.abort()
            self._stream.close()
        except self._sd.PortAudioError:
            pass
