"""Check-ins reaching the conversation: a user mentions an interview in a real turn (the real
llama.cpp runtime with the SmolLM2 fixture), and os1 asks how it went, at a reasonable hour,
once; "not now" pauses it. The clock is a fake one the test moves."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from os1.checkins.outreach import Outreach, declines
from os1.checkins.scheduler import CheckIns
from os1.companion import Companion
from os1.config import Settings, parse_quiet_hours
from os1.events import Done
from os1.llm.embedded import EmbeddedModel
from os1.persona import default_persona
from os1.store.base import User
from os1.store.sqlite import SQLiteStore

ZONE = timezone(timedelta(hours=-5))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _say(companion: Companion, user: User, text: str) -> None:
    events = [event async for event in companion.turn(user, text)]
    assert isinstance(events[-1], Done)


@pytest.mark.parametrize("text", ["not now", "Not now, sorry", "later", "busy",
                                  "can't talk right now", "not today thanks", "maybe later!"])
def test_declining_is_recognised(text: str) -> None:
    assert declines(text)


@pytest.mark.parametrize("text", ["not now, but the interview went great!", "later today I "
                                  "have a meeting", "I was busy all day and it was awful",
                                  "now I'm home"])
def test_an_answer_is_not_a_decline(text: str) -> None:
    assert not declines(text)


async def test_os1_follows_up_on_what_was_mentioned_at_a_reasonable_hour(
        settings: Settings, fixture_model: EmbeddedModel, tmp_path: Path) -> None:
    settings = settings.with_overrides(quiet_hours="22:00-08:00", checkins_per_day=2)
    store = SQLiteStore(settings.database_path)
    clock = Clock(datetime(2026, 11, 23, 20, 15, tzinfo=ZONE))  # Monday evening
    companion = Companion(fixture_model, store, settings, default_persona(), clock)
    outreach = Outreach(companion, CheckIns(store, settings))
    user = store.user("ana")
    await _say(companion, user, "I have a job interview tomorrow at 10am and I'm nervous")
    assert await outreach.take(user) == []  # nothing to ask yet

    said: list[tuple[datetime, str]] = []
    moment, end = clock.now, clock.now + timedelta(days=4)
    while moment < end:  # the next four days, every 30 minutes
        moment += timedelta(minutes=30)
        clock.now = moment
        said += [(moment, c.text) for c in await outreach.take(user)]
    assert len(said) == 1, said
    when, text = said[0]
    assert "interview" in text.lower()
    quiet = parse_quiet_hours(settings.quiet_hours)
    assert quiet is not None and quiet[1] <= when.time() < quiet[0]  # not in quiet hours
    assert datetime(2026, 11, 24, 10, 0, tzinfo=ZONE) < when  # after the interview
    # it joined the conversation as os1's turn, and the inbox is empty
    turns = store.turns(user, store.current_conversation(user).id)
    assert (turns[-1].role, turns[-1].content) == ("assistant", text)
    assert CheckIns(store, settings).inbox(user) == []
    await companion.flush()
    store.close()


async def test_not_now_pauses_check_ins(settings: Settings, fixture_model: EmbeddedModel) -> None:
    store = SQLiteStore(settings.database_path)
    clock = Clock(datetime(2026, 11, 23, 20, 15, tzinfo=ZONE))
    companion = Companion(fixture_model, store, settings, default_persona(), clock)
    checkins = CheckIns(store, settings)
    outreach = Outreach(companion, checkins)
    user = store.user("ana")
    await _say(companion, user, "my exam is tomorrow")
    await _say(companion, user, "and my dentist appointment is on Wednesday")
    first = []
    while not first:
        clock.now += timedelta(minutes=30)
        first = await outreach.take(user)
    until = await outreach.answered(user, "not now, sorry")
    assert until is not None and until > clock.now + timedelta(hours=8)
    statuses = {c.trigger_key: c for c in checkins.pending(user)}
    assert statuses  # the dentist follow-up is still planned, just not said while paused
    while clock.now < until - timedelta(hours=1):
        clock.now += timedelta(hours=1)
        assert await outreach.take(user) == []
    # an ordinary answer after a check-in pauses nothing
    assert await outreach.answered(user, "it went well, thanks") is None
    await companion.flush()
    store.close()
