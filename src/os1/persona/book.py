"""Each user's persona, composed from its layers and read once per session.

    constitution (shipped, with the region's crisis line and the user's boundaries)
      → the user's layer (the companion's name, what to call them, tone)
      → what the companion has learned (its current self-model, in a few lines)

A session reads its persona once when it opens, so a reflection or a new name applies from
the next session: changing the prompt's opening mid-conversation would make the model read
everything again (the prompt's prefix is what llama.cpp keeps cached).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Protocol

from os1.persona import self_model
from os1.persona.layers import compose_persona
from os1.persona.profile import PersonaSettings, load_persona_settings
from os1.store.base import Database, User


@dataclass(frozen=True)
class Persona:
    name: str  # what the companion is called with this user
    text: str  # the system prompt


class PersonaSource(Protocol):
    def persona(self, user: User | None) -> Persona:
        """The persona for this user (None: before anyone is known, e.g. warming up)."""
        ...


@dataclass(frozen=True)
class FixedPersona:
    """One persona for everyone (tests, benchmarks, a server with a house persona)."""

    text: str
    name: str = "os1"

    def persona(self, user: User | None) -> Persona:
        return Persona(self.name, self.text)


class PersonaBook:
    def __init__(self, store: Database, constitution: str) -> None:
        """``constitution``: the shipped persona as the safety guard adapts it (region,
        boundaries); every user's persona starts with it, unchanged."""
        self._store = store
        self._constitution = constitution

    def persona(self, user: User | None) -> Persona:
        if user is None:
            return Persona("os1", self._constitution)

        def read(db: sqlite3.Connection) -> tuple[PersonaSettings,
                                                  self_model.SelfVersion | None]:
            return load_persona_settings(db, user), self_model.current_version(db, user)

        settings, version = self._store.run(read)
        learned = self_model.learned_layer(version.model) if version is not None else ""
        return Persona(settings.companion_name,
                       compose_persona(self._constitution, settings, learned=learned))
