"""What every request handler reaches: one companion (one model, one store) for all users,
the accounts, and the rate limits. Kept on ``app.state.os1``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request, WebSocket

from os1.companion import Companion
from os1.config import Settings
from os1.server.sockets import OpenSockets

if TYPE_CHECKING:
    from os1.server.accounts import Accounts
    from os1.server.limits import RateLimits


@dataclass
class ServerState:
    settings: Settings
    companion: Companion
    accounts: Accounts
    limits: RateLimits
    sockets: OpenSockets = field(default_factory=OpenSockets)


def server_state(request: Request) -> ServerState:
    """FastAPI dependency: ``state: ServerState = Depends(server_state)``."""
    return request.app.state.os1  # type: ignore[no-any-return]


def socket_state(websocket: WebSocket) -> ServerState:
    return websocket.app.state.os1  # type: ignore[no-any-return]
