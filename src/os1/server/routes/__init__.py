"""The data routes: one module per domain, every handler scoped to the session's user.

What they share lives here: the user and state dependencies, running blocking store work off
the event loop, the one answer for an id that is not the user's (a missing id and another
user's id look the same: 404, so existence is never revealed), the server's clock, and the
skills' actions (changes go through them, so the action log records what the web page did, as
it records the CLI's and the chat's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ParamSpec, TypeVar, Union

from fastapi import Depends, HTTPException, Path, status
from pydantic import AfterValidator, BaseModel, Field

from os1.local_zone import local_now
from os1.server.auth import Problem
from os1.server.protocol import MAX_TEXT_FRAME
from os1.server.state import ServerState, server_state
from os1.skills.actions import ActionContext, ActionLog, Actions, Outcome
from os1.store.base import Database, User

# Pages and lists a client may ask for at once.
MAX_LIMIT = 200
# No text in a request body may be longer than a chat frame; each route checks its own,
# smaller limit (the one the CLI has) on top.
MAX_TEXT = MAX_TEXT_FRAME

# A row id: numbers past SQLite's and PostgreSQL's integers name nothing (and would not even
# reach the database: the driver refuses them).
MAX_ID = 2**63 - 1


def _storable(text: str) -> str:
    """Text a database can hold: JSON may carry lone surrogates ("\\ud800"), which no UTF-8
    column can; NUL characters are refused by PostgreSQL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="its id")]
ListedId = Annotated[int, Field(ge=1, le=MAX_ID)]
Words = Annotated[str, AfterValidator(_storable)]


class InvalidFields(BaseModel):
    """A request FastAPI could not read: where, and what is wrong (app.py's handler)."""

    detail: list[dict[str, Any]]


_WHY = {
    403: "Refused: the password is not right",
    404: "There is no such thing of yours (another user's id gets the same answer)",
    409: "It cannot be done in its present state (the detail says why)",
    422: "Refused input: a sentence saying why, or the fields that are wrong",
    503: "It could not be made right now (the detail says why); try again",
}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route gives, for its OpenAPI entry: each ``{"detail": ...}``, a
    sentence (422 may also list the fields FastAPI refused)."""
    return {code: {"model": Union[Problem, InvalidFields] if code == 422  # noqa: UP007
                   else Problem, "description": _WHY[code]} for code in codes}


P = ParamSpec("P")
T = TypeVar("T")

State = Annotated[ServerState, Depends(server_state)]


async def blocking(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run store or engine work in a worker thread. The request's user scope (a contextvar)
    goes with it: `asyncio.to_thread` copies the context."""
    return await asyncio.to_thread(work, *args, **kwargs)


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"There is no such {what}.")


def store_of(state: ServerState) -> Database:
    """The companion's store, as the domain classes take it (SQLite or PostgreSQL: both run
    the same statements)."""
    store = state.companion.store
    assert isinstance(store, Database)  # every store os1 opens is one
    return store


def server_now() -> datetime:
    """Now in the server's own zone, as `os1 remind` reads the computer's: the server has one
    zone for everyone until users can set their own."""
    return local_now()


def actions_of(state: ServerState) -> Actions:
    """The chat's actions (one set for the whole server), so a change made from the web page
    is validated and logged exactly like the same request made in the chat."""
    skills = state.companion.skills
    if skills is not None:
        return skills.actions
    # Only a companion assembled by hand (tests) has no skills: the same specs, no planner.
    from os1.skills.catalog import action_specs

    memory = state.companion.memory
    return Actions(action_specs(store_of(state), state.settings, state.companion.model,
                                memory.engine if memory is not None else None),
                   ActionLog(store_of(state)))


async def run_action(state: ServerState, user: User, name: str,
                     arguments: dict[str, Any]) -> Outcome:
    """One action, run as a command the user gave (confirmed: the user pressed the button).
    The specs' ``run`` are coroutines that call the store directly (fine in a terminal), so
    here the whole call gets a worker thread and its own loop: the server's loop never waits
    on the database."""
    actions = actions_of(state)
    context = ActionContext(user, server_now(), "command")
    outcome = await asyncio.to_thread(
        asyncio.run, actions.call(context, name, arguments, confirmed=True))
    assert isinstance(outcome, Outcome)  # confirmed: never a proposal
    return outcome


def forget_cached_session(state: ServerState, user: User) -> None:
    """After a forget, the companion's open session for this user (kept in memory for the
    next turn's prompt) may still hold what was forgotten: drop it, so the next turn reads
    the conversation again from the store."""
    state.companion.forget_session(user)
