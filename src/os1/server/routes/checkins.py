"""/api/checkins: what os1 said first while the user was away (the inbox), what it plans to
say, marking the inbox seen, and "not now" (`os1 checkins`).

Reading does not plan: planning and sending belong to the scheduler (the chat socket or the
worker), so a GET changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from os1.checkins.records import CheckIn, CheckInKind
from os1.checkins.scheduler import CheckIns
from os1.server.auth import CurrentUser
from os1.server.routes import (
    MAX_LIMIT,
    ListedId,
    State,
    answers,
    blocking,
    server_now,
    store_of,
)
from os1.server.state import ServerState
from os1.store.base import User

router = APIRouter(prefix="/api", tags=["checkins"])
MAX_PAUSE_HOURS = 24 * 30


class WaitingOut(BaseModel):
    id: int
    kind: CheckInKind
    text: str
    sent_at: datetime | None


class PlannedOut(BaseModel):
    id: int
    kind: CheckInKind
    about: str  # what it follows up on ("your interview"); "" for a quiet stretch
    due_at: datetime  # not before this (quiet hours and the day's limit may move it later)


class CheckInsOut(BaseModel):
    waiting: list[WaitingOut]  # said, not seen yet: oldest first
    planned: list[PlannedOut]  # soonest first
    on: bool  # check-ins are on (off: only reminders the user set are planned)


class Seen(BaseModel):
    ids: Annotated[list[ListedId], Field(max_length=MAX_LIMIT)]


class SeenOut(BaseModel):
    seen: int  # how many of them were the user's and waiting


class NotNow(BaseModel):
    hours: float | None = Field(None, gt=0, le=MAX_PAUSE_HOURS,
                                description="how long; default until tomorrow after quiet hours")


class PausedOut(BaseModel):
    until: datetime


def _checkins(state: ServerState) -> CheckIns:
    return CheckIns(store_of(state), state.settings, users_choose=True)


def _waiting(checkin: CheckIn) -> WaitingOut:
    return WaitingOut(id=checkin.id, kind=checkin.kind, text=checkin.text,
                      sent_at=checkin.sent_at)


def _planned(checkin: CheckIn) -> PlannedOut:
    return PlannedOut(id=checkin.id, kind=checkin.kind, about=checkin.about,
                      due_at=checkin.due_at)


def overview(state: ServerState, user: User) -> CheckInsOut:
    checkins = _checkins(state)
    return CheckInsOut(waiting=[_waiting(c) for c in checkins.inbox(user)],
                       planned=[_planned(c) for c in checkins.pending(user)],
                       on=state.settings.checkins)


@router.get("/checkins", response_model=CheckInsOut, summary="The check-in inbox and plan")
async def get_checkins(user: CurrentUser, state: State) -> CheckInsOut:
    return await blocking(overview, state, user)


@router.post("/checkins/seen", response_model=SeenOut, summary="Mark waiting check-ins seen")
async def mark_seen(body: Seen, user: CurrentUser, state: State) -> SeenOut:
    # Ids that are not this user's waiting check-ins change nothing and are not counted.
    return SeenOut(seen=await blocking(_checkins(state).seen, user, body.ids))


@router.post("/checkins/not-now", response_model=PausedOut, responses=answers(422),
             summary="Pause check-ins")
async def not_now(body: NotNow, user: CurrentUser, state: State) -> PausedOut:
    try:
        until = await blocking(_checkins(state).not_now, user, server_now(), body.hours)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return PausedOut(until=until)
