"""The `Store` seam: users, conversations and turns. Every call is scoped to one user."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar, runtime_checkable

from os1.llm.base import Role

if TYPE_CHECKING:
    from os1.store.encryption import DatabaseKey

T = TypeVar("T")
Dialect = Literal["sqlite", "postgresql"]

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


@runtime_checkable
class Database(Store, Protocol):
    """The store every other module runs its own SQL on: `SQLiteStore`, or `PostgresStore`
    (os1.store.postgres), which takes the same SQLite-dialect statements through the same
    sqlite3-shaped connection and translates them."""

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` with the connection (not re-entrant: never call the store inside)."""
        ...

    @property
    def encrypted(self) -> bool:
        """Whether os1 encrypts the data at rest (SQLCipher)."""
        ...

    @property
    def key(self) -> DatabaseKey | None: ...

    @property
    def path(self) -> Path:
        """The database file; for PostgreSQL a stable name that is no file."""
        ...

    @property
    def dialect(self) -> Dialect:
        """What the connection really is: the few places whose SQL differs ask this."""
        ...
