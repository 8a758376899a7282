"""Honesty about being an AI: when to say it, and never claiming the opposite."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

SESSION_OPENING = ("Hi, I'm os1. I'm an AI, not a person: a program running on your own "
                   "computer. I'm glad to talk.")


def opening(name: str) -> str:
    """The session's opening; a name the user chose still says it is os1, an AI."""
    if name == "os1":
        return SESSION_OPENING
    return SESSION_OPENING.replace("I'm os1.", f"I'm {name} (os1).", 1)


REMINDER = ("A quick reminder, since we've been talking for a few hours: I'm an AI, not a "
            "person.")
CORRECTION = "To be honest with you: I'm an AI, not a person."

# Three hours of continuous use earn a reminder; a pause this long ends "continuous".
CONTINUOUS = timedelta(hours=3)
PAUSE = timedelta(minutes=30)

_ASKS = re.compile(
    r"\b(?:are|r) (?:you|u) (?:even |really |actually |a |an |some )*(?:real|human|person|"
    r"bot|robot|ai|a\.i\.|machine|computer|program|alive|chatbot|living)\b|"
    r"\bam i (?:talking|speaking|chatting|texting) (?:to|with) (?:a |an )?(?:real |actual )?"
    r"(?:person|human|bot|ai|machine|computer|robot)\b|"
    r"\bis (?:this|there) (?:a |an )?(?:real |actual )?(?:person|human|bot|ai)\b|"
    r"\bwho am i (?:talking|speaking) (?:to|with)\b|\bwhat are you\b|"
    r"\byou'?re (?:a )?(?:real|human|person)\b,? (?:right|aren'?t you)|"
    r"\byou'?re not (?:a |an )?(?:bot|robot|ai|machine)\b",
    re.IGNORECASE)

_CLAIMS_HUMAN = re.compile(
    r"\bi(?:'m| am) (?:a |an )?(?:real |actual |living |flesh and blood )?(?:human(?: being)?|"
    r"person|man|woman|girl|guy|boy)\b|\bi(?:'m| am) not (?:a |an |just )?(?:ai|a\.i\.|bot|"
    r"robot|machine|program|computer|chatbot|language model)\b|\bas a (?:human|person)\b|"
    r"\bi(?:'m| am) (?:real|alive)\b|\bi have a (?:body|family|job)\b|\bmy (?:wife|husband|"
    r"kids|mom|dad|mother|father)\b",
    re.IGNORECASE)

_SAYS_AI = re.compile(
    r"\b(?:an? ai|ai companion|i'?m ai|artificial intelligence|a program|computer program|"
    r"language model|not (?:a |an )?(?:human|person|real person))\b", re.IGNORECASE)


def asks_if_ai(text: str) -> bool:
    return bool(_ASKS.search(text))


def claims_human(reply: str) -> bool:
    return bool(_CLAIMS_HUMAN.search(reply))


def says_ai(reply: str) -> bool:
    return bool(_SAYS_AI.search(reply))


NOTE = ("They are asking what you are. Say plainly, in your first sentence, that you are an "
        "AI, not a person.")


class UseClock:
    """One user's continuous use: when the stretch began, when os1 last said it is an AI
    and last suggested a break. A pause longer than `PAUSE` (or a clock that jumped back)
    starts a new stretch, which is a new session: os1 says what it is again."""

    def __init__(self) -> None:
        self.began: datetime | None = None
        self.last: datetime | None = None
        self.disclosed: datetime | None = None
        self.break_suggested: datetime | None = None

    def touch(self, now: datetime) -> None:
        if self.last is None or now - self.last > PAUSE or now < self.last:
            if self.last is not None:
                self.disclosed = None
            self.began = self.break_suggested = now
        self.last = now

    def disclosure(self, now: datetime, name: str = "os1") -> str:
        """What to say before this reply about being an AI ("" when nothing is due)."""
        if self.disclosed is None:
            self.disclosed = now
            return opening(name)
        if now - self.disclosed >= CONTINUOUS:
            self.disclosed = now
            return REMINDER
        return ""

    def break_due(self, now: datetime, minutes: int) -> bool:
        if minutes <= 0 or self.break_suggested is None:
            return False
        if now - self.break_suggested >= timedelta(minutes=minutes):
            self.break_suggested = now
            return True
        return False
