"""Names and places a letter mentions that nothing it was given mentions.

The small default model (Qwen2.5-1.5B: one letter of four seeds in a first run here) sometimes
gives the recipient a past they never had ("when you first arrived in Lisbon from New York"). Every
invention cannot be caught, but the proper names can: a capitalised word in mid-sentence that
is not in the memories, the request or the user's own words is a name the model made up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NAME = re.compile(r"[A-Z][\w'’-]*(?:[ ]+[A-Z][\w'’-]*)*")  # "New York" as one name
# Capitalised in English wherever they stand: never a sign of invention.
_ALWAYS_CAPITALISED = {
    "i", "i'm", "i've", "i'll", "i'd", "mom", "mum", "dad", "mother", "father", "grandma",
    "grandpa", "happy", "birthday", "christmas", "easter", "god", "english", "ok",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "love", "dear", "yours", "xo", "ps", "p.s",
}


def _mid_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t\"'(“‘")
    return bool(before) and before[-1] not in ".!?:\n"


def _key(word: str) -> str:
    key = word.rstrip("'’-").casefold()
    for suffix in ("'s", "’s"):
        key = key.removesuffix(suffix)
    return key


def invented_names(letter: str, given: Iterable[str]) -> list[str]:
    """Capitalised words in mid-sentence that appear in none of ``given`` (case-insensitive),
    as whole names ("New York"), in the order they first appear."""
    known = {w.casefold() for text in given for w in re.findall(r"[\w'’-]+", text)}
    found: list[str] = []
    for match in _NAME.finditer(letter):
        if not _mid_sentence(letter, match.start()):
            continue
        words = [_key(w) for w in match.group().split()]
        name = match.group().rstrip("'’-")
        if name.endswith(("'s", "’s")):
            name = name[:-2]
        if name not in found and any(w not in known and w not in _ALWAYS_CAPITALISED
                                     for w in words):
            found.append(name)
    return found
