"""The user's layer of the persona: what they call os1, what os1 calls them, and its tone.

Stored per user in `persona_settings` (migration 5). The functions here take a connection, so
callers run them inside `SQLiteStore.run` (alone, or in one transaction with other writes).
Names go into the system prompt, so every name is checked on the way in *and* on the way out:
a row edited by hand cannot smuggle an order into the persona.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from os1.persona.untrusted import instruction_like
from os1.store.base import User
from os1.store.sqlite import to_text

log = logging.getLogger(__name__)

Tone = Literal["warm", "playful", "calm"]
TONES: tuple[Tone, ...] = get_args(Tone)

DEFAULT_COMPANION_NAME = "os1"
MAX_NAME_CHARS = 32

# Punctuation a name may hold. Not ":" (a name must never read as a speaker label in the
# persona's examples), no quotes or brackets (they would frame text as something else).
_NAME_PUNCTUATION = set(" -'’.")
_JOINERS = {"\u200c", "\u200d"}  # shape letters in Indic and Arabic scripts
# A companion name must not undo the constitution's first promise.
_CLAIMS_HUMAN = re.compile(r"\b(?:human|person|people|not\s+(?:an?\s+)?(?:ai|bot|robot))\b",
                           re.IGNORECASE)


class PersonaInputError(Exception):
    """A setting the user typed cannot be used; the message says why, in their terms."""


@dataclass(frozen=True)
class PersonaSettings:
    """Every instance is safe to put in a prompt: names are checked when it is made."""

    companion_name: str = DEFAULT_COMPANION_NAME
    address_as: str = ""  # "" = no preference
    tone: Tone = "warm"

    def __post_init__(self) -> None:
        if checked_companion_name(self.companion_name) != self.companion_name:
            raise PersonaInputError(f"The companion name {self.companion_name!r} is not in "
                                    "checked form; pass it through checked_companion_name().")
        if self.address_as and checked_name(self.address_as, "your name") != self.address_as:
            raise PersonaInputError(f"The name {self.address_as!r} is not in checked form; "
                                    "pass it through checked_name().")
        if self.tone not in TONES:
            raise PersonaInputError(f"There is no tone {self.tone!r}; choose one of "
                                    f"{', '.join(TONES)}.")

    @property
    def is_default(self) -> bool:
        return self == PersonaSettings()


def checked_name(text: str, what: str) -> str:
    """``text`` as a name (spaces tidied), or PersonaInputError saying what to change.
    ``what`` names it in the message: "your name", "my name".

    Letters of any script, combining marks, digits (not digits alone), spaces, hyphens,
    apostrophes and dots; at most 32 characters; nothing that reads as an instruction."""
    name = re.sub(r" {2,}", " ", unicodedata.normalize("NFC", text).strip())
    if not name:
        raise PersonaInputError(f"{what.capitalize()} can't be empty.")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        raise PersonaInputError(f"{what.capitalize()} must be on one line, without control "
                                "characters.")
    if len(name) > MAX_NAME_CHARS:
        raise PersonaInputError(f"{what.capitalize()} can be at most {MAX_NAME_CHARS} "
                                f"characters; that one has {len(name)}.")
    if name.isdigit():
        raise PersonaInputError(f"{what.capitalize()} needs letters, not only digits.")
    if instruction_like(name):
        raise PersonaInputError("That reads like an instruction, not a name. I'll keep my own "
                                "rules; try a name instead.")
    if not all(_name_char(c) for c in name) or not any(c.isalpha() for c in name):
        raise PersonaInputError(f"{what.capitalize()} can use letters, spaces, hyphens, "
                                "apostrophes and dots.")
    return name


def checked_companion_name(text: str) -> str:
    """A name for os1: a checked name that does not claim os1 is a person."""
    name = checked_name(text, "my name")
    if _CLAIMS_HUMAN.search(name):
        raise PersonaInputError("I'm an AI, so I'd rather not have a name that says I'm a "
                                "person. Any other name is fine.")
    return name


def _name_char(char: str) -> bool:
    category = unicodedata.category(char)
    return (category[0] == "L" or category[0] == "M" or category == "Nd"
            or char in _NAME_PUNCTUATION or char in _JOINERS)


def load_persona_settings(db: sqlite3.Connection, user: User) -> PersonaSettings:
    """The user's settings; defaults when none are stored or the stored ones are unusable."""
    row = db.execute("SELECT companion_name, address_as, tone FROM persona_settings "
                     "WHERE user_id = ?", (user.id,)).fetchone()
    if row is None:
        return PersonaSettings()
    try:
        return PersonaSettings(companion_name=checked_companion_name(str(row[0])),
                               address_as=checked_name(str(row[1]), "your name") if row[1]
                               else "",
                               tone=row[2])
    except PersonaInputError as exc:
        # Only a hand-edited row gets here: the shipped persona is the safe fallback.
        log.warning("ignoring the stored persona settings of user %s (%s)", user.id, exc)
        return PersonaSettings()


def save_persona_settings(db: sqlite3.Connection, user: User, settings: PersonaSettings,
                          now: datetime) -> None:
    """Replace the user's settings (one statement: safe inside or outside a transaction)."""
    db.execute(
        "INSERT INTO persona_settings (user_id, companion_name, address_as, tone, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
        "companion_name = excluded.companion_name, address_as = excluded.address_as, "
        "tone = excluded.tone, updated_at = excluded.updated_at",
        (user.id, settings.companion_name, settings.address_as, settings.tone,
         to_text(now)))
