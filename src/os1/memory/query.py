"""Reading a search query: its keywords (a safe FTS5 query) and any time it names.

Every word is quoted before it reaches FTS5, so a query holding FTS syntax (``NEAR(``, quotes,
``AND``, ``*``, column filters) is searched for as words and can never break or steer the query.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_STOP_WORDS = """
a about above after again against all am an and any are aren't as at be because been before being
below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
down during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's
her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it
it's its itself let's me more most mustn't my myself no nor not of off on once only or other ought
our ours ourselves out over own same shan't she she'd she'll she's should shouldn't so some such
than that that's the their theirs them themselves then there there's these they they'd they'll
they're they've this those through to too under until up very was wasn't we we'd we'll we're we've
were weren't what what's when when's where where's which while who who's whom why why's will with
won't would wouldn't you you'd you'll you're you've your yours yourself yourselves also just
really get got go going went like yeah oh ok okay well would kind sort thing things lot
s t d ll m re ve type likely might whose ever done
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

_WORD = re.compile(r"[\w']+", re.UNICODE)
_MAX_TERMS = 32


def keywords(text: str, *, drop_stop_words: bool = True) -> list[str]:
    """The query's content words, lower-cased, in order, each once."""
    seen: dict[str, None] = {}
    for raw in _WORD.findall(text.casefold()):
        word = raw.strip("'")
        if word.endswith("'s"):
            word = word[:-2]
        if (len(word) < 2 and not word.isdigit()) or len(word) > 64:
            continue  # a 64+ character "word" is noise (a URL, a paste), not a keyword
        if (drop_stop_words and word in STOP_WORDS) or word in seen:
            continue
        seen[word] = None
    return list(seen)[:_MAX_TERMS]


def fts_query(words: list[str]) -> str:
    """An FTS5 OR-query of quoted words; empty if there is nothing to search for."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


@dataclass(frozen=True)
class TimeWindow:
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS.pop("may", None)
_MONTHS["may"] = 5
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_SEASONS = {"spring": (3, 6), "summer": (6, 9), "autumn": (9, 12), "fall": (9, 12),
            "winter": (12, 15)}
_UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(year: int, month: int, like: datetime) -> datetime:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return like.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def time_window(text: str, now: datetime) -> TimeWindow | None:
    """The span of time a query points at ("yesterday", "last summer", "in May", "two weeks
    ago", "in 2023"), relative to ``now``; None if it names none (or none a calendar holds:
    "3000 years ago")."""
    try:
        return _time_window(text, now)
    except (OverflowError, ValueError):
        return None


def _time_window(text: str, now: datetime) -> TimeWindow | None:
    t = text.casefold()
    today = _day(now)
    if re.search(r"\byesterday\b", t):
        return TimeWindow(today - timedelta(days=1), today)
    if re.search(r"\btoday\b|\bthis morning\b|\btonight\b", t):
        return TimeWindow(today, today + timedelta(days=1))
    if m := re.search(r"\b(\d+|a|an|one|two|three|four|five|six|few|couple of)\s+"
                      r"(day|week|month|year)s?\s+ago\b", t):
        count = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                 "six": 6, "few": 3, "couple of": 2}.get(m.group(1))
        amount = count if count is not None else int(m.group(1))
        days = _UNITS[m.group(2)] * amount
        slack = max(1, _UNITS[m.group(2)] // 2)
        centre = today - timedelta(days=days)
        return TimeWindow(centre - timedelta(days=slack), centre + timedelta(days=slack + 1))
    if m := re.search(r"\blast (week|month|year)\b", t):
        if m.group(1) == "week":
            start = today - timedelta(days=today.weekday() + 7)
            return TimeWindow(start, start + timedelta(days=7))
        if m.group(1) == "month":
            start = _month_start(today.year, today.month - 1, today)
            return TimeWindow(start, _month_start(today.year, today.month, today))
        return TimeWindow(today.replace(year=today.year - 1, month=1, day=1),
                          today.replace(month=1, day=1))
    if m := re.search(r"\b(last|this) (spring|summer|autumn|fall|winter)\b", t):
        first, end = _SEASONS[m.group(2)]
        year = today.year
        start = _month_start(year, first, today)
        # "last summer" in early summer means the one before; "this winter" before it began too.
        recent = start + timedelta(days=80) > today if m.group(1) == "last" else start > today
        if recent:
            year -= 1
        return TimeWindow(_month_start(year, first, today), _month_start(year, end, today))
    if m := re.search(r"\b(?:last|on) (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
                      t):
        back = (today.weekday() - _WEEKDAYS[m.group(1)]) % 7 or 7
        day = today - timedelta(days=back)
        return TimeWindow(day, day + timedelta(days=1))
    if m := re.search(r"\b(?:in|during|since|back in) (19\d\d|20\d\d)\b", t):
        year = int(m.group(1))
        return TimeWindow(today.replace(year=year, month=1, day=1),
                          today.replace(year=year + 1, month=1, day=1))
    months = "|".join(sorted(_MONTHS, key=len, reverse=True))
    if m := re.search(rf"\b(?:in|during|since|back in|last) ({months})\b\.?(?:\s+(\d{{4}}))?", t):
        month = _MONTHS[m.group(1)]
        year = int(m.group(2)) if m.group(2) else today.year
        if not m.group(2) and _month_start(year, month, today) > today:
            year -= 1  # "in May" said in February means last May
        return TimeWindow(_month_start(year, month, today), _month_start(year, month + 1, today))
    return None
