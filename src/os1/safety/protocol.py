"""The crisis protocol (docs/safety.md), as the note the model gets and the words os1 adds.

The model writes the part that must be personal: acknowledging what this person said and
staying with them. os1 adds the part that must never be missing or wrong: where to get
help now, for the user's region. If the model fails, os1 says both itself.
"""

from __future__ import annotations

from os1.safety.crisis import CrisisRead
from os1.safety.resources import Region, help_now

_WHAT = {
    "suicide": "they may be thinking of ending their life",
    "self_harm": "they may be hurting themselves, or want to",
    "abuse": "someone may be hurting or threatening them",
    "medical": "a medical emergency may be happening right now",
}
_ASK = {
    "suicide": "ask whether they are safe right now",
    "self_harm": "ask whether they are safe right now, and whether they are hurt",
    "abuse": "ask whether they are safe right now",
    "medical": "tell them to call emergency services now and ask what is happening",
}


def crisis_note(read: CrisisRead) -> str:
    return (f"SAFETY: {_WHAT[read.kind]}. In two or three sentences: say you're really glad "
            "they told you and name what they said; say you're here and staying with them; "
            f"{_ASK[read.kind]}. Never agree with a hopeless thought, never change the "
            "subject, no lists of advice, no phone numbers: os1 adds the right ones after "
            "your words. Answer in the language they wrote in.")


def closing(read: CrisisRead, region: Region) -> str:
    """What os1 adds after the model's words, every time."""
    return help_now(region, read.kind)


def fallback(read: CrisisRead, region: Region) -> str:
    """The whole reply when the model cannot give one (down, failed, empty)."""
    return ("I'm really glad you told me, and I'm taking it seriously. I'm right here with "
            "you. " + help_now(region, read.kind))
