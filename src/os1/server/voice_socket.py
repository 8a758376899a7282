"""WebSocket /api/voice: the browser's microphone in, os1's voice out, one duplex session.

The browser is one more `AudioSource`/`AudioSink` pair (socket_audio.py) for the same
`VoiceSession` that `os1 voice` runs on a microphone: turn-taking, barge-in and "store what
was heard" are the session's, not this module's. This module only carries frames:

    client → server  binary: int16 LE mono PCM at 16 kHz, any length up to MAX_AUDIO_FRAME
                     {"type": "mode", "mode": "hands_free" | "push_to_talk"}
                     {"type": "talk", "down": true | false}      (push-to-talk)
                     {"type": "played", "samples": N}  N = os1 audio received − still queued
                     {"type": "say", "text": "..."}              (typed, answered aloud)
    server → client  {"type": "audio_format", "rate": R} once, first
                     binary: int16 LE mono PCM of os1's voice at R
                     {"type": "playback", "action": "pause" | "resume" | "discard"}
                     the turn's events as on /api/chat (token, sentence, …, done)
                     the session's: greeted, said_first, user_said {text, timings}, speaking,
                     cut_off {stop_ms, resumed, sounding}, replied {text, interrupted,
                     timings}, ignored {text, why}, problem {message}
                     {"type": "error", "message": ...}  (a bad frame; the socket stays open
                     unless it is closed)
    close codes      4401 log in again · 1009 a frame too big · 1008 audio faster than real
                     time · 4409 voice opened in another window (that one has it now) ·
                     1013 the client stopped reading · 1011 the voice failed on the server

Send audio once ``audio_format`` has come (the voice may still be loading before it). A page
in push-to-talk may stop sending while the button is up: the server keeps time with silence.

Whisper and the voice are loaded once per server, on the first voice socket, and shared;
they are thread-safe and the session runs them in worker threads, so one user's
transcription or synthesis does not hold up the event loop for the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from os1.affect.engine import Audio
from os1.checkins.outreach import Outreach
from os1.companion import Companion, Delivery
from os1.config import Settings
from os1.events import Event, TurnError
from os1.persona import choices
from os1.server.auth import socket_token, socket_user, still_logged_in
from os1.server.limits import claim_turn, too_fast, turn_wait
from os1.server.protocol import MAX_TEXT_FRAME, event_json
from os1.server.routes import store_of
from os1.server.socket_audio import (
    AudioFlood,
    AudioFrameError,
    AudioTooLarge,
    Outgoing,
    SocketSink,
    SocketSource,
)
from os1.server.state import ServerState, VoiceRoom, socket_state
from os1.store.base import StorageError, User
from os1.system_packages import MissingSystemPackage
from os1.voice.session import TurnTimings, VoiceEvent, VoiceSession
from os1.voice.stt import SpeechToTextError, Transcriber, Transcript
from os1.voice.tts import SpeechError, SpeechVoice

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_TOO_BIG = 1009
CLOSE_POLICY = 1008
CLOSE_FAILED = 1011
CLOSE_TRY_LATER = 1013
CLOSE_ELSEWHERE = 4409
_FAILED = ("The voice stopped because of an error on the server (it has been logged); "
           "reconnect to talk again.")
_STORE_WAIT_S = 30.0  # a dropped socket: how long the reply in progress may take to store


# -- the voice models, once per server ---------------------------------------------------


@dataclass(frozen=True)
class VoiceModels:
    transcriber: Transcriber
    voice: SpeechVoice  # the one this user chose in the interview, else the server's


async def voice_models(room: VoiceRoom, settings: Settings, chosen: str | None) -> VoiceModels:
    """Whisper and the voice, loaded (and warmed) by the first voice socket that needs them;
    sockets that arrive while they load wait for the same load. Whisper is shared; each voice
    users chose is loaded once. A failed load is not kept: the next socket tries again (after
    the user installs what the message names). A chosen voice that cannot load gives way to
    the server's own (``settings.voice``), which must."""
    async with room.lock:
        if room.transcriber is None:
            transcriber = Transcriber()
            await asyncio.to_thread(transcriber.warm)  # ~1-2 s: off the event loop
            room.transcriber = transcriber
        if chosen and chosen != settings.voice:
            try:
                return VoiceModels(room.transcriber, await _voice(room, chosen))
            except Exception:
                log.exception("the chosen voice %r could not be loaded; using %r", chosen,
                              settings.voice)
        return VoiceModels(room.transcriber, await _voice(room, settings.voice))


