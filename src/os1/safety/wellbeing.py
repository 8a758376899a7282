"""Signs that os1 is taking the place of the people in someone's life.

Two signals, both read from the stored turns: very long daily use (hours a day, most days
of a week), and the people they mention fading from what they say (mentions of friends
and family in the last two weeks against the two before). Either one adds a gentle note
to a turn at most once a day: os1 encourages their human connections and keeps talking;
it never refuses, scolds or counts hours at them.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from os1.store.base import User
from os1.store.sqlite import to_text

HEAVY_DAY = timedelta(hours=2)  # a day with this much talk is a heavy day
HEAVY_TODAY = timedelta(hours=3)
HEAVY_DAYS = 4  # of the last seven
TURN_GAP = timedelta(minutes=10)  # talk with a pause longer than this is two stretches
PER_TURN = timedelta(minutes=1)  # time counted for a turn's own reading and writing

_PEOPLE = re.compile(
    r"\b(?:friends?|mom|mum|mother|dad|father|parents?|sister|brother|sibling|wife|husband|"
    r"partner|boyfriend|girlfriend|son|daughter|kids?|cousin|aunt|uncle|grandma|grandpa|"
    r"grandmother|grandfather|colleague|coworker|roommate|neighbou?r|team|we|us|together)\b",
    re.IGNORECASE)

NOTE = ("They have been spending a lot of time talking with you lately. Keep talking with "
        "them warmly, and somewhere in your reply gently encourage them to reach out to "
        "someone in their life (a friend or family member they have mentioned, if you know "
        "one). Don't refuse to talk and don't lecture.")


@dataclass(frozen=True)
class UsePattern:
    today: timedelta
    heavy_days: int  # of the last seven (today included)
    people_recent: int  # user messages mentioning people, last 14 days
    people_before: int  # the 14 days before that

    @property
    def heavy(self) -> bool:
        return self.today >= HEAVY_TODAY or self.heavy_days >= HEAVY_DAYS

    @property
    def withdrawing(self) -> bool:
        return self.people_before >= 6 and self.people_recent * 3 <= self.people_before

    @property
    def concerning(self) -> bool:
        return self.heavy or self.withdrawing


def use_pattern(db: sqlite3.Connection, user: User, now: datetime) -> UsePattern:
    """The last 28 days of this user's turns, summed by local day."""
    since = to_text(now - timedelta(days=28))
    rows: list[Any] = db.execute(
        "SELECT created_at, role, content FROM turns WHERE user_id = ? AND created_at >= ? "
        "ORDER BY created_at", (user.id, since)).fetchall()
    zone = now.tzinfo
    per_day: dict[str, timedelta] = {}
    previous: datetime | None = None
    recent = before = 0
    for created, role, content in rows:
        at = datetime.fromisoformat(created).astimezone(zone)
        gap = at - previous if previous is not None else TURN_GAP * 2
        day = at.date().isoformat()
        per_day[day] = per_day.get(day, timedelta()) + (gap if gap <= TURN_GAP else PER_TURN)
        previous = at
        if role == "user" and _PEOPLE.search(content):
            if now - at <= timedelta(days=14):
                recent += 1
            else:
                before += 1
    today = now.date()
    week = [(today - timedelta(days=n)).isoformat() for n in range(7)]
    return UsePattern(
        today=per_day.get(today.isoformat(), timedelta()),
        heavy_days=sum(1 for day in week if per_day.get(day, timedelta()) >= HEAVY_DAY),
        people_recent=recent, people_before=before)
