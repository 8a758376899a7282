"""/api/reminders: list, set from the user's own words, cancel (`os1 remind`).

Setting and cancelling run the reminder skill's actions, as `os1 remind` does, so they are
validated by the same parser and logged in the action log. Times are read in the server's
zone (its TZ, else /etc/localtime): the server has one zone for everyone until users can set
their own, and each answer says which zone that was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from os1.server.auth import CurrentUser
from os1.server.routes import (
    MAX_TEXT,
    RowId,
    State,
    Words,
    answers,
    blocking,
    not_found,
    run_action,
    server_now,
    store_of,
)
from os1.server.state import ServerState
from os1.skills.actions import ActionError
from os1.skills.reminders.book import Reminder, Reminders, ReminderState, ReminderStatus
from os1.store.base import User

router = APIRouter(prefix="/api", tags=["reminders"])


class ReminderOut(BaseModel):
    id: int
    text: str
    due_at: datetime  # in the server's zone
    status: ReminderStatus  # as stored: pending, done or cancelled
    state: ReminderState  # as lived: upcoming, due, delivered, missed or cancelled
    message: str = ""  # after setting one: os1's words ("I'll remind you Friday at 18:00 …")


class ReminderList(BaseModel):
    reminders: list[ReminderOut]  # upcoming first, soonest first; with all, then the rest
    zone: str  # the zone times are read and shown in


class NewReminder(BaseModel):
    text: Words = Field(min_length=1, max_length=MAX_TEXT,
                      description='what and when, in your words: "call Amy on Friday at six"')


def zone_name(now: datetime) -> str:
    return str(now.tzinfo) if now.tzinfo is not None else "UTC"


def reminder_out(reminder: Reminder, now: datetime, message: str = "") -> ReminderOut:
    return ReminderOut(id=reminder.id, text=reminder.text,
                       due_at=reminder.due_at.astimezone(now.tzinfo), status=reminder.status,
                       state=reminder.state(now), message=message)


def _book(state: ServerState) -> Reminders:
    return Reminders(store_of(state), state.settings)


def _get(state: ServerState, user: User, reminder_id: int) -> Reminder:
    try:
        return _book(state).get(user, reminder_id)
    except ActionError:  # none with that id for this user (another user's looks the same)
        raise not_found("reminder") from None


@router.get("/reminders", response_model=ReminderList, summary="Your reminders")
async def list_reminders(
        user: CurrentUser, state: State,
        everything: Annotated[bool, Query(alias="all",
                                          description="delivered and cancelled too")] = False,
) -> ReminderList:
    now = server_now()
    found = await blocking(_book(state).listing, user, everything=everything)
    return ReminderList(reminders=[reminder_out(r, now) for r in found], zone=zone_name(now))


@router.post("/reminders", response_model=ReminderOut, status_code=status.HTTP_201_CREATED,
             responses=answers(422),
             summary="Set a reminder from your own words")
async def add_reminder(body: NewReminder, user: CurrentUser, state: State) -> ReminderOut:
    most = state.settings.max_input_chars
    if len(body.text) > most:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"A reminder can be at most {most} characters.")
    try:
        # The words as `os1 remind call Amy Friday at six` passes them: the parser finds
        # the time in them (and asks, in the error, when it cannot).
        outcome = await run_action(state, user, "remind.add", {"what": body.text, "when": ""})
    except ActionError as exc:  # no time in it, a time already past, nothing to remind of
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    assert outcome.made is not None  # remind.add says which reminder it made
    return reminder_out(await blocking(_get, state, user, outcome.made), server_now(),
                        outcome.text)


@router.delete("/reminders/{reminder_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, responses=answers(404, 409),
               summary="Cancel a reminder")
async def cancel_reminder(reminder_id: RowId, user: CurrentUser, state: State) -> Response:
    reminder = await blocking(_get, state, user, reminder_id)
    try:
        await run_action(state, user, "remind.cancel", {"which": str(reminder.id)})
    except ActionError as exc:  # already cancelled, or already said
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
