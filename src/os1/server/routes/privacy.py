"""/api/me and /api/export: who you are here, everything os1 holds about you as one JSON
download (`os1 export`'s everything.json), and erasing it all (`os1 forget --everything`).

On a server the erase does only the per-user parts of the CLI's: the config file is the
server's (everyone's), so it stays; the user's own folder, memories, rows and snapshots go,
and with the user row their account and every session (the tables cascade).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from os1.app import erase_everything
from os1.privacy.erase import EraseReport
from os1.privacy.export import FORMAT, PAGE, TABLES
from os1.privacy.export import _rows as table_rows
from os1.server.auth import COOKIE, CurrentUser
from os1.server.routes import (
    State,
    Words,
    answers,
    blocking,
    server_now,
    store_of,
)
from os1.server.state import ServerState
from os1.store.base import User
from os1.store.scope import user_scope

router = APIRouter(prefix="/api", tags=["privacy"])


class MeOut(BaseModel):
    name: str
    created_at: datetime


class Erase(BaseModel):
    password: Words = Field(min_length=1, max_length=1024,
                          description="your password again: erasing cannot be undone")


@router.get("/me", response_model=MeOut, summary="Who you are logged in as")
async def me(user: CurrentUser) -> MeOut:
    return MeOut(name=user.name, created_at=user.created_at)


async def export_chunks(state: ServerState, user: User) -> AsyncIterator[str]:
    """everything.json, written as it is read: a table a page at a time (constant memory
    for any history), each page read in a worker thread so the loop never waits on it."""
    store = store_of(state)
    yield ("{" + f'"format": {json.dumps(FORMAT)}, "user": {json.dumps(user.name)}, '
           f'"exported_at": {json.dumps(server_now().isoformat())},\n'
           f'"settings": {json.dumps(_settings(state))}')
    for table, query in TABLES.items():
        yield f',\n"{table}": ['
        rows = table_rows(store, query, user)
        first = True
        while page := await blocking(_next_page, rows, user):
            yield ("," if not first else "") + ",".join(page)
            first = False
        yield "]"
    yield "\n}\n"


def _next_page(rows: Iterator[dict[str, Any]], user: User) -> list[str]:
    """Up to PAGE rows as JSON lines ([] at the end). The worker thread gets the user scope
    anew: a generator's steps may each run in another thread."""
    with user_scope(user.id):
        return ["\n" + json.dumps(row, ensure_ascii=False)
                for row in itertools.islice(rows, PAGE)]


def _settings(state: ServerState) -> dict[str, object]:
    """The CLI exports the whole config (it is the user's); a server's config is the
    operator's (paths, model, other people's defaults), so only what shapes this user's
    companion is included. Their own persona settings are in persona_settings."""
    settings = state.settings
    return {"memory": settings.memory, "affect": settings.affect,
            "checkins": settings.checkins}


@router.get("/export", response_class=StreamingResponse,
            responses={200: {"content": {"application/json": {}},
                             "description": "os1-export/1: every row that is yours"}},
            summary="Download everything os1 holds about you")
async def export(user: CurrentUser, state: State) -> StreamingResponse:
    name = f"os1-export-{server_now():%Y-%m-%d-%H%M%S}.json"
    return StreamingResponse(export_chunks(state, user), media_type="application/json",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})


def erase(state: ServerState, user: User) -> EraseReport:
    """`os1 forget --everything` for one user of a shared server. The companion's engine
    does the forgetting, so its in-memory copy of the user's vectors goes too; it stays open
    for everyone else."""
    memory = state.companion.memory
    return erase_everything(state.settings, store_of(state), user,
                            memory.engine if memory is not None else None)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=answers(403),
               summary="Erase everything os1 holds about you, and your account")
async def erase_me(body: Erase, user: CurrentUser, state: State) -> Response:
    if not await state.accounts.check_password(user, body.password):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "That password is not right, so nothing was erased.")
    # Open tabs end first: a turn under way is cut and stored, then erased with the rest.
    await state.sockets.close_user(user.id, "This account was erased.")
    await blocking(erase, state, user)
    state.companion.forget_session(user, erased=True)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
