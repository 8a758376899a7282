"""/api/settings: the user's layer of the persona (`os1 persona set`): the companion's name,
what it calls the user, its tone. Every value passes os1.persona.profile's checks (names go
into the system prompt); a refused one is a 422 saying why. Like the CLI's, a change applies
from the next conversation (the persona is read once per session)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime
from typing import cast

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from os1.persona.profile import (
    MAX_NAME_CHARS,
    TONES,
    PersonaInputError,
    PersonaSettings,
    Tone,
    checked_companion_name,
    checked_name,
    load_persona_settings,
    save_persona_settings,
)
from os1.server.auth import CurrentUser
from os1.server.routes import State, Words, answers, blocking, store_of
from os1.server.state import ServerState
from os1.store.base import User
from os1.store.sqlite import transaction

router = APIRouter(prefix="/api", tags=["settings"])
# Room for spaces the checks tidy away; the checks themselves say "at most 32 characters".
_NAME_FIELD = 4 * MAX_NAME_CHARS


class SettingsOut(BaseModel):
    companion_name: str
    call_me: str  # "" = no preference
    tone: Tone
    tones: list[Tone]
    affect: bool  # the server reads emotions (its setting, not the user's)
    memory: bool  # the server remembers across conversations
    applies: str = "from the next conversation"


class SettingsChange(BaseModel):
    companion_name: Words | None = Field(None, max_length=_NAME_FIELD)
    call_me: Words | None = Field(None, max_length=_NAME_FIELD,
                                description='what the companion calls you; "" for no preference')
    tone: Words | None = Field(None, max_length=_NAME_FIELD, description=" | ".join(TONES))


def settings_out(state: ServerState, persona: PersonaSettings) -> SettingsOut:
    return SettingsOut(companion_name=persona.companion_name, call_me=persona.address_as,
                       tone=persona.tone, tones=list(TONES), affect=state.settings.affect,
                       memory=state.settings.memory)


def changed(current: PersonaSettings, change: SettingsChange) -> PersonaSettings:
    """The settings with the change applied, each value checked as `os1 persona set` checks
    it; PersonaInputError says what to change."""
    result = current
    if change.tone is not None:
        result = replace(result, tone=cast(Tone, change.tone.strip().lower()))
    if change.companion_name is not None:
        result = replace(result, companion_name=checked_companion_name(change.companion_name))
    if change.call_me is not None:
        result = replace(result, address_as=checked_name(change.call_me, "your name")
                         if change.call_me.strip() else "")
    return result


def apply_change(state: ServerState, user: User, change: SettingsChange) -> PersonaSettings:
    def work(db: sqlite3.Connection) -> PersonaSettings:
        with transaction(db):  # read and write together: two changes at once both count
            new = changed(load_persona_settings(db, user), change)
            save_persona_settings(db, user, new, datetime.now().astimezone())
            return new

    return store_of(state).run(work)


@router.get("/settings", response_model=SettingsOut, summary="Your companion's name and tone")
async def get_settings(user: CurrentUser, state: State) -> SettingsOut:
    persona = await blocking(store_of(state).run, lambda db: load_persona_settings(db, user))
    return settings_out(state, persona)


@router.put("/settings", response_model=SettingsOut, responses=answers(422),
            summary="Change them (each field optional)")
async def put_settings(change: SettingsChange, user: CurrentUser, state: State) -> SettingsOut:
    try:
        persona = await blocking(apply_change, state, user, change)
    except PersonaInputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return settings_out(state, persona)
