"""The `Store` seam: users, conversations and turns. Every call is scoped to one user."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from os1.llm.base import Role

TurnStatus = Literal["complete", "interrupted"]


class StorageError(Exception):
    """The database could not be read or written; the message says why and what to do."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True)
class Conversation:
    id: int
    user_id: int
    started_at: datetime


@dataclass(frozen=True)
class Turn:
    id: int
    conversation_id: int
    role: Role
    content: str
    context: str
    status: TurnStatus
    created_at: datetime


@dataclass(frozen=True)
class NewTurn:
    """A turn not yet written: what the companion hands the store."""

    conversation_id: int
    role: Role
    content: str
    context: str
    status: TurnStatus
    created_at: datetime


class Store(Protocol):
    def user(self, name: str) -> User:
        """The user with this name, created on first use."""
        ...

    def current_conversation(self, user: User) -> Conversation:
        """The user's latest conversation, or a new one if they have none."""
        ...

    def new_conversation(self, user: User) -> Conversation: ...

    def add_turn(self, user: User, turn: NewTurn) -> Turn: ...

    def turns(self, user: User, conversation_id: int) -> Sequence[Turn]:
        """All turns of one of this user's conversations, oldest first."""
        ...

    def close(self) -> None: ...
