"""WebSocket /api/chat: text turns, streamed as events (see docs: server contract).

    client → server   {"type": "say", "text": ...} | {"type": "stop"} | {"type": "new"}
    server → client   {"type": "hello", ...}, each event of a turn (`protocol.event_json`),
                      {"type": "said_first", "text": ...}, {"type": "error", "message": ...}

Three ways a socket ends mid-reply, and what happens to the turn:

- the user sends stop: the turn's task is cancelled; the companion stores what was said as
  interrupted (the same path as Ctrl-C in the terminal);
- the socket drops: the same;
- the client stops reading (a stalled tab, a hostile client): its frames wait in a bounded
  outbox (`Outbox`), so it never slows anyone else; when no frame has left for
  ``patience_s``, it is closed with 1013 and the turn runs to its end and is stored complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket

from os1.checkins.outreach import Outreach
from os1.companion import Companion
from os1.server.auth import socket_token, socket_user, still_logged_in
from os1.server.limits import claim_turn, too_fast, turn_wait
from os1.server.protocol import MAX_TEXT_FRAME, event_json
from os1.server.state import ServerState, socket_state
from os1.store.base import StorageError, User

log = logging.getLogger(__name__)

CLOSE_TOO_BIG = 1009
CLOSE_TRY_LATER = 1013
BUSY = "Wait for the reply, or send stop."
# Tokens closer together than this share one "token" frame (its text is theirs joined), so
# a token is held back at most this long: well under what a reader notices, and under the
# 50 ms of added token gap the server is held to (docs/benchmarks.md).
TOKEN_WINDOW_S = 0.015

router = APIRouter()


@router.websocket("/api/chat")
async def chat(websocket: WebSocket) -> None:
    user = await socket_user(websocket)
    if user is None:
        return
    await websocket.accept()
    state = socket_state(websocket)
    with state.sockets.holding(websocket, user.id, socket_token(websocket) or ""):
        await ChatSession(websocket, state, user, socket_token(websocket)).serve()


@dataclass
class _Token:
    text: str


def _joined(batch: list[str | bytes | _Token]) -> list[str | bytes | _Token]:
    """The frames in order, each run of tokens next to each other joined into one."""
    out: list[str | bytes | _Token] = []
    for data in batch:
        last = out[-1] if out else None
        if isinstance(data, _Token) and isinstance(last, _Token):
            out[-1] = _Token(last.text + data.text)
        else:
            out.append(data)
    return out


class Outbox:
    """A socket's outgoing frames: a bounded queue and one task that sends them, so a client
    that reads slowly holds up only itself. ``gone`` is set once nothing more can be sent:
    the client left, or it fell behind (``slow``) and was closed with 1013."""

    def __init__(self, websocket: WebSocket, *, size: int = 256, patience_s: float = 10.0,
                 token_window_s: float = TOKEN_WINDOW_S) -> None:
        self._websocket = websocket
        self._queue: asyncio.Queue[str | bytes | _Token] = asyncio.Queue(size)
        self._patience_s = patience_s
        self._token_window_s = token_window_s
        self.gone = asyncio.Event()
        self.slow = False
        self._pump = asyncio.ensure_future(self._send_all())

    async def put(self, frame: dict[str, Any] | bytes) -> None:
        """Queue a frame (JSON object or binary); dropped once the client is gone."""
        if self.gone.is_set():
            return
        data: str | bytes | _Token
        if isinstance(frame, bytes):
            data = frame
        elif frame.get("type") == "token" and len(frame) == 2:
            data = _Token(frame["text"])  # may share a frame with the tokens next to it
        else:
            data = json.dumps(frame, ensure_ascii=False)
        if self._queue.full():
            try:
                await asyncio.wait_for(self._queue.put(data), self._patience_s)
            except TimeoutError:
                await self._give_up()
        else:  # the usual case: no timer to set up for a put that cannot wait
            self._queue.put_nowait(data)

    async def _send_all(self) -> None:
        loop = asyncio.get_running_loop()
        last_token_at = 0.0
        try:
            while True:
                first = await self._queue.get()
                if isinstance(first, _Token):
                    # Tokens that come faster than the window ride one frame: each frame
                    # costs the server a send (a system call) and the client a message,
                    # and a few ms of holding back is not seen. A token after a pause
                    # goes at once.
                    wait = last_token_at + self._token_window_s - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                batch: list[str | bytes | _Token] = [first]
                while not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                for data in _joined(batch):
                    if isinstance(data, _Token):
                        last_token_at = loop.time()
                        data = json.dumps({"type": "token", "text": data.text},
                                          ensure_ascii=False)
                    if isinstance(data, bytes):
                        await self._websocket.send_bytes(data)
                    else:
                        await self._websocket.send_text(data)
        except asyncio.CancelledError:
            raise
        except Exception:  # any failure to send means the client is gone
            self.gone.set()

    async def _give_up(self) -> None:
        log.info("closing a chat socket that stopped reading (outbox full for %.0f s)",
                 self._patience_s)
        self.slow = True
        self.gone.set()
        self._pump.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._websocket.close(
                CLOSE_TRY_LATER, "You fell behind the reply; reconnect to read it."), 2.0)

    async def aclose(self) -> None:
        self.gone.set()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump


class ChatSession:
    """One open chat socket of one user."""

    def __init__(self, websocket: WebSocket, state: ServerState, user: User,
                 token: str | None, *, outbox: Outbox | None = None) -> None:
        """``token``: the session the socket opened with (checked again before each turn).
        One turn at a time per user, however many tabs they have open: the app's
        ``state.turns_running``."""
        self._websocket = websocket
        self._token = token
        self._state = state
        self._companion: Companion = state.companion
        self._user = user
        self._outreach = state.outreach
        self._every_s = state.checkins_every_s
        self._running = state.turns_running
        self.outbox = outbox or Outbox(websocket)
        self._turn: asyncio.Task[None] | None = None
        # Held while a check-in is being said or a turn is starting: they never interleave.
        self._lock = asyncio.Lock()

    async def serve(self) -> None:
        watcher: asyncio.Task[None] | None = None
        try:
            greeting = await self._companion.greet(self._user)
            await self.outbox.put({"type": "hello", "name": self._user.name,
                                   "greeting": greeting})
            if self._outreach is not None:
                watcher = asyncio.ensure_future(self._watch(self._outreach))
            reader = asyncio.ensure_future(self._read())
            gone = asyncio.ensure_future(self.outbox.gone.wait())
            try:
                await asyncio.wait({reader, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reader, gone):
                    task.cancel()
                await asyncio.gather(reader, gone, return_exceptions=True)
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            await self._end_turn(cancel=not self.outbox.slow)
            await self.outbox.aclose()

    # -- reading -------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            message = await self._websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self._error("Send JSON text frames, e.g. {\"type\": \"say\", "
                                  "\"text\": \"hi\"}.")
                continue
            if len(text) > MAX_TEXT_FRAME or len(text.encode("utf-8", "replace")) > MAX_TEXT_FRAME:
                await self._websocket.close(
                    CLOSE_TOO_BIG, f"Messages may be at most {MAX_TEXT_FRAME // 1024} KiB.")
                return
            await self._handle(text)

    async def _handle(self, text: str) -> None:
        try:
            frame = json.loads(text)
        except (ValueError, RecursionError):
            await self._error("That was not valid JSON; send e.g. {\"type\": \"say\", "
                              "\"text\": \"hi\"}.")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "say":
            said = frame.get("text")
            if not isinstance(said, str):
                await self._error("A say message needs text: {\"type\": \"say\", "
                                  "\"text\": \"hi\"}.")
                return
            await self._say(said)
        elif kind == "stop":
            await self._end_turn(cancel=True)
        elif kind == "new":
            if self._turning():
                await self._error(BUSY)
                return
            await self._new()
        else:
            await self._error("Unknown message; send one of type say, stop or new.")

    async def _error(self, message: str, **extra: Any) -> None:
        await self.outbox.put({"type": "error", "message": message, **extra})

    # -- turns -----------------------------------------------------------------------------

    def _turning(self) -> bool:
        return self._turn is not None and not self._turn.done()

    async def _say(self, text: str) -> None:
        if self._turning():
            await self._error(BUSY)
            return
        running = self._running
        if not claim_turn(running, self._user.id):  # the same user in another tab, mid-reply
            await self._error("A reply is being written in another window; wait for it.")
            return
        started = False
        try:
            if not await still_logged_in(self._websocket, self._state.accounts, self._token):
                return
            wait = await turn_wait(self._state.limits, self._user.id)
            if wait is not None:
                await self._error(too_fast(wait), retry_after=wait)
                return
            async with self._lock:
                self._turn = asyncio.ensure_future(self._run_turn(text, running))
                started = True
        finally:
            if not started:  # the turn gives the place back when it ends
                running.discard(self._user.id)

    async def _run_turn(self, text: str, running: set[int]) -> None:
        try:
            if self._outreach is not None and text.strip():
                with contextlib.suppress(StorageError):
                    await self._outreach.answered(self._user, text)  # "not now" pauses
            async for event in self._companion.turn(self._user, text):
                await self.outbox.put(event_json(event))
        except asyncio.CancelledError:
            raise
        except Exception:  # the user hears of it; the log keeps the trace
            log.exception("a chat turn failed")
            await self._error("Something went wrong writing the reply; try again.")
        finally:
            running.discard(self._user.id)

    async def _end_turn(self, *, cancel: bool) -> None:
        """Stop the running turn (``cancel``) or let it finish; either way it is stored."""
        turn = self._turn
        if turn is None:
            return
        if cancel:
            turn.cancel()
        await asyncio.gather(turn, return_exceptions=True)

    async def _new(self) -> None:
        try:
            await self._companion.new_conversation(self._user)
        except StorageError as exc:
            await self._error(str(exc))

    # -- os1 speaking first ----------------------------------------------------------------

    async def _watch(self, outreach: Outreach) -> None:
        """Say due check-ins now and then while no turn runs (and once at the start)."""
        while True:
            async with self._lock:
                if not self._turning():
                    try:
                        said = await outreach.take(self._user)
                    except StorageError:  # a locked database: they wait for the next look
                        said = []
                    for checkin in said:
                        await self.outbox.put({"type": "said_first", "text": checkin.text})
            await asyncio.sleep(self._every_s)

