"""What every request handler reaches: one companion (one model, one store) for all users,
the accounts, the rate limits, and what the sockets share. Kept on ``app.state.os1``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request, WebSocket

from os1.companion import Companion
from os1.config import Settings
from os1.server.sockets import OpenSockets

if TYPE_CHECKING:
    from os1.checkins.outreach import Outreach
    from os1.server.accounts import Accounts
    from os1.server.limits import RateLimits
    from os1.server.voice_socket import VoiceCall
    from os1.voice.stt import Transcriber
    from os1.voice.tts import SpeechVoice


@dataclass
class VoiceRoom:
    """What the voice sockets share: Whisper and each voice users chose, loaded once (under
    ``lock``), and each user's one open call (a second window takes the voice over)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    transcriber: Transcriber | None = None
    voices: dict[str, SpeechVoice] = field(default_factory=dict)
    calls: dict[int, VoiceCall] = field(default_factory=dict)


@dataclass
class ServerState:
    settings: Settings
    companion: Companion
    accounts: Accounts
    limits: RateLimits
    # Says due check-ins into open chats, and remembers which each user heard ("not now").
    outreach: Outreach | None = None
    checkins_every_s: float = 30.0  # how often an open chat looks for a due check-in
    turns_running: set[int] = field(default_factory=set)  # users with a reply under way
    sockets: OpenSockets = field(default_factory=OpenSockets)
    voice: VoiceRoom = field(default_factory=VoiceRoom)


def server_state(request: Request) -> ServerState:
    """FastAPI dependency: ``state: ServerState = Depends(server_state)``."""
    return request.app.state.os1  # type: ignore[no-any-return]


def socket_state(websocket: WebSocket) -> ServerState:
    return websocket.app.state.os1  # type: ignore[no-any-return]
