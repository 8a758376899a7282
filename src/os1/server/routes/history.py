"""GET /api/history: the user's conversation turns, a page at a time, newest page first.

Pages go back by turn id (``before``: the oldest id the client has), across conversations:
each turn says which conversation it belongs to, so a client can draw where one ended. The
store is read like `os1 export` reads it: a page per query, the user named in the query.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from os1.llm.base import Role
from os1.server.auth import CurrentUser
from os1.server.routes import MAX_ID, MAX_LIMIT, State, blocking, store_of
from os1.store.base import Database, TurnStatus, User
from os1.store.sqlite import from_text

router = APIRouter(prefix="/api", tags=["history"])


class TurnOut(BaseModel):
    id: int
    conversation_id: int
    role: Role
    content: str
    status: TurnStatus
    created_at: datetime


class HistoryPage(BaseModel):
    turns: list[TurnOut]  # oldest first within the page
    more: bool  # older turns exist: ask again with before = turns[0].id


def history_page(store: Database, user: User, limit: int, before: int | None) -> HistoryPage:
    def work(db: sqlite3.Connection) -> list[tuple[int, int, str, str, str, str]]:
        return db.execute(
            "SELECT id, conversation_id, role, content, status, created_at FROM turns "
            "WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (user.id, before if before is not None else MAX_ID, limit + 1)).fetchall()

    rows = store.run(work)
    turns = [TurnOut.model_validate(
        {"id": r[0], "conversation_id": r[1], "role": r[2], "content": r[3], "status": r[4],
         "created_at": from_text(r[5])}) for r in rows[:limit]]
    return HistoryPage(turns=turns[::-1], more=len(rows) > limit)


@router.get("/history", response_model=HistoryPage, summary="Your conversations, page by page")
async def history(user: CurrentUser, state: State,
                  limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
                  before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> HistoryPage:
    return await blocking(history_page, store_of(state), user, limit, before)