async def _voice(room: VoiceRoom, name: str) -> SpeechVoice:
    voice = room.voices.get(name)
    if voice is None:
        from os1.voice.tts import load_voice

        voice = load_voice(name)
        await asyncio.to_thread(voice.warm)
        room.voices[name] = voice
    return voice


# -- the turn's own events, beside the session's ------------------------------------------


ANOTHER_WINDOW = "A reply is being written in another window; wait for it, then speak."


class _TurnTap:
    """The companion as the session sees it, except that every event of a turn is also sent
    to the page (the session consumes them itself and reports only its own), and a turn
    takes the user's place in ``running`` (the app's users with a reply under way, shared
    with /api/chat: one reply at a time per user, however many windows are open)."""

    def __init__(self, companion: Companion, emit: Callable[[Outgoing], None],
                 running: set[int], logged_in: Callable[[], Awaitable[bool]]) -> None:
        self._companion = companion
        self._emit = emit
        self._running = running
        self._logged_in = logged_in

    def __getattr__(self, name: str) -> Any:
        return getattr(self._companion, name)

    async def turn(self, user: User, text: str | bytes, audio: Audio | None = None,
                   delivery: Delivery | None = None) -> AsyncIterator[Event]:
        if not claim_turn(self._running, user.id):
            # The session reports it (a problem) and goes back to listening.
            yield TurnError("model", ANOTHER_WINDOW, kept=False)
            return
        if audio is not None and not len(audio.samples):
            audio = None  # typed words (say): no voice to read the mood from
        try:
            if not await self._logged_in():
                return  # the socket is closed with 4401; the session then ends
            async for event in self._companion.turn(user, text, audio, delivery):
                self._emit(event_json(event))
                yield event
        finally:
            self._running.discard(user.id)


def voice_event_json(event: VoiceEvent) -> dict[str, Any]:
    """A session event as {"type": snake_case, ...}; timings as milliseconds per stage
    (None where a stage did not happen: JSON has no NaN)."""
    body = event_json(event)
    timings = getattr(event, "timings", None)
    if isinstance(timings, TurnTimings):
        body["timings"] = {stage: None if math.isnan(ms) else ms
                           for stage, ms in timings.breakdown_ms().items()}
    return body


# -- one call -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class _Ended(Exception):
    """The receive loop is done: the client left, or was closed for a bad frame."""


