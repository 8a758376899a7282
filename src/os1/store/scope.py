"""Whose data this piece of work may touch: set per request by the server, read by stores
that enforce it themselves (PostgreSQL's row-level security).

Every query in os1 already names its user; this is the second wall. It is a context
variable, so it follows the request into `asyncio.to_thread` workers and never leaks into
another request's task.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[int | None] = ContextVar("os1_user_scope", default=None)


def scoped_user_id() -> int | None:
    """The user id the current work is limited to, or None (local use, background jobs)."""
    return _current.get()


@contextmanager
def user_scope(user_id: int) -> Iterator[None]:
    token = _current.set(user_id)
    try:
        yield
    finally:
        _current.reset(token)


def enter_user_scope(user_id: int) -> None:
    """For a request handler: the scope lasts as long as the request's context."""
    _current.set(user_id)
