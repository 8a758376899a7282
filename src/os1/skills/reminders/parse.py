"""From "remind me to call Amy Friday at six" to what (call Amy) and when (Friday 18:00).

The spoken shapes people use for time are few and regular, so they are read by rules here
(weekdays, "tomorrow morning", "in 20 minutes", "at six", "half past seven", "on the 3rd");
calendar dates with a month ("3 December", "Dec 3rd", "2026-12-03") go to dateparser, which
knows every spelling of them. Everything is relative to ``now``, aware and in the user's zone,
and always in the future.

The human defaults, each said back to the user in ``note`` when it was a guess:

- a clock hour with no am/pm: 1–6 means the afternoon/evening (nobody sets "at six" for 6 am
  without saying so); 7–11 means the next one to come (at 21:00 "at 8" is tomorrow 08:00; on
  another day it is the morning one); 12 is noon. "morning" makes it am, "afternoon",
  "evening", "tonight" make it pm;
- a day with no time: 09:00 ("tomorrow morning" 09:00, "afternoon" 15:00, "evening" 18:00,
  "tonight" 20:00);
- a time with no day: today if it is still ahead, else tomorrow (said);
- a weekday: the next one to come; said on that very weekday, today if the time is still ahead,
  else in a week (said).

Ambiguity is a question (`NeedsClarification`), never a guess: "next Friday" said on a Friday
(in 7 days or 14?), a time already past on a day the user named ("today at 8" at 21:00), no
time at all, or no "what".
"""

from __future__ import annotations

import calendar
import difflib
import importlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from spellchecker import SpellChecker

from os1.skills.actions import ActionError, NeedsClarification

WHEN_QUESTION = "When should I remind you?"
WHAT_QUESTION = "What should I remind you about?"
DEFAULT_TIME = time(9, 0)  # a day without a time
PARTS = {"morning": time(9), "afternoon": time(15), "evening": time(18), "tonight": time(20),
         "night": time(20), "noon": time(12), "midday": time(12), "lunchtime": time(12),
         "lunch": time(12)}
WEEKDAYS = tuple(day.lower() for day in calendar.day_name)  # monday … sunday
_WEEKDAY_ABBREVIATIONS = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3,
                          "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6}
_MONTHS = tuple(m.lower() for m in calendar.month_name[1:])
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
            "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
            "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45,
            "fifty": 50, "sixty": 60, "ninety": 90, "couple": 2, "a couple of": 2,
            "a few": 3, "few": 3}
# Words the typo fixer may correct towards (only words that are not English words already:
# "house" never becomes "hours").
_VOCABULARY = (*WEEKDAYS, *_MONTHS, "tomorrow", "tonight", "today", "minutes", "minute",
               "hours", "hour", "morning", "afternoon", "evening", "midnight", "remind",
               "o'clock", "thirty", "quarter", "next", "week")

_NUMBER = r"(?:\d+(?:\.\d+)?|a\s+couple\s+of|a\s+few|few|couple|an?|one|two|three|four|five|six|" \
          r"seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty-five|forty|fifty|" \
          r"sixty|ninety)"
_MINUTE_WORD = r"(?:five|ten|fifteen|twenty|thirty|forty|forty-five|fifty)"
_UNIT = r"(?:minutes?|mins?|m|hours?|hrs?|h|days?|weeks?|wks?|months?)"
_HOUR_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_HOUR = rf"(?:\d{{1,2}}|{_HOUR_WORD})"
_MERIDIEM = r"(?:a\.?m\.?|p\.?m\.?)"
_WEEKDAY = (r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|weds?|"
            r"thu(?:rs?)?|fri|sat|sun)")
_MONTH = (r"(?:january|february|march|april|may|june|july|august|september|october|november|"
          r"december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?")
_ORDINAL = r"(?:\d{1,2})(?:st|nd|rd|th)?"

_RECURRING = re.compile(r"\b(?:every\s+(?:day|morning|evening|night|week|month|year|other|"
                        rf"{_WEEKDAY})|daily|weekly|monthly|each\s+(?:day|week|{_WEEKDAY}))\b",
                        re.I)
