"""/api/memories: see, search, correct and forget what os1 remembers (`os1 memory`'s verbs).

Every change goes through the memory engine, as the CLI's do: an edit re-embeds and
re-indexes, a forget scrubs the bytes (keyword indexes, vectors, the write-ahead log) and the
conversation snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from os1.memory.engine import MemoryEngine
from os1.memory.errors import MemoryNotFoundError
from os1.memory.records import Memory, MemoryKind
from os1.server.auth import CurrentUser
from os1.server.routes import (
    MAX_LIMIT,
    MAX_TEXT,
    RowId,
    State,
    Words,
    answers,
    blocking,
    forget_cached_session,
    not_found,
    server_now,
    store_of,
)
from os1.server.state import ServerState

router = APIRouter(prefix="/api", tags=["memory"])
T = TypeVar("T")


class MemoryOut(BaseModel):
    id: int
    kind: MemoryKind
    text: str
    created_at: datetime
    speaker: str = ""  # episodes: who said it
    subject: str = ""  # who it is about
    current: bool = True  # False: a newer fact replaced it
    sources: list[int] = []  # the turns a derived memory came from
    score: float | None = None  # search results: how well it answered the query


class MemoryList(BaseModel):
    memories: list[MemoryOut]


class MemoryEdit(BaseModel):
    # The longest a memory may be is the longest message the user may send (the server's
    # max_input_chars, checked in the handler); this bound only keeps the body small.
    text: Words = Field(min_length=1, max_length=MAX_TEXT)


def memory_out(memory: Memory, score: float | None = None) -> MemoryOut:
    return MemoryOut(id=memory.id, kind=memory.kind, text=memory.text,
                     created_at=memory.created_at, speaker=memory.speaker,
                     subject=memory.subject, current=memory.current,
                     sources=list(memory.sources), score=score)


@contextmanager
def _engine(state: ServerState) -> Iterator[MemoryEngine]:
    """The companion's engine; with memory off the server has none, and one is opened for
    the request (what `os1 memory` does): memories kept from before can still be seen and
    forgotten."""
    writer = state.companion.memory
    if writer is not None:
        yield writer.engine
        return
    from os1.app import open_memory

    engine = open_memory(state.settings, store_of(state))
    try:
        yield engine
    finally:
        engine.close()


def _with_engine(state: ServerState, work: Callable[[MemoryEngine], T]) -> T:
    with _engine(state) as engine:
        return work(engine)


async def _call(state: ServerState, work: Callable[[MemoryEngine], T]) -> T:
    try:
        return await blocking(_with_engine, state, work)
    except MemoryNotFoundError:
        raise not_found("memory") from None


@router.get("/memories", response_model=MemoryList,
            summary="What os1 remembers: the newest, or what it would recall for q")
async def list_memories(
        user: CurrentUser, state: State,
        q: Annotated[Words, Query(max_length=1000, description="search for this")] = "",
        kind: Annotated[list[MemoryKind] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50) -> MemoryList:
    if q.strip():
        def search(engine: MemoryEngine) -> list[MemoryOut]:
            result = engine.recall(user, q, limit, server_now())
            return [memory_out(h.memory, h.score) for h in result.hits
                    if not kind or h.memory.kind in kind]

        return MemoryList(memories=await _call(state, search))

    def newest(engine: MemoryEngine) -> list[MemoryOut]:
        return [memory_out(m) for m in engine.store.records(user, kinds=kind or (),
                                                            limit=limit)]

    return MemoryList(memories=await _call(state, newest))


@router.get("/memories/{memory_id}", response_model=MemoryOut, responses=answers(404),
            summary="One memory")
async def get_memory(memory_id: RowId, user: CurrentUser, state: State) -> MemoryOut:
    return await _call(state, lambda engine: memory_out(engine.store.get(user, memory_id)))


@router.patch("/memories/{memory_id}", response_model=MemoryOut, responses=answers(404, 422),
              summary="Correct a memory's words")
async def edit_memory(memory_id: RowId, body: MemoryEdit, user: CurrentUser,
                      state: State) -> MemoryOut:
    most = state.settings.max_input_chars
    if len(body.text) > most:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"A memory can be at most {most} characters; that one has "
                            f"{len(body.text)}.")
    if not body.text.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "A memory cannot be empty; delete it to forget it.")

    def edit(engine: MemoryEngine) -> MemoryOut:
        return memory_out(engine.edit(user, memory_id, body.text))

    edited = await _call(state, edit)
    forget_cached_session(state, user)  # an edit corrects a turn the session may hold
    return edited


@router.delete("/memories/{memory_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, responses=answers(404),
               summary="Forget a memory for good")
async def forget_memory(memory_id: RowId, user: CurrentUser, state: State) -> Response:
    def forget(engine: MemoryEngine) -> None:
        engine.store.get(user, memory_id)  # not this user's: 404, nothing touched
        engine.forget(user, [memory_id])

    await _call(state, forget)
    forget_cached_session(state, user)  # forgetting an episode deletes its turn
    return Response(status_code=status.HTTP_204_NO_CONTENT)
