"""/api/mood: the mood timeline as os1 has read it (`os1 mood --json`), and forgetting it
(`os1 mood forget`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel

from os1.affect.timeline import MoodTimeline
from os1.affect.trend import trend_of
from os1.app import forget_mood
from os1.server.auth import CurrentUser
from os1.server.routes import State, blocking, forget_cached_session, server_now, store_of
from os1.server.state import ServerState
from os1.store.base import User

router = APIRouter(prefix="/api", tags=["mood"])
MAX_DAYS = 7 * 520  # `os1 mood --weeks` goes back at most 520 weeks


class MoodDayOut(BaseModel):
    day: date
    valence: float  # −1 … 1, confidence-weighted mean of the day's readings
    arousal: float  # 0 … 1
    readings: int
    lowest: float  # the lowest single reading's valence that day


class MoodOut(BaseModel):
    since: date
    until: date
    days: list[MoodDayOut]  # only days with readings, oldest first
    trend: str  # "three low days in a row"; "" when nothing stands out
    reading: bool  # whether emotion reading is on (off: nothing new is added)


def mood_of(state: ServerState, user: User, days: int) -> MoodOut:
    timeline = MoodTimeline(store_of(state))
    today = server_now().date()
    since = today - timedelta(days=days - 1)
    found = timeline.days(user, since, today)
    return MoodOut(
        since=since, until=today,
        days=[MoodDayOut(day=d.day, valence=round(d.valence, 3), arousal=round(d.arousal, 3),
                         readings=d.readings, lowest=round(d.lowest, 3)) for d in found],
        trend=trend_of(found, today).describe(), reading=state.settings.affect)


@router.get("/mood", response_model=MoodOut, summary="Your mood over the last days")
async def mood(user: CurrentUser, state: State,
               days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30) -> MoodOut:
    return await blocking(mood_of, state, user, days)


@router.delete("/mood", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Forget the whole mood timeline")
async def forget(user: CurrentUser, state: State) -> Response:
    await blocking(forget_mood, state.settings, store_of(state), user)
    forget_cached_session(state, user)  # the open session's turns still carry the notes
    return Response(status_code=status.HTTP_204_NO_CONTENT)
