"""Mood trends in words: "three low days in a row", "a lighter week than the last".

Read off the timeline's days, for the companion's prompt and for proactive check-ins. A streak
is consecutive calendar days (a day without a word breaks it: we do not know how it went), and it
is current only if its last day is today or yesterday.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from os1.affect.timeline import MoodDay

LOW = -0.2  # a day whose weighted valence is at or below this is a low day
HIGH = 0.3
WEEK_CHANGE = 0.2  # a week this much above or below the one before is a change worth naming
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven")


@dataclass(frozen=True)
class MoodTrend:
    low_streak: int  # consecutive low days ending today or yesterday
    high_streak: int
    this_week: float | None  # mean valence of the last 7 days with readings in them
    last_week: float | None  # … of the 7 days before
    latest: MoodDay | None

    @property
    def low(self) -> bool:
        """Low enough that the companion should lean towards reassurance."""
        return self.low_streak >= 2

    def describe(self) -> str:
        """One phrase, or "" when nothing stands out."""
        if self.low_streak >= 2:
            return f"{_count(self.low_streak)} low days in a row"
        if self.this_week is not None and self.last_week is not None:
            change = self.this_week - self.last_week
            if change >= WEEK_CHANGE:
                return "a lighter week than the one before"
            if change <= -WEEK_CHANGE:
                return "a heavier week than the one before"
        if self.high_streak >= 3:
            return f"{_count(self.high_streak)} good days in a row"
        return ""


def _count(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def _streak(days: Sequence[MoodDay], today: date, test: float, below: bool) -> int:
    """Consecutive calendar days meeting the test, ending today or yesterday."""
    if not days or (today - days[-1].day) > timedelta(days=1):
        return 0
    n = 0
    expected = days[-1].day
    for day in reversed(days):
        meets = (day.valence <= test) if below else (day.valence >= test)
        if day.day != expected or not meets:
            break
        n += 1
        expected = day.day - timedelta(days=1)
    return n


def _mean(days: Sequence[MoodDay]) -> float | None:
    return sum(d.valence for d in days) / len(days) if days else None


def trend_of(days: Sequence[MoodDay], today: date) -> MoodTrend:
    """``days`` oldest first, as `MoodTimeline.days` returns them (the last two weeks suffice)."""
    week_ago, fortnight_ago = today - timedelta(days=7), today - timedelta(days=14)
    this_week = [d for d in days if week_ago < d.day <= today]
    last_week = [d for d in days if fortnight_ago < d.day <= week_ago]
    return MoodTrend(_streak(days, today, LOW, below=True), _streak(days, today, HIGH, below=False),
                     _mean(this_week), _mean(last_week), days[-1] if days else None)