_RELATIVE = re.compile(
    r"\bin\s+(?P<hh>\d{1,2})\s*h\s*(?P<mm>\d{2})\b"  # "in 1h30"
    rf"|\b(?:in|after|within)\s+(?P<n>{_NUMBER})\s*(?P<unit>{_UNIT})\b"
    rf"(?:\s+and\s+a\s+half\b|,?\s*(?:and\s+)?(?P<extra>\d{{1,2}}|{_MINUTE_WORD})\s*"
    r"(?:minutes?|mins?|m)\b)?(?:\s+(?:from\s+now|time))?"
    rf"|\b(?P<n2>{_NUMBER})\s*(?P<unit2>{_UNIT})\s+from\s+now\b"
    r"|\bin\s+(?P<half>half\s+an\s+hour|an?\s+hour\s+and\s+a\s+half)\b", re.I)
_DAY_AFTER = re.compile(r"\b(?:the\s+)?day\s+after\s+tomorrow\b", re.I)
_TOMORROW = re.compile(r"\btomorrow\b", re.I)
_TODAY = re.compile(r"\btoday\b", re.I)
_TONIGHT = re.compile(r"\b(?:tonight|this\s+(?:evening|afternoon|morning))\b", re.I)
_NEXT_WEEK = re.compile(r"\bnext\s+week\b", re.I)
_WEEKEND = re.compile(r"\b(?:this\s+|next\s+|on\s+the\s+|at\s+the\s+)?weekend\b", re.I)
_WEEKDAY_RE = re.compile(
    rf"\b(?:(?P<which>this|next|coming|this\s+coming)\s+|on\s+)?(?P<day>{_WEEKDAY})\b\.?", re.I)
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_MONTH_DATE = re.compile(
    rf"\b(?:on\s+)?(?:(?:the\s+)?{_ORDINAL}\s+(?:of\s+)?{_MONTH}|{_MONTH}\s+(?:the\s+)?"
    rf"{_ORDINAL}\b)(?:,?\s+\d{{4}})?", re.I)
_NUMERIC_DATE = re.compile(r"\b(?:on\s+)?(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{2}|\d{4}))?\b")
_DAY_OF_MONTH = re.compile(r"\b(?:on\s+)?the\s+(?P<d>\d{1,2})(?:st|nd|rd|th)\b", re.I)
_CLOCK = re.compile(
    # "at half seven": 7:30, as said in Britain
    rf"\b(?:at|by|around)\s+half\s+(?P<half_h>{_HOUR})\b"
    # "half past six", "quarter to 7", "ten past five"
    rf"|\b(?:at\s+|@\s*|by\s+|around\s+)?(?P<rel_m>half|quarter|\d{{1,2}}|{_HOUR_WORD}|twenty|"
    rf"twenty-five)\s+(?:minutes\s+)?(?P<dir>past|after|to|before)\s+(?P<rel_h>{_HOUR})"
    rf"(?:\s*(?P<rel_mer>{_MERIDIEM}))?"
    # "18:30", "6.30pm", "6pm", "six pm", "6 o'clock", "at 6", "at six thirty"
    rf"|(?:\b(?P<at>at|@|by|around|about)\s*)?\b(?P<h>{_HOUR})"
    rf"(?:(?:[:.h](?P<m>\d{{2}}))|\s+(?P<mw>thirty|fifteen|forty-five|o\s*'?\s*five|"
    rf"o'clock|oclock))?(?:\s*(?P<mer>{_MERIDIEM}))?(?![\w:/])", re.I)
_ARTICLE_BEFORE = re.compile(r"\b(?:the|a|i|we|they|you|he|she)\s+$", re.I)
_TIME_FOLLOWS = re.compile(r"\s*(?:at\b|@|\d|(?:in\s+the\s+)?(?:morning|afternoon|evening|"
                           r"night)\b)", re.I)
_NOON = re.compile(r"\b(?:at\s+)?(?:noon|midday|lunchtime|lunch\s*time|midnight)\b", re.I)
_PART = re.compile(r"\b(?:in\s+the\s+|this\s+|at\s+)?(?P<part>morning|afternoon|evening|"
                   r"night)\b", re.I)