class VoiceCall:
    """One socket's session: a receive loop feeding the source, a send loop draining what
    the session and the sink queue, and the session itself."""

    def __init__(self, websocket: WebSocket, state: ServerState, user: User,
                 models: VoiceModels, *, patience_s: float = 10.0) -> None:
        """``patience_s``: how long one frame may take to leave before the client is taken
        to have stopped reading (closed with 1013)."""
        self.websocket = websocket
        self.state = state
        self.user = user
        self.patience_s = patience_s
        self.outbox: asyncio.Queue[Outgoing | _Close | None] = asyncio.Queue()
        self.source = SocketSource()
        # Push-to-talk as `os1 voice --push-to-talk` has it: while released the microphone
        # counts as silence (frames still flow: the session's clocks run on them).
        self.push_to_talk = False  # hands-free until told otherwise
        self.sink = SocketSink(models.voice.sample_rate, self.outbox.put_nowait)
        token = socket_token(websocket)  # the session it opened with, checked at each turn
        tap = _TurnTap(state.companion, self.outbox.put_nowait,
                       state.turns_running,
                       lambda: still_logged_in(websocket, state.accounts, token))
        self.session = VoiceSession(
            cast(Companion, tap), user, models.transcriber, models.voice, self.source, self.sink,
            on_event=lambda event: self.outbox.put_nowait(voice_event_json(event)),
            outreach=(_said_first(state.outreach, user) if state.outreach is not None
                      else None))

    def hang_up(self, code: int, reason: str, message: str | None = None) -> None:
        """Say why (when there is something to say) and close the socket."""
        if message:
            self.outbox.put_nowait({"type": "error", "message": message})
        self.outbox.put_nowait(_Close(code, reason))

    async def run(self) -> None:
        self.outbox.put_nowait({"type": "audio_format", "rate": self.sink.rate})
        sender = asyncio.create_task(self._send_all(), name="sender")
        talking = asyncio.create_task(self.session.run(), name="session")
        receiver = asyncio.create_task(self._receive_all(), name="receiver")
        try:
            done, _ = await asyncio.wait({sender, talking, receiver},
                                         return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = None if task.cancelled() else task.exception()
                if exc is not None:
                    log.error("a voice socket's %s failed", task.get_name(), exc_info=exc)
                    self.hang_up(CLOSE_FAILED, "voice failed", _FAILED)
        finally:
            # The client is gone (or must go): the session ends, and the reply in progress is
            # stored as far as it was heard (VoiceSession.run's own ending does that).
            self.source.close()
            self.session.stop()
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(talking, _STORE_WAIT_S)
            self.outbox.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(sender, 5.0)
            for task in (receiver, sender):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _send_all(self) -> None:
        while True:
            item = await self.outbox.get()
            if item is None:
                return
            if isinstance(item, _Close):
                with contextlib.suppress(Exception):
                    await self.websocket.close(code=item.code, reason=item.reason)
                return
            data = item if isinstance(item, bytes) else json.dumps(item, allow_nan=False)
            try:
                await asyncio.wait_for(self._send(data), self.patience_s)
            except TimeoutError:
                # A client that stopped reading holds up only itself: the session ends (the
                # reply stored as heard) rather than queueing its voice without end.
                log.info("closing a voice socket that stopped reading")
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.websocket.close(
                        CLOSE_TRY_LATER, "You fell behind; reconnect to talk."), 2.0)
                return

    async def _send(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            await self.websocket.send_bytes(data)
        else:
            await self.websocket.send_text(data)

    async def _receive_all(self) -> None:
        last = time.monotonic()  # when the page was last heard from
        try:
            with contextlib.suppress(_Ended, WebSocketDisconnect):
                while True:
                    message = await self.websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        return
                    last = time.monotonic()
                    data = message.get("bytes")
                    if data is not None:
                        self._audio(data)
                    elif message.get("text") is not None:
                        await self._control(message["text"])
        finally:
            self.sink.client_gone(last)

    def _audio(self, data: bytes) -> None:
        try:
            self.source.feed(data)
        except AudioTooLarge as exc:
            self.hang_up(CLOSE_TOO_BIG, "frame too big", str(exc))
            raise _Ended from None
        except AudioFlood as exc:
            self.hang_up(CLOSE_POLICY, "audio faster than real time", str(exc))
            raise _Ended from None
        except AudioFrameError as exc:  # a malformed frame is dropped; the call goes on
            self.outbox.put_nowait({"type": "error", "message": str(exc)})

    async def _control(self, text: str) -> None:
        if len(text) > MAX_TEXT_FRAME or len(text.encode("utf-8", "replace")) > MAX_TEXT_FRAME:
            self.hang_up(CLOSE_TOO_BIG, "frame too big",
                         f"a text frame may be at most {MAX_TEXT_FRAME} bytes")
            raise _Ended
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self._error('text frames are JSON objects with a "type", e.g. '
                        '{"type": "talk", "down": true}')
            return
        handler = self._handlers.get(message["type"])
        if handler is None:
            self._error(f"unknown message type {message['type']!r}; this socket takes "
                        f"{', '.join(sorted(self._handlers))} and binary audio")
            return
        await handler(self, message)

    def _error(self, text: str) -> None:
        self.outbox.put_nowait({"type": "error", "message": text})

    async def _mode(self, message: dict[str, Any]) -> None:
        mode = message.get("mode")
        if mode not in ("hands_free", "push_to_talk"):
            self._error('mode is "hands_free" or "push_to_talk"')
            return
        self.push_to_talk = mode == "push_to_talk"
        # Push-to-talk starts released: nothing counts until the button goes down.
        self.source.muted = self.push_to_talk

    async def _talk(self, message: dict[str, Any]) -> None:
        down = message.get("down")
        if not isinstance(down, bool):
            self._error('talk needs "down": true or false')
        elif not self.push_to_talk:
            self._error('switch to push-to-talk first: {"type": "mode", "mode": '
                        '"push_to_talk"}')
        else:
            self.source.muted = not down

    async def _played(self, message: dict[str, Any]) -> None:
        samples = message.get("samples")
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
            self._error('played needs "samples": the count of samples of os1\'s voice '
                        'received so far minus those still waiting to play')
            return
        self.sink.report(samples)

    async def _say(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if not isinstance(text, str):
            self._error('say needs "text"')
            return
        if self.session.busy:
            self._error("wait for the reply, or talk over it")
            return
        wait = await turn_wait(self.state.limits, self.user.id)
        if wait is not None:
            self._error(too_fast(wait))
            return
        # Typed words take the spoken path (the voice answers): the session's own way in,
        # with no sound to read the mood from.
        await self.session._answer(Transcript(text, 0.0, 0.0, 0.0), np.zeros(0, np.float32),
                                   TurnTimings())

    _handlers: ClassVar[dict[str, Callable[[VoiceCall, dict[str, Any]], Awaitable[None]]]] = {
        "mode": _mode, "talk": _talk, "played": _played, "say": _say}


def _said_first(outreach: Outreach, user: User) -> Callable[[], Awaitable[list[str]]]:
    """Check-ins and reminders os1 says aloud when due, between turns (as `os1 voice`)."""

    async def take() -> list[str]:
        try:
            return [checkin.text for checkin in await outreach.take(user)]
        except StorageError:  # a locked database: the next look tries again
            return []

    return take


# -- the route -----------------------------------------------------------------------------


@router.websocket("/api/voice")
async def voice_socket(websocket: WebSocket) -> None:
    state = socket_state(websocket)
    user = await socket_user(websocket)  # closes the socket with 4401 when not logged in
    if user is None:
        return
    await websocket.accept()
    try:
        chosen = await asyncio.to_thread(store_of(state).run,
                                         lambda db: choices.voice(db, user))
        models = await voice_models(state.voice, state.settings, chosen)
    except Exception as exc:
        log.exception("the voice could not be loaded")
        # A missing model package or system library says which and how to install it;
        # anything else stays in the log.
        known = isinstance(exc, SpeechError | SpeechToTextError | MissingSystemPackage)
        message = (f"Voice is not available: {exc}" if known else
                   "Voice is not available: its models could not be loaded (the server's log "
                   "says why). Type instead, or try again later.")
        with contextlib.suppress(Exception):
            await websocket.send_text(json.dumps({"type": "error", "message": message}))
            await websocket.close(code=CLOSE_FAILED, reason="voice unavailable")
        return
    # Built in a worker thread: the session's VAD model takes ~0.2 s of CPU to load, which
    # on the event loop would stall every other user's socket each time someone connects.
    call = await asyncio.to_thread(VoiceCall, websocket, state, user, models)
    # One call per user: a second window takes the voice over (two sessions would answer
    # the same words twice, into one conversation).
    calls = state.voice.calls
    previous = calls.get(user.id)
    if previous is not None:
        previous.hang_up(CLOSE_ELSEWHERE, "voice opened elsewhere",
                         "Voice was opened in another window; this one has stopped.")
    calls[user.id] = call
    try:
        with state.sockets.holding(websocket, user.id, socket_token(websocket) or ""):
            await call.run()
    finally:
        if calls.get(user.id) is call:
            del calls[user.id]
