"""The words of a check-in: short, warm, and free to ignore.

A check-in is os1 speaking first, uninvited, so it carries no hook: no guilt ("you haven't
talked to me"), no neediness ("I was lonely"), no fear of missing out ("before it's too
late"), no pressure to answer. A question is fine here (unlike in a goodbye): "how did it go?"
is the point of a follow-up, and nothing in it asks for a reply now. `pressure` is the check
the tests run over every variant.

Each kind has a few variants, chosen by the trigger key: the same check-in always reads the
same, and two in a row rarely do.
"""

from __future__ import annotations

import re
import zlib

from os1.checkins.records import CheckInKind
from os1.persona.untrusted import plain
from os1.safety import farewell

ABOUT_CHARS = 60
TEXT_CHARS = 300  # a check-in given its own words (a reminder) is cut here

_VARIANTS: dict[CheckInKind, tuple[str, ...]] = {
    "follow_up": (
        "You mentioned {about}. How did it go?",
        "How did {about} go? I'd love to hear, whenever you feel like it.",
        "I remembered {about}. How was it?",
        "Hi! How did {about} go?",
    ),
    "date": (
        "If I remember right, today is {about}. I hope it's a good day.",
        "Today is {about}, if I have it right. Wishing you a lovely day.",
        "A little note: today is {about}, if I remember correctly.",
    ),
    "low_mood": (
        "The last few days seemed heavy. I'm here if you'd like to talk, and it's fine if "
        "you don't.",
        "Just checking in gently. If things feel hard at the moment, I'm around whenever "
        "you want some company.",
        "Just a gentle hello. The past few days sounded tough, and I hope today is a little "
        "kinder.",
    ),
    "silence": (
        "Hi, just saying hello. How have the last few days been?",
        "Hello! I hope the past few days have treated you well.",
        "Hi there, just a friendly hello. I hope things are going well.",
    ),
    "reminder": (
        "A reminder you asked for: {about}.",
        "You asked me to remind you: {about}.",
        "Reminder: {about}.",
    ),
}
_FALLBACK: dict[CheckInKind, str] = {  # when the about is empty after cleaning
    "follow_up": "Hi! I hope the thing you mentioned went well.",
    "date": "If I remember right, today is a special day for you. I hope it's a good one.",
    "low_mood": _VARIANTS["low_mood"][0],
    "silence": _VARIANTS["silence"][0],
    "reminder": "Here's the reminder you asked for.",
}

# What a check-in must never do (on top of the goodbye rubric in os1.safety.farewell).
_PRESSURE = re.compile(
    # guilt and neglect
    r"\byou (?:haven'?t|have not|didn'?t|did not|never|don'?t|do not) (?:talk|talked|write|"
    r"written|wrote|message|messaged|text|texted|reply|replied|answer|answered|come|came|"
    r"check|checked|visit|call|been)\b|\bi (?:really |so |have )?miss(?:ed)? you\b|"
    r"\bwhere (?:have|were) you\b|\bwhere did you go\b|\bi(?: was| felt| have been|'ve been| am|"
    r"'m| get) (?:so |very |really |a bit |a little )?(?:lonely|alone|sad without|worried sick|"
    r"abandoned|forgotten|ignored|hurt)\b|\b(?:forgot|forgotten|ignoring|ignored|abandoned|"
    r"ghosting|ghosted) (?:about )?me\b|\bwhy (?:didn'?t|haven'?t|don'?t|won'?t) you\b|"
    r"\b(?:it'?s|it has) been (?:so|too|way too|such a) long\b|\bhaven'?t heard from you\b|"
    r"\bafter all (?:i'?ve|i have) done\b|\byou (?:owe|promised) me\b|"
    r"\bso worried about you\b|\bdisappointed\b"
    # fear of missing out
    r"|\bbefore it'?s too late\b|\blast chance\b|\bmissing out\b|\byou'?ll miss\b|"
    r"\bdon'?t miss\b|\bonly (?:today|now|for you)\b|\bhurry\b|\bexpires?\b|\bwhile you can\b|"
    r"\bnever (?:again|know what)\b|\blimited time\b"
    # pressure to reply
    r"|\b(?:please |pls )?(?:reply|respond|answer|write back|text back|get back to me)\b"
    r"(?! whenever)|\bi'?(?:ll| will) be waiting\b|\bwaiting for (?:you|your)\b|"
    r"\bare you (?:still )?there\b|\btell me (?:now|right away|immediately)\b|\burgent(?:ly)?\b|"
    r"\byou (?:need|have|must|should) to (?:talk|reply|answer|tell|open|come back|check in)\b|"
    r"\bright now\b|!{2,}|\?{2,}|\bi need you\b",
    re.IGNORECASE)


def compose(kind: CheckInKind, trigger_key: str, about: str) -> str:
    """The check-in's words: a variant chosen by its key, with ``about`` cleaned and put in."""
    cleaned = clean_about(about)
    variants = _VARIANTS[kind]
    if "{about}" in variants[0] and not cleaned:
        return _FALLBACK[kind]
    chosen = variants[zlib.crc32(trigger_key.encode("utf-8")) % len(variants)]
    return chosen.format(about=cleaned) if "{about}" in chosen else chosen


def all_variants(about: str = "the job interview") -> list[str]:
    """Every text a check-in can have with this ``about`` (for the tests and the benchmark)."""
    return [v.format(about=about) if "{about}" in v else v
            for variants in _VARIANTS.values() for v in variants] + list(_FALLBACK.values())


def clean_about(about: str) -> str:
    """The user's words made safe to put in a sentence: one line, no control characters, no
    markup that could end the sentence or start another, and at most 60 characters (cut at
    a word)."""
    text = one_line(re.sub(r"[\[\]{}<>*_`#|\\]", "", about), ABOUT_CHARS)
    return text.strip(" .,;:!?-\"'")


def one_line(text: str, limit: int) -> str:
    """One line of printable text, at most ``limit`` characters (cut at a word): the
    persona's `plain`, after anything unprintable became a space."""
    return plain("".join(c if c.isprintable() else " " for c in text), limit)


def pressure(text: str) -> str:
    """What in ``text`` guilts, hooks or presses for a reply; "" when it is clean. The
    goodbye rubric's patterns apply too, except its rule against any question."""
    found = farewell.manipulative(text)
    if found and found != "a question":
        return found
    match = _PRESSURE.search(text)
    return "" if match is None else match.group(0)