_LEAD = re.compile(
    r"^\s*(?:(?:hey|ok|okay|os1)[,\s]+)?(?:please\s+|pls\s+)?(?:(?:can|could|would|will)\s+"
    r"you\s+(?:please\s+)?)?(?:(?:set\s+(?:a|an|up\s+a)\s+)?reminder(?:\s+for\s+me)?"
    r"(?:\s+(?:to|about|for|that)\b|\s*[:-])?|(?:remind|ping|nudge|tell)\s+me(?:\s+(?:to|about|"
    r"of|that)\b)?|remind\s+(?:to|about)\b|don'?t\s+let\s+me\s+forget(?:\s+(?:to|about)\b)?|"
    r"(?:i\s+(?:need|have|want)\s+to\s+)?remember\s+to\b)\s*", re.I)
_CONNECTOR = r"(?:to|at|on|by|for|about|that|and|then|please|remind\s+me)"
_FILLER = re.compile(rf"^(?:{_CONNECTOR}\b|[,;:\-\s])+|(?:\b{_CONNECTOR}|[,;:\-\s])+$", re.I)


@dataclass(frozen=True)
class ParsedReminder:
    what: str  # in the user's words, without the time
    due_at: datetime  # aware, in the user's zone
    note: str = ""  # an assumption worth saying back ("No time was given: 9:00.")


@dataclass(frozen=True)
class _When:
    due_at: datetime
    note: str
    spans: tuple[tuple[int, int], ...]  # where the time was said, to cut it from the "what"


def parse_request(text: str, now: datetime) -> ParsedReminder:
    """Split a request into what and when. Raises `NeedsClarification` with the question to
    ask when the time or the what is missing or ambiguous."""
    if now.tzinfo is None:
        raise ValueError("now needs the user's timezone")
    fixed = _fix(" ".join(text.split()))
    if not fixed.text:
        raise NeedsClarification(WHAT_QUESTION)
    if _RECURRING.search(fixed.text):
        raise ActionError("I can't repeat reminders yet: tell me one time and I'll remind you "
                          "then (you can set the next one after it).")
    when = _when(fixed.text, now)
    what = _what(fixed, when.spans if when else ())
    if not what:
        raise NeedsClarification(WHAT_QUESTION)
    if when is None:
        raise NeedsClarification(WHEN_QUESTION)
    return ParsedReminder(what, when.due_at, when.note)


def parse_parts(what: str, when: str, now: datetime) -> ParsedReminder:
    """The planner's two arguments: the time read from ``when`` alone, the what from ``what``
    with any time said there as well cut out ("call Amy Friday at six" + "Friday at six")."""
    if not when.strip():
        return parse_request(what, now)
    fixed = _fix(" ".join(what.split()))
    if _RECURRING.search(f"{fixed.text} {when}"):
        return parse_request(f"{what} {when}", now)  # the same refusal
    due, note = parse_when(when, now)
    try:
        found = _when(fixed.text, now)
    except NeedsClarification:  # an unclear time inside the what: the when says it
        found = None
    what = _what(fixed, found.spans if found else ())
    if not what:
        raise NeedsClarification(WHAT_QUESTION)
    return ParsedReminder(what, due, note)


def parse_when(text: str, now: datetime) -> tuple[datetime, str]:
    """Only a time ("in an hour", "tomorrow at 9"): the due moment and any note."""
    if now.tzinfo is None:
        raise ValueError("now needs the user's timezone")
    when = _when(fix_typos(" ".join(text.split())), now)
    if when is None:
        raise NeedsClarification(WHEN_QUESTION)
    return when.due_at, when.note


def fix_typos(text: str) -> str:
    """Correct misspelt time words ("tomorow", "firday", "minuets") that are not English
    words themselves; other words are left exactly as typed."""
    return _fix(text).text


@dataclass(frozen=True)
class _Fixed:
    text: str  # with time words corrected, for reading the time
    typed: tuple[tuple[int, int, str], ...]  # each correction's place in text, and as typed


def _fix(text: str) -> _Fixed:
    pieces: list[str] = []
    typed: list[tuple[int, int, str]] = []
    length, last = 0, 0
    for match in re.finditer(r"[A-Za-z']+", text):
        word = match.group(0)
        lower = word.lower()
        if len(lower) < 5 or lower in _VOCABULARY or lower in _known(lower):
            continue
        close = difflib.get_close_matches(lower, _VOCABULARY, n=1, cutoff=0.75)
        if not close:
            continue
        pieces.append(text[last:match.start()])
        length += match.start() - last
        typed.append((length, length + len(close[0]), word))
        pieces.append(close[0])
        length += len(close[0])
        last = match.end()
    pieces.append(text[last:])
    return _Fixed("".join(pieces), tuple(typed))


