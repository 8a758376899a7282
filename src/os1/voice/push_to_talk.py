"""Push-to-talk: the microphone counts only while the user says so.

For noisy rooms, shared spaces, or speakers loud enough to fool the echo gate. While talking
is off the source still yields a frame for every frame the microphone gives, only silent:
the session's clocks (VAD timing, turn-taking, playback) run on frames, and a source that
went quiet would stall them. Turning talk off mid-sentence therefore reads to VAD as the end
of speech, which is what releasing the button means.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import TextIO

import numpy as np

from os1.voice.audio import AudioSource


class PushToTalk:
    """An `AudioSource` that passes `source`'s frames while talking is on, silence otherwise."""

    def __init__(self, source: AudioSource, *, talking: bool = False) -> None:
        self._source = source
        self._talking = talking

    @property
    def talking(self) -> bool:
        return self._talking

    def press(self) -> None:
        self._talking = True

    def release(self) -> None:
        self._talking = False

    def toggle(self) -> bool:
        """Flip talking on or off; returns the new state."""
        self._talking = not self._talking
        return self._talking

    async def frames(self) -> AsyncIterator[np.ndarray]:
        async for frame in self._source.frames():
            # The state is read per frame, so a press or release takes effect within 32 ms.
            yield frame if self._talking else np.zeros_like(frame)


async def toggle_on_enter(ptt: PushToTalk, stream: TextIO = sys.stdin,
                          on_toggle: Callable[[bool], None] | None = None) -> None:
    """Toggle `ptt` on each line (Enter) read from `stream`; return at end of input.

    The lines are read on a daemon thread of our own, not `asyncio.to_thread`: a read that
    blocks on the terminal cannot be cancelled, and the default executor would make the
    program wait for one more Enter before it could exit. `on_toggle` is told the new state
    (the terminal shows "listening…" / "paused").
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        while True:
            line = stream.readline()
            try:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            except RuntimeError:  # the loop is gone: nobody to tell
                return
            if not line:
                return

    threading.Thread(target=read, name="os1-push-to-talk", daemon=True).start()
    while await lines.get():
        talking = ptt.toggle()
        if on_toggle is not None:
            on_toggle(talking)
