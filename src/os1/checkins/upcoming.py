"""Something the user is about to do, found in one message: what it is and when it happens.

"I have a job interview on Thursday at 10" → the job interview, Thursday 10:00 in the user's
time. Deterministic and deliberately narrow: a follow-up about something that was never coming
(a past interview, a hypothetical one, a friend's exam, a date that was cancelled) is worse than
a missed one, so any doubt means None — a negation, a condition, past tense, someone else as the
subject, a day that could be read two ways, or no day at all.

Times are read relative to when the message was said, in the user's local timezone (the
``said_at`` passed in carries it). English only: other languages find nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

HORIZON = timedelta(days=120)  # further ahead than this is too far to plan a follow-up for
SMALL_HOURS_END = 4  # "tomorrow" said before 04:00 means the day that is starting
_PART_HOURS = {"morning": 9, "afternoon": 14, "evening": 19, "night": 20}
_PART_ENDS = {"morning": 12, "afternoon": 18, "evening": 23, "night": 24}


@dataclass(frozen=True)
class Upcoming:
    about: str  # how a check-in names it: "the job interview", "your sister's wedding"
    words: tuple[str, ...]  # words a later message about it would use ("interview")
    starts: datetime  # local; midnight of the day (or a part of it) when no hour was said
    has_time: bool  # an hour was said ("at 10", "in two hours")
    days: int = 1  # how many days it may fall on ("next week": 7, "this weekend": 2)
    part: str = ""  # "morning", "afternoon", "evening" or "night" when said instead of an hour


# -- what: the events worth a follow-up ----------------------------------------------------

_ADJ = (r"(?:(?:big|huge|important|scary|first|second|final|last|next|real|little|new|"
        r"upcoming|long-awaited)\s+)*")


@dataclass(frozen=True)
class _Event:
    pattern: str  # the noun phrase, lowercase, without determiner or adjectives
    head: str
    bare: bool = True  # may stand without my/a/an/our or a qualifier ("date" may not)
    shared: bool = False  # someone close's is worth asking about too ("my sister's wedding")


_EVENTS: tuple[_Event, ...] = (
    _Event(r"(?:(?:job|phone|video|final|second|third|work|internship|college|school|visa|"
           r"university|uni)\s+)?interviews?", "interview"),
    _Event(r"(?:(?:final|math|maths|chemistry|physics|biology|history|law|bar|board|entrance|"
           r"oral|written|medical|nursing|language|spanish|french|german|english|driving)\s+)?"
           r"exams?|finals|midterms?", "exam"),
    _Event(r"(?:driving|road|math|maths|chemistry|physics|biology|history|spanish|french|german|"
           r"english|blood|eye|hearing|allergy|citizenship|theory|fitness)\s+tests?", "test"),
    _Event(r"(?:(?:work|class|sales|team|conference|thesis|school)\s+)?presentations?",
           "presentation"),
    _Event(r"(?:(?:sales|investor|startup)\s+)?pitch", "pitch", bare=False),
    _Event(r"(?:(?:dentist|dentist's|dental|doctor|doctor's|doctors|eye|vet|hair|hospital|"
           r"therapy|therapist|medical|gp|gp's|clinic|specialist|physio|optician|orthodontist|"
           r"dermatologist|visa|embassy|immigration|bank|lawyer)\s+)?appointments?",
           "appointment"),
    _Event(r"(?:(?:annual|dental|medical|doctor's|yearly)\s+)?check-?ups?", "checkup"),
    _Event(r"(?:(?:knee|hip|back|eye|heart|dental|laser|minor|major)\s+)?(?:surgery|operation)",
           "surgery", shared=True),
    _Event(r"weddings?", "wedding", shared=True),
    _Event(r"(?:(?:first|second|third|blind|dinner|coffee|hot|tinder|hinge|bumble)\s+)?date",
           "date", bare=False),
    _Event(r"(?:(?:business|road|work|school|family|camping|ski|weekend)\s+)?trip", "trip"),
    _Event(r"flight", "flight"),
    _Event(r"auditions?", "audition"),
    _Event(r"(?:(?:piano|violin|dance|music)\s+)?recitals?", "recital", shared=True),
    _Event(r"concerts?|gig", "concert"),
    _Event(r"performance review|annual review", "review"),
    _Event(r"graduation(?: ceremony)?", "graduation", shared=True),
    _Event(r"(?:thesis|dissertation|phd|doctoral) defen[cs]e|viva", "defense"),
    _Event(r"court hearing|court date|hearing", "hearing", bare=False),
    _Event(r"half[- ]marathon|marathon|triathlon|race", "race", bare=False),
    _Event(r"(?:(?:birthday|engagement|farewell|leaving|going-away|christmas|office|dinner|"
           r"house|surprise)\s+)?party", "party", bare=False, shared=True),
    _Event(r"(?:big|important|board|client|investor) meeting", "meeting"),
    _Event(r"first day(?: at (?:the |my )?(?:new )?(?:job|work|school|office|uni))?",
           "first day"),
)
_BY_HEAD = {event.head: event for event in _EVENTS}
_EVENT = re.compile(
    r"\b(?P<adj>" + _ADJ + r")(?P<noun>"
    + "|".join(f"(?P<e{i}>{event.pattern})" for i, event in enumerate(_EVENTS)) + r")\b"
    # "exam results tomorrow", "wedding dress fitting": something about it, not the thing
    r"(?!\s+(?:results?|grades?|scores?|marks|prep|notes|schedule|season|period|forms?|"
    r"papers?|questions|dress|outfit|invites?|invitations?|planning|photos|pictures|tips|"
    r"fitting|rehearsal|practice))")

# People close enough that their big day is the user's too.
_CLOSE = (r"(?:sister|brother|mom|mum|mother|dad|father|parents|son|daughter|kid|kids|"
          r"partner|husband|wife|boyfriend|girlfriend|fiance|fiancee|fiancé|fiancée|"
          r"best friend|grandma|grandpa|grandmother|grandfather|cousin|aunt|uncle|niece|nephew|"
          r"friend)")
_OWNED = re.compile(r"\b(?:my|our)\s+$")
_CLOSE_OWNED = re.compile(r"\b(?:my|our)\s+(?P<who>" + _CLOSE + r")(?:'s|s')\s+$")
_NAME_OWNED = re.compile(r"\b(?P<who>[a-z][a-z-]+)(?:'s|s')\s+$")
_OTHERS_OWNED = re.compile(r"\b(?:his|her|their|your|its|whose)\s+$|'s\s+$|s'\s+$")

# Travel: "flying to Lisbon next week" → the trip to Lisbon.
_TRAVEL = re.compile(
    r"\b(?P<verb>fly|flying|flight|flights|travel|travell?ing|trip|drive|driving|going|heading|"
    r"leaving|off)\s+(?:back\s+|out\s+|over\s+|down\s+|up\s+)?(?:to|for)\s+"
    r"(?P<dest>[a-z][a-z'-]*(?:\s+[a-z][a-z'-]*)?)")
_TRAVEL_ANY_DEST = {"fly", "flying", "flight", "flights", "travel", "traveling", "travelling",
                    "trip"}  # these need no capitalised place ("flying to see mum")
_NOT_PLACES = frozenset(re.findall(r"\w+", """
    a an the my our your his her their see visit meet pick be get go do work school bed sleep
    class church town uni college hospital dentist doctor gym office store shop shops party
    wedding interview exam lunch dinner breakfast it this that there"""))

# -- doubt: anything that says it is not (or not surely) the user's, not coming, not real --

_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|ive|i'll|i'd|me|my|mine|we|we're|we've|we'll|"
                           r"our|us)\b")
_THIRD_PERSON = re.compile(r"\b(?:he|she|they|he's|she's|they're|his|her|their|him|them|you|"
                           r"you're|your|everyone)\b")
_RELATION_SUBJECT = re.compile(
    r"\b(?:" + _CLOSE + r"|boss|manager|colleague|coworker|co-worker|roommate|flatmate|"
    r"neighbou?r|team|teacher|family|friends|someone|somebody)\s+"
    r"(?:has|have|had|is|are|was|were|will|got|gets|'s (?:got|going|having|getting|flying|off)|"
    r"'re)\b")
_NAME_SUBJECT = re.compile(r"\b([A-Z][a-z]+)\s+(?:has|have|had|is|are|was|will|got|gets|"
                           r"'s (?:got|going|having|getting|flying|off))\b")
_NOT_NAMES = frozenset(re.findall(r"\w+", """
    i it that this there today tomorrow tonight what which who my our the interview exam
    flight trip date wedding presentation appointment surgery party"""))
_BENIGN = re.compile(
    r"\b(?:can'?t wait|cannot wait|can'?t believe|can'?t sleep|couldn'?t sleep|not ready|"
    r"not prepared|don'?t feel ready|not sure (?:what|how)|no idea (?:what|how)|"
    r"don'?t know (?:what|how)|wish me luck|fingers crossed|not gonna lie|no pressure|"
    r"don'?t forget|thank you|thanks|see you|love you|you know|never mind|can'?t stop|"
    r"(?:what|how) should i)\b")
_NEGATED = re.compile(
    r"\b(?:not|no|never|don'?t|do not|didn'?t|did not|doesn'?t|does not|won'?t|will not|"
    r"isn'?t|aren'?t|wasn'?t|weren'?t|haven'?t|hasn'?t|can'?t|cannot|couldn'?t|without|"
    r"nobody|none|nothing)\b")
_HYPOTHETICAL = re.compile(
    r"\b(?:if|unless|whether|in case|maybe|perhaps|might|could|would|should|wish|hope to get|"
    r"hoping to get|want to get|wanna get|trying to get|someday|some day|one day|ever|"
    r"imagine|suppose|supposed to|what if|planning|plan to|considering|apply|applied|"
    r"applying|probably|or not|dream|dreaming|pretend|fictional|movie|show|episode|"
    r"book|novel|game)\b")
_PAST = re.compile(
    r"\b(?:had|was|were|went|did|yesterday|ago|last (?:night|week|weekend|month|year|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)|earlier|already|finished|"
    r"passed|failed|got back|came back|been to|used to|how it went|went well|over now)\b")
_HABIT = re.compile(r"\b(?:every|usually|always|often|sometimes|each|weekly|monthly|"
                    r"(?:mon|tues|wednes|thurs|fri|satur|sun)days|weekends)\b")
# Anywhere in the message: the plan changed, so the day we would read may be wrong.
_CHANGED = re.compile(
    r"\b(?:cancel+ed|cancel|cancelling|called off|call(?:ed)? it off|postponed?|postponing|"
    r"rescheduled?|moved|pushed back|delayed|no longer|anymore|any more|not going)\b")

# -- when ----------------------------------------------------------------------------------

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = {name: number for number, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
    ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
    ("oct", "october"), ("nov", "november"), ("dec", "december")), start=1) for name in names}
_MONTH = "(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + ")"
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
            "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a couple": 2,
            "couple of": 2}
_PART = r"(?:\s+(?P<part>morning|afternoon|evening|night))?"

_RELATIVE = re.compile(
    r"\b(?P<word>today|tonight|tonite|tomorrow|tomorow|tommorow|tommorrow|tmrw|tmr)" + _PART
    + r"\b")
_THIS_PART = re.compile(r"\bthis (?P<part>morning|afternoon|evening)\b")
_WEEKS = re.compile(r"\b(?P<which>this|next|coming|on the|at the) (?P<span>weekend|week)\b")
_WEEKDAY = re.compile(r"\b(?:(?P<mod>on|this|next|coming)\s+)?(?P<day>" + "|".join(_WEEKDAYS)
                      + r")\b" + _PART + r"\b")
_IN = re.compile(r"\bin\s+(?P<n>a couple of|a couple|couple of|an?|one|two|three|four|five|six|"
                 r"seven|eight|nine|ten|\d{1,2})\s+(?P<unit>minutes?|mins?|hours?|hrs?|days?|"
                 r"weeks?)\b")
_NTH = re.compile(r"\b(?:on\s+)?the\s+(?P<n>\d{1,2})(?:st|nd|rd|th)\b(?!\s+(?:of\s+)?" + _MONTH
                  + r")")
_MONTH_DAY = re.compile(r"\b(?:on\s+)?(?P<month>" + _MONTH + r")\.?\s+(?P<n>\d{1,2})"
                        r"(?:st|nd|rd|th)?\b(?!:)")
_DAY_MONTH = re.compile(r"\b(?:on\s+)?(?:the\s+)?(?P<n>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?"
                        r"(?P<month>" + _MONTH + r")\b")
_CLOCK = re.compile(
    r"\bat\s+(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?(?![\d%])"
    r"(?!\s*(?:percent|years?|minutes?|people|degrees|kg|km))"
    r"|\b(?P<h2>\d{1,2})(?::(?P<m2>\d{2}))?\s*(?P<ampm2>[ap]\.?m\.?)(?!\w)"
    r"|\bat\s+(?P<word>noon|midday|midnight)\b")
_LOOSE_PART = re.compile(r"\b(?:in the (?P<part>morning|afternoon|evening)|at (?P<night>night))\b")


@dataclass(frozen=True)
class _When:
    start: int
    end: int
    day: date
    days: int = 1
    part: str = ""
    at: datetime | None = None  # an exact moment ("in two hours")


def upcoming(text: str, said_at: datetime) -> Upcoming | None:
    """The first upcoming thing of the user's in ``text`` worth asking about afterwards, read
    relative to ``said_at`` (timezone-aware, the user's local time); None when in doubt."""
    if said_at.tzinfo is None:
        raise ValueError("said_at must carry the user's timezone.")
    text = _plain(text[:2000])
    if _CHANGED.search(text.lower()):
        return None
    for sentence in re.split(r"(?<=[.!?;])\s+|\n+", text):
        found = _in_sentence(sentence, said_at)
        if found is not None:
            return found
    return None


def event_phrase(text: str) -> tuple[str, tuple[str, ...]] | None:
    """The event a remembered statement names, as (about, words): "The user has a job
    interview on Thursday." → ("the job interview", ("interview",)). No checks of tense or
    owner: memory extraction has already decided that it is the user's and when it is."""
    sentence = _plain(text[:2000])
    lower = sentence.lower()
    travel = _travel(lower, sentence)
    if travel is not None:
        return travel[0], travel[1]
    match = _EVENT.search(lower)
    if match is None:
        return None
    event = _event_of(match)
    if not event.bare and not _qualified(match, lower):
        return None
    return _about(match, event, ""), _words(match, event)


def _plain(text: str) -> str:
    """Straight apostrophes, control characters as spaces (line breaks kept: they end
    sentences), and one character per character in lower case, so offsets found in the
    lower-case text point at the same words in what the user wrote."""
    text = text.replace("’", "'").replace("‘", "'")
    text = "".join(c if c.isprintable() or c == "\n" else " " for c in text)
    return text if len(text.lower()) == len(text) else text.lower()


def _in_sentence(sentence: str, said_at: datetime) -> Upcoming | None:
    lower = sentence.lower()
    doubt = _BENIGN.sub(" ", lower)
    if (_NEGATED.search(doubt) or _HYPOTHETICAL.search(doubt) or _PAST.search(doubt)
            or _HABIT.search(doubt)):
        return None
    found = _what(sentence, lower)
    if found is None:
        return None
    about, words, span = found
    whens = _whens(lower, said_at)
    if not whens:
        return None
    when = min(whens, key=lambda w: _distance((w.start, w.end), span))
    return _moment(about, words, when, lower, said_at)


def _what(sentence: str, lower: str) -> tuple[str, tuple[str, ...], tuple[int, int]] | None:
    """The event in the sentence that is the user's: (about, words, where it was said)."""
    travel = _travel(lower, sentence)
    if travel is not None and _users(lower, sentence, travel[2][0]):
        return travel
    for match in _EVENT.finditer(lower):
        event = _event_of(match)
        before = lower[: match.start()]
        if not event.bare and not _qualified(match, lower):
            continue
        close = _CLOSE_OWNED.search(before)
        if close is not None:
            if event.shared:
                return (_about(match, event, f"your {close.group('who')}'s "), _words(match, event),
                        match.span())
            continue
        if _OWNED.search(before):
            return _about(match, event, ""), _words(match, event), match.span()
        named = _NAME_OWNED.search(before)
        if named is not None:
            # "I'm going to Maria's wedding": a name the user wrote with a capital, at an
            # event of theirs they are part of; "Tom's exam" is not.
            shown = _written(sentence, named.start("who"), named.end("who"))
            if event.shared and shown and _users(lower, sentence, len(lower)):
                return _about(match, event, f"{shown}'s "), _words(match, event), match.span()
            continue
        if _OTHERS_OWNED.search(before):
            continue
        if _users(lower, sentence, match.start()):
            return _about(match, event, ""), _words(match, event), match.span()
    return None


def _event_of(match: re.Match[str]) -> _Event:
    for i, event in enumerate(_EVENTS):
        if match.group(f"e{i}") is not None:
            return event
    raise AssertionError("the event pattern matched no event")


_FILLER = re.compile(r"\b(?:so|ugh|omg|oh|ok|okay|yay|and|a|an|big|got|have|hey|hi|well)\b"
                     r"|[^a-z ]")


def _qualified(match: re.Match[str], lower: str) -> bool:
    """A word that may be something else ("date", "race", "party") counts only with a
    qualifier, my/our/a/an before it, "with …" after it, or at the start ("date tonight!")."""
    if match.group("adj") or " " in match.group("noun"):
        return True
    before, after = lower[: match.start()], lower[match.end():]
    if re.search(r"\b(?:my|our|a|an)\s+$", before) or re.match(r"\s+(?:with|night)\b", after):
        return True
    return not _FILLER.sub("", before).split()


def _users(lower: str, sentence: str, start: int) -> bool:
    """An event with no owner word is the user's when they are the subject and nobody else
    is in the sentence, or when the message is telegraphic ("big presentation this
    afternoon"): nothing but filler before it."""
    if _THIRD_PERSON.search(_BENIGN.sub(" ", lower)) or _RELATION_SUBJECT.search(lower):
        return False
    for name in _NAME_SUBJECT.findall(sentence):
        if not _not_a_place(name):  # a name as a subject: "Tom has a date tonight"
            return False
    if _FIRST_PERSON.search(lower):
        return True
    return not _FILLER.sub("", lower[:start]).split()


def _travel(lower: str, sentence: str) -> tuple[str, tuple[str, ...], tuple[int, int]] | None:
    """"flying to Lisbon next week" → the trip to Lisbon. A place is a word the user wrote
    with a capital; after "fly" or "trip" a lower-case one is taken too ("flying to lisbon"),
    but "going to work" or "heading to the gym" is no trip."""
    for match in _TRAVEL.finditer(lower):
        verb = match.group("verb")
        written = sentence[match.start("dest"): match.end("dest")].split()
        place: list[str] = []
        for word in written:
            if not word[:1].isupper() or _not_a_place(word):
                break
            place.append(word)
        if not place and verb in _TRAVEL_ANY_DEST and written and not _not_a_place(written[0]):
            place = [written[0].capitalize()]
        if not place:
            if verb in ("flight", "flights", "trip"):
                return f"the {verb.rstrip('s')}", ("flight", "trip"), match.span()
            continue
        shown = " ".join(place)
        # Flying on a given day: ask about the flight that evening; a trip over days (or
        # "next week") is asked about as a trip, at its end.
        thing = "flight" if verb.startswith("fl") else "trip"
        return (f"the {thing} to {shown}", ("trip", "flight", *shown.lower().split()),
                match.span())
    return None


def _not_a_place(word: str) -> bool:
    """Not a name: a common word, a day, a month, a possessive."""
    word = word.lower()
    return (word in _NOT_PLACES or word in _NOT_NAMES or word in _WEEKDAYS or word in _MONTHS
            or word.endswith("'s") or not word.isalpha())


def _written(sentence: str, start: int, end: int) -> str | None:
    """The words at [start, end) as the user wrote them, if with a capital (a name)."""
    shown = sentence[start:end]
    if not shown[:1].isupper() or _not_a_place(shown):
        return None
    return shown


def _about(match: re.Match[str], event: _Event, owner: str) -> str:
    noun = " ".join(match.group("noun").split())
    if event.head == "first day":
        return "your " + noun
    adjectives = [a for a in match.group("adj").split() if a not in ("next", "upcoming")]
    phrase = " ".join([*adjectives, noun])
    return f"{owner}{phrase}" if owner else f"the {phrase}"


def _words(match: re.Match[str], event: _Event) -> tuple[str, ...]:
    """The head ("exam") and the user's own noun ("finals"): what a later message about it
    would likely say."""
    noun = match.group("noun").split()[-1].rstrip("s") if event.head != "first day" else ""
    return tuple(w for w in dict.fromkeys((event.head, noun)) if w)


def _distance(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, b[0] - a[1], a[0] - b[1])


def _whens(lower: str, said_at: datetime) -> list[_When]:
    today = said_at.date()
    found: list[_When] = []
    for m in _RELATIVE.finditer(lower):
        word, part = m.group("word"), m.group("part") or ""
        if word == "today":
            day = today
        elif word in ("tonight", "tonite"):
            day, part = today, "night"
        else:  # tomorrow: said in the small hours, the day that is starting
            day = today if said_at.hour < SMALL_HOURS_END else today + timedelta(days=1)
        found.append(_When(m.start(), m.end(), day, part=part))
    for m in _THIS_PART.finditer(lower):
        found.append(_When(m.start(), m.end(), today, part=m.group("part")))
    for m in _WEEKS.finditer(lower):
        which, span = m.group("which"), m.group("span")
        monday = today - timedelta(days=today.weekday())
        if span == "week":
            if which == "next":
                found.append(_When(m.start(), m.end(), monday + timedelta(days=7), days=7))
            continue  # "this week": too loose to follow up on a day
        saturday = monday + timedelta(days=5)
        if which == "next":
            saturday += timedelta(days=7)
        if today > saturday:  # Sunday: "this weekend" is today
            found.append(_When(m.start(), m.end(), today))
        else:
            found.append(_When(m.start(), m.end(), saturday, days=2))
    for m in _WEEKDAY.finditer(lower):
        weekday = _WEEKDAYS.index(m.group("day"))
        ahead = (weekday - today.weekday()) % 7
        mod = m.group("mod")
        if mod == "next":
            if ahead and weekday > today.weekday():
                continue  # "next Friday" said on a Monday: this week's or the next? Unsure.
            ahead = ahead or 7
        elif ahead == 0 and mod != "this":
            ahead = 7  # "on Thursday", said on a Thursday: the next one
        found.append(_When(m.start(), m.end(), today + timedelta(days=ahead),
                           part=m.group("part") or ""))
    for m in _IN.finditer(lower):
        n, unit = _NUMBERS.get(m.group("n")) or int(m.group("n")), m.group("unit")
        if unit.startswith(("min", "hour", "hr")):
            minutes = n if unit.startswith("min") else n * 60
            moment = said_at + timedelta(minutes=minutes)
            found.append(_When(m.start(), m.end(), moment.date(), at=moment))
        else:
            found.append(_When(m.start(), m.end(),
                               today + timedelta(days=n * (7 if unit.startswith("week") else 1))))
    for m in _NTH.finditer(lower):
        nth = _month_day(today, today.month, int(m.group("n")), roll_month=True)
        if nth is not None:
            found.append(_When(m.start(), m.end(), nth))
    for pattern in (_MONTH_DAY, _DAY_MONTH):
        for m in pattern.finditer(lower):
            dated = _month_day(today, _MONTHS[m.group("month")], int(m.group("n")),
                               roll_month=False)
            if dated is not None:
                found.append(_When(m.start(), m.end(), dated))
    if not found:
        clock = _CLOCK.search(lower)
        if clock is not None:  # "interview at 3": today, if 3 o'clock is still ahead
            found.append(_When(clock.start(), clock.end(), today))
    return found


def _month_day(today: date, month: int, day: int, *, roll_month: bool) -> date | None:
    """The next such date from today on: this month's (or year's), else the next one."""
    try:
        if roll_month:
            candidate = date(today.year, month, day)
            if candidate < today:
                year, month = (today.year + 1, 1) if month == 12 else (today.year, month + 1)
                candidate = date(year, month, day)
            return candidate
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None  # the 31st of a 30-day month, the 29th of February in a common year


def _moment(about: str, words: tuple[str, ...], when: _When, lower: str,
            said_at: datetime) -> Upcoming | None:
    tz = said_at.tzinfo
    if when.days > 1 and about.startswith("the flight to "):
        about = "the trip to " + about.removeprefix("the flight to ")
    if when.at is not None:
        return Upcoming(about, words, when.at, has_time=True)
    part = when.part
    if not part:
        loose = _LOOSE_PART.search(lower)
        if loose is not None:
            part = loose.group("part") or "night"
    clock = _CLOCK.search(lower) if when.days == 1 else None
    if clock is not None:
        hour_minute = _clock(clock, part)
        if hour_minute is None:
            return None
        starts = datetime.combine(when.day, time(*hour_minute), tzinfo=tz)
        if starts <= said_at or starts - said_at > HORIZON:
            return None
        return Upcoming(about, words, starts, has_time=True)
    if when.day == said_at.date() and part and said_at.hour >= _PART_ENDS[part]:
        return None  # "this morning", said in the afternoon: it has passed
    last_day = when.day + timedelta(days=when.days - 1)
    if last_day < said_at.date() or when.day - said_at.date() > HORIZON:
        return None
    starts = datetime.combine(when.day, time(_PART_HOURS[part] if part else 0), tzinfo=tz)
    return Upcoming(about, words, starts, has_time=False, days=when.days, part=part)


def _clock(match: re.Match[str], part: str) -> tuple[int, int] | None:
    """(hour, minute) of "at 10", "3pm", "at 7:30 in the evening", "at noon"."""
    word = match.group("word")
    if word is not None:
        return (0, 0) if word == "midnight" else (12, 0)
    hour = int(match.group("h") or match.group("h2"))
    minute = int(match.group("m") or match.group("m2") or 0)
    ampm = (match.group("ampm") or match.group("ampm2") or "").replace(".", "")
    if hour > 23 or minute > 59 or (ampm and not 1 <= hour <= 12):
        return None
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    elif not ampm and hour < 12 and (part in ("afternoon", "evening", "night") or 1 <= hour <= 6):
        hour += 12  # no am/pm: the part of day decides; else 7–11 are mornings, 1–6 afternoons
    return hour, minute