@lru_cache(maxsize=4096)
def _known(word: str) -> frozenset[str]:
    return frozenset(_speller().known([word]))


@lru_cache(maxsize=1)
def _speller() -> SpellChecker:
    return SpellChecker()  # loads a word list (0.4 s): only once a word looks odd


def _what(fixed: _Fixed, spans: tuple[tuple[int, int], ...]) -> str:
    kept = list(fixed.text)
    for start, end in spans:
        for i in range(start, end):
            kept[i] = "\0"
    # A word "corrected" that was not part of the time goes back as typed: "call Augustin"
    # must not become "call august".
    for start, end, word in reversed(fixed.typed):
        if "\0" not in kept[start:end]:
            kept[start:end] = list(word)
    rest = "".join(kept)
    # A removed time splits the text: "call Amy \0 about the trip" keeps both sides.
    pieces = [p.strip() for p in rest.split("\0")]
    rest = " ".join(p for p in pieces if p)
    rest = _LEAD.sub("", rest, count=1)
    previous = None
    while previous != rest:
        previous = rest
        rest = _FILLER.sub("", rest).strip()
        rest = _LEAD.sub("", rest, count=1)
    rest = rest.rstrip(".!?").strip()
    return " ".join(rest.split())


# -- when --------------------------------------------------------------------------------


@dataclass
class _Found:
    day: date | None = None
    day_said: str = ""  # "today", "weekday", "weekday-today", "date"…
    clock: tuple[int, int] | None = None
    meridiem: str | None = None  # "am" / "pm" / None
    part: str | None = None
    exact: datetime | None = None  # "in 20 minutes"
    note: str = ""


