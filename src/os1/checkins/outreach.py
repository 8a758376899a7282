"""Check-ins reaching an open interface: into the conversation, then marked seen.

An interface calls `take` when it opens and every minute or so while the user is not in the
middle of a turn. What is due is said now; what was said while no interface was open waits in
the inbox and is said first. Each check-in joins the conversation as os1's turn (the user's
answer is then read in its light), and is marked seen.

"Not now": when the message right after a check-in only declines ("not now", "later, busy"),
check-ins pause (`CheckIns.not_now`); the message still goes to the model as a turn, so the
reply is a natural "of course" rather than a canned line.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

from os1.checkins.records import CheckIn
from os1.checkins.scheduler import CheckIns
from os1.companion import Companion
from os1.store.base import User

_DECLINES = re.compile(
    r"^\W*(?:(?:not|maybe)\s+(?:now|today|tonight|right\s+now)|(?:maybe\s+)?later|another\s+time|"
    r"can'?t\s+(?:talk|chat)(?:\s+(?:now|right\s+now|today))?|(?:i'?m\s+)?busy|"
    r"no\s+time|not\s+a\s+good\s+time)(?:\W+(?:sorry|thanks|thank\s+you|please|i'?m\s+busy|"
    r"busy|later|talk\s+later|maybe\s+later))*\W*$",
    re.IGNORECASE)


def declines(text: str) -> bool:
    """Whether a message only says "not now" (short, nothing else in it)."""
    return len(text.split()) <= 8 and bool(_DECLINES.match(text.strip()))


class Outreach:
    def __init__(self, companion: Companion, checkins: CheckIns) -> None:
        self._companion = companion
        self.checkins = checkins
        self._last_said: dict[int, CheckIn] = {}  # user id → the check-in said last

    async def take(self, user: User) -> list[CheckIn]:
        """Say what is due and what waited in the inbox; oldest first."""
        now = self._companion.now()
        await asyncio.to_thread(self.checkins.due, user, now)
        waiting = await asyncio.to_thread(self.checkins.inbox, user)
        for checkin in waiting:
            await self._companion.reach_out(user, checkin.text)
        if waiting:
            await asyncio.to_thread(self.checkins.seen, user, [c.id for c in waiting])
            self._last_said[user.id] = waiting[-1]
        return waiting

    async def answered(self, user: User, text: str) -> datetime | None:
        """The user's next message after a check-in: when it declines, pause check-ins and
        return until when. Any message ends the check-in's moment."""
        said = self._last_said.pop(user.id, None)
        if said is None or not declines(text):
            return None
        return await asyncio.to_thread(self.checkins.not_now, user, self._companion.now())
