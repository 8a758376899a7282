"""Every open WebSocket, by user and by the session that opened it.

A socket is checked once, when it opens. Logging out must still end that session's sockets,
and erasing an account (or setting a new password) must end all of the user's: otherwise a
tab left open could keep talking, and keep storing turns, for someone who is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi import WebSocket

from os1.server.accounts import token_hash

CLOSE_LOG_IN_AGAIN = 4401


@dataclass(eq=False)
class _Open:
    websocket: WebSocket
    user_id: int
    session: str  # the sha256 of the token it was opened with
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class OpenSockets:
    def __init__(self) -> None:
        self._open: set[_Open] = set()

    @contextlib.contextmanager
    def holding(self, websocket: WebSocket, user_id: int, token: str) -> Iterator[None]:
        """Around a socket's whole life: ``with sockets.holding(ws, user.id, token): …``."""
        entry = _Open(websocket, user_id, token_hash(token))
        self._open.add(entry)
        try:
            yield
        finally:
            self._open.discard(entry)
            entry.finished.set()

    async def close_user(self, user_id: int, reason: str, *, wait_s: float = 10.0) -> None:
        await self._close([e for e in self._open if e.user_id == user_id], reason, wait_s)

    async def close_session(self, token: str, reason: str, *, wait_s: float = 10.0) -> None:
        session = token_hash(token)
        await self._close([e for e in self._open if e.session == session], reason, wait_s)

    @staticmethod
    async def _close(entries: list[_Open], reason: str, wait_s: float) -> None:
        """Close, then wait for each socket's handler to finish: a turn under way is cut
        and stored before the caller goes on (an erase must come after it, not before)."""
        for entry in entries:
            with contextlib.suppress(Exception):  # already closing or gone
                await entry.websocket.close(CLOSE_LOG_IN_AGAIN, reason)
        if entries:
            await asyncio.wait([asyncio.ensure_future(e.finished.wait()) for e in entries],
                               timeout=wait_s)