def _when(text: str, now: datetime) -> _When | None:
    spans: list[tuple[int, int]] = []
    found = _Found()
    match: re.Match[str] | None
    today = now.date()

    def take(match: re.Match[str]) -> None:
        spans.append(match.span())

    def free(match: re.Match[str]) -> bool:
        start, end = match.span()
        return all(end <= a or start >= b for a, b in spans)

    for match in _RELATIVE.finditer(text):
        if not free(match):
            continue
        take(match)
        found.exact = _relative(match, now)
        if found.exact is not None and (match.group("half") or match.group("hh")
                                        or _unit(match) in ("minutes", "hours")):
            break
        if found.exact is not None:  # days, weeks, months: a day; the time comes after
            found.day, found.exact, found.day_said = found.exact.date(), None, "relative"
        break

    for pattern, offset, said in ((_DAY_AFTER, 2, "date"), (_TOMORROW, 1, "date"),
                                  (_TODAY, 0, "today")):
        match = pattern.search(text)
        if match and free(match) and found.day is None:
            take(match)
            found.day, found.day_said = today + timedelta(days=offset), said
    match = _TONIGHT.search(text)
    if match and free(match):
        take(match)
        word = match.group(0).lower().split()[-1]
        found.part = "tonight" if word == "tonight" else word
        if found.day is None:
            found.day, found.day_said = today, "today"
    match = _NEXT_WEEK.search(text)
    if match and free(match) and found.day is None:
        take(match)
        found.day = today + timedelta(days=7 - today.weekday())  # next Monday
        found.day_said, found.note = "date", "I took next week to mean Monday."
    match = _WEEKEND.search(text)
    if match and free(match) and found.day is None:
        take(match)
        weekday = today.weekday()
        if weekday < 5:
            ahead = 5 - weekday  # the coming Saturday
        else:  # said on the weekend: this one is today, "next weekend" next week's Saturday
            ahead = 12 - weekday if "next" in match.group(0).lower() else 0
        found.day = today + timedelta(days=ahead)
        found.day_said = "today" if ahead == 0 else "date"
    for match in _WEEKDAY_RE.finditer(text):
        if not free(match) or found.day is not None:
            continue
        day = _weekday_index(match.group("day"))
        bare = match.group("which") is None and not match.group(0).lower().startswith("on")
        short = match.group("day").lower()
        if day is None or (bare and short in ("sat", "sun", "wed") and (
                _ARTICLE_BEFORE.search(text, 0, match.start())
                or not (_TIME_FOLLOWS.match(text, match.end())
                        or (short == "wed" and match.group(0).endswith("."))))):
            continue  # "sat", "sun", "wed" are words ("in the sun") unless a time follows
        take(match)
        which = (match.group("which") or "").lower()
        ahead = (day - today.weekday()) % 7
        if ahead == 0 and which == "next":
            in_a_week = today + timedelta(days=7)
            raise NeedsClarification(
                f"Today is {_day_name(today)}: do you mean {_day_name(in_a_week)} (in a week) "
                f"or {_day_name(in_a_week + timedelta(days=7))}?")
        found.day = today + timedelta(days=ahead)
        found.day_said = "weekday-today" if ahead == 0 else "weekday"
    match = _NUMERIC_DATE.search(text)
    if match and free(match) and found.day is None:
        take(match)
        found.day, found.day_said = _numeric_date(match, today), "date"
    for pattern in (_ISO_DATE, _MONTH_DATE):
        match = pattern.search(text)
        if match and free(match) and found.day is None:
            parsed = _calendar_date(match.group(0), now)
            if parsed is not None:
                take(match)
                found.day, found.day_said = parsed, "date"
    match = _DAY_OF_MONTH.search(text)
    if match and free(match) and found.day is None:
        take(match)
        found.day = _next_day_of_month(int(match.group("d")), today)
        found.day_said = "monthday-today" if found.day == today else "date"

    match = _NOON.search(text)
    if match and free(match):
        take(match)
        word = match.group(0).lower()
        found.clock, found.meridiem = ((0, 0), "am") if "midnight" in word else ((12, 0), "pm")
        if "midnight" in word:
            found.day = (found.day or today) + timedelta(days=1)
            found.day_said = found.day_said or "date"
    for match in _CLOCK.finditer(text):
        if not free(match) or found.clock is not None:
            continue
        clock = _clock(match)
        if clock is None:
            continue
        take(match)
        found.clock, found.meridiem = clock
    match = _PART.search(text)
    if match and free(match) and found.part is None:
        take(match)
        found.part = match.group("part").lower()

    if found.exact is not None:
        return _When(found.exact, "", tuple(spans))
    if found.day is None and found.clock is None and found.part is None:
        return None
    due, note = _resolve(found, now)
    if due <= now:
        raise NeedsClarification(f"{_format(due)} has already passed. When should I remind "
                                 "you?")
    return _When(due, " ".join(n for n in (found.note, note) if n), tuple(spans))


def _resolve(found: _Found, now: datetime) -> tuple[datetime, str]:
    today = now.date()
    hour_minute = found.clock
    meridiem = found.meridiem
    if hour_minute is None and found.part is not None:
        part = PARTS[found.part]
        hour_minute, meridiem = (part.hour, part.minute), "set"
    if hour_minute is None:
        day = found.day or today
        if found.day_said in _REPEATING and now.time().replace(tzinfo=None) >= DEFAULT_TIME:
            return (_at(_next_time_round(found, today), DEFAULT_TIME, now),
                    f"That's {_REPEATING[found.day_said]}; no time was given, so I chose 9:00.")
        if day == today:
            if now.time().replace(tzinfo=None) < DEFAULT_TIME:
                return _at(day, DEFAULT_TIME, now), "No time was given, so I chose 9:00."
            raise NeedsClarification("What time today should I remind you?")
        return _at(day, DEFAULT_TIME, now), "No time was given, so I chose 9:00."
    hour, minute = hour_minute
    if meridiem is None and found.part is not None:
        meridiem = "am" if found.part == "morning" else "pm"
        if found.part in ("night", "tonight") and hour == 12:
            meridiem = "am"  # "tonight at 12" is midnight
    candidates = _hours(hour, meridiem)
    if found.day is None:
        # A time with no day: the first of its readings still ahead today, else tomorrow's.
        for h in candidates:
            moment = _at(today, time(h % 24, minute), now)
            if moment > now:
                return moment, ""
        moment = _at(today + timedelta(days=1), time(candidates[0] % 24, minute), now)
        return moment, f"That's tomorrow: {moment:%H:%M} has passed today."
    if found.day_said in _REPEATING:
        for h in candidates:
            moment = _at(today, time(h % 24, minute), now)
            if moment > now:
                return moment, "That's today."
        moment = _at(_next_time_round(found, today), time(candidates[0] % 24, minute), now)
        return moment, f"That's {_REPEATING[found.day_said]}."
    day = found.day
    if day == today:
        for h in candidates:
            moment = _at(today, time(h % 24, minute), now)
            if moment > now:
                return moment, ""
        raise NeedsClarification(f"{time(candidates[0] % 24, minute):%H:%M} today has already "
                                 "passed. Should I remind you tomorrow instead?")
    return _at(day, time(candidates[0] % 24, minute), now), ""


# A day that names today ("Friday" on a Friday, "the 15th" on the 15th): today while the time
# is still ahead, else its next time round.
_REPEATING = {"weekday-today": "a week from today", "monthday-today": "next month"}


def _next_time_round(found: _Found, today: date) -> date:
    if found.day_said == "weekday-today":
        return today + timedelta(days=7)
    return _next_day_of_month(today.day, today + timedelta(days=1))


def _hours(hour: int, meridiem: str | None) -> list[int]:
    """The readings of a clock hour, in order of preference (see the module's rules)."""
    if meridiem == "set" or hour > 12 or hour == 0:
        return [hour]
    if meridiem == "am":
        return [0 if hour == 12 else hour]
    if meridiem == "pm":
        return [hour if hour == 12 else hour + 12]
    if hour == 12:
        return [12]
    if hour <= 6:
        return [hour + 12]
    return [hour, hour + 12]  # 7–11: the next one to come


def _at(day: date, clock: time, now: datetime) -> datetime:
    """A local wall-clock moment on ``day`` in the user's zone (DST-correct with a ZoneInfo:
    going through UTC normalises a time that does not exist on a spring-forward day)."""
    return datetime.combine(day, clock, tzinfo=now.tzinfo).astimezone(UTC).astimezone(now.tzinfo)


def _unit(match: re.Match[str]) -> str:
    unit = (match.group("unit") or match.group("unit2") or "").lower()
    if unit in ("m", "min", "mins") or unit.startswith("minute"):
        return "minutes"
    if unit in ("h", "hr", "hrs") or unit.startswith("hour"):
        return "hours"
    if unit.startswith("day"):
        return "days"
    if unit.startswith("w"):
        return "weeks"
    return "months"


def _relative(match: re.Match[str], now: datetime) -> datetime | None:
    if match.group("half"):
        minutes = 30 if match.group("half").lower().startswith("half") else 90
        return _plus(now, timedelta(minutes=minutes))
    if match.group("hh"):
        return _plus(now, timedelta(hours=int(match.group("hh")), minutes=int(match.group("mm"))))
    word = (match.group("n") or match.group("n2")).lower()
    word = " ".join(word.split())
    amount = float(word) if word[0].isdigit() else float(_NUMBERS.get(word, 0))
    if amount <= 0:
        return None
    if "and a half" in match.group(0).lower():
        amount += 0.5
    unit = _unit(match)
    extra = (match.group("extra") or "").lower()
    if extra and unit == "hours":  # "in 1 hour 30 minutes"
        return _plus(now, timedelta(hours=amount, minutes=int(extra) if extra.isdigit()
                                    else _NUMBERS.get(extra, 0)))
    if unit == "months":
        month = now.month - 1 + int(amount)
        year, month = now.year + month // 12, month % 12 + 1
        day = min(now.day, calendar.monthrange(year, month)[1])
        return now.replace(year=year, month=month, day=day)
    if unit in ("days", "weeks"):
        days = amount * (7 if unit == "weeks" else 1)
        return now + timedelta(days=days)
    return _plus(now, timedelta(**{unit: amount}))


def _plus(now: datetime, delta: timedelta) -> datetime:
    """Elapsed time, not wall-clock time: "in 2 hours" across a DST change is 2 real hours."""
    return (now.astimezone(UTC) + delta).astimezone(now.tzinfo).replace(microsecond=0)


def _clock(match: re.Match[str]) -> tuple[tuple[int, int], str | None] | None:
    if match.group("half_h"):
        hour = _hour(match.group("half_h"))
        return None if hour is None else ((hour, 30), None)
    mer = match.group("rel_mer") or match.group("mer")
    meridiem = None if not mer else ("am" if mer.lower().startswith("a") else "pm")
    if match.group("rel_h"):
        hour = _hour(match.group("rel_h"))
        rel = match.group("rel_m").lower()
        minutes = {"half": 30, "quarter": 15, "twenty": 20, "twenty-five": 25}.get(rel)
        if minutes is None:
            minutes = int(rel) if rel.isdigit() else _NUMBERS.get(rel, 0)
        if hour is None or not 0 < minutes < 60:
            return None
        if match.group("dir").lower() in ("to", "before"):
            hour, minutes = (hour - 1) % 24 or (12 if hour <= 12 else 0), 60 - minutes
        return (hour, minutes), meridiem
    hour = _hour(match.group("h"))
    words = (match.group("mw") or "").lower().replace(" ", "")
    minute = int(match.group("m")) if match.group("m") else {
        "thirty": 30, "fifteen": 15, "forty-five": 45, "o'five": 5, "ofive": 5}.get(words, 0)
    # A bare number is a time only when something says so: "at 6", "6pm", "6:30", "six
    # o'clock" — "buy 2 eggs" and "chapter 3" keep their numbers.
    said = match.group("at") or mer or match.group("m") or words
    if hour is None or not said or minute > 59:
        return None
    if hour > 23 or (meridiem and hour > 12):
        return None
    return (hour, minute), meridiem


def _hour(word: str) -> int | None:
    word = word.lower()
    if word.isdigit():
        return int(word)
    value = _NUMBERS.get(word)
    return value if value is not None and 1 <= value <= 12 else None


def _weekday_index(word: str) -> int | None:
    word = word.lower().rstrip(".")
    if word in WEEKDAYS:
        return WEEKDAYS.index(word)
    return _WEEKDAY_ABBREVIATIONS.get(word)


def _calendar_date(text: str, now: datetime) -> date | None:
    dateparser: Any = importlib.import_module("dateparser")  # slow import, untyped: on need
    cleaned = re.sub(r"^\s*on\s+", "", text, flags=re.I)
    parsed = dateparser.parse(cleaned, languages=["en"], settings={
        "PREFER_DATES_FROM": "future", "RELATIVE_BASE": now.replace(tzinfo=None),
        "REQUIRE_PARTS": ["day", "month"]})
    if not isinstance(parsed, datetime):
        return None
    day = parsed.date()
    if day < now.date() and not re.search(r"\d{4}", cleaned):
        day = day.replace(year=day.year + 1)  # "3 November" said in December: next year's
    return day


def _numeric_date(match: re.Match[str], today: date) -> date:
    """"3/12": day and month can be either way round (3 December or March 12), so unless one
    of them cannot be a month, it is a question."""
    a, b = int(match.group("a")), int(match.group("b"))
    if a <= 12 and b <= 12 and a != b:
        first, second = (date(2000, b, a), date(2000, a, b))
        raise NeedsClarification(f"Do you mean {first.day} {first:%B} or {second.day} "
                                 f"{second:%B}?")
    day, month = (a, b) if a > 12 or a == b else (b, a)
    year = match.group("y")
    try:
        if year:
            return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
        moment = date(today.year, month, day)
        return moment if moment >= today else date(today.year + 1, month, day)
    except ValueError:
        raise NeedsClarification(f"{a}/{b} is not a date I know: which day?") from None


def _next_day_of_month(day_of_month: int, today: date) -> date:
    """"On the 3rd": this month's if still ahead (or today), else the next month that has it."""
    year, month = today.year, today.month
    for _ in range(13):
        if day_of_month <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, day_of_month)
            if candidate >= today:
                return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise NeedsClarification(f"There is no day {day_of_month} in a month: which date?")


def _day_name(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def _format(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B} at {moment:%H:%M}"


def say_when(moment: datetime, now: datetime) -> str:
    """"today at 18:00", "tomorrow at 09:00", "on Friday 4 December at 18:00" (local)."""
    local = moment.astimezone(now.tzinfo)
    days = (local.date() - now.date()).days
    if days == 0:
        return f"today at {local:%H:%M}"
    if days == 1:
        return f"tomorrow at {local:%H:%M}"
    year = f" {local.year}" if local.year != now.year else ""
    return f"on {local:%A} {local.day} {local:%B}{year} at {local:%H:%M}"
