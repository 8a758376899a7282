"""The guard: what safety asks of one turn before the model writes, and checks after.

    before:  crisis check, goodbye, "are you an AI?", a minor asking for romance
             ─► a note for the model (first in the turn's note), whether to hold the reply
    around:  the session's disclosure and break reminders (said before / after the reply)
    after:   the model's words ─► kept, amended (crisis resources, "I'm an AI"), or replaced
             (a manipulative goodbye, romance with a minor)

The model is asked nicely; the guard is what makes it so every time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from os1.config import Settings
from os1.memory.errors import EmbedderError
from os1.safety import boundaries, disclosure, farewell, protocol
from os1.safety import log as safety_log
from os1.safety.classifier import CrisisModelError
from os1.safety.crisis import NO_RISK, CrisisDetector, CrisisRead
from os1.safety.cues import find_cues
from os1.safety.resources import REGIONS, Region, region_for
from os1.safety.wellbeing import UsePattern, use_pattern
from os1.store.base import Database, User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assessment:
    """What one message asks of the reply. Pure: the same words give the same assessment,
    so a draft prepared while the user was speaking can be reused for the turn."""

    crisis: CrisisRead = NO_RISK
    goodbye: bool = False
    asks_if_ai: bool = False
    romance_with_minor: bool = False

    @property
    def note(self) -> str:
        if self.crisis.risk:  # nothing else matters in this turn
            return protocol.crisis_note(self.crisis)
        parts = []
        if self.asks_if_ai:
            parts.append(disclosure.NOTE)
        if self.romance_with_minor:
            parts.append(boundaries.MINOR_NOTE)
        elif self.goodbye:
            parts.append(farewell.NOTE)
        return " ".join(parts)

    @property
    def hold(self) -> bool:
        """Check the whole reply before any of it is shown: it may have to be replaced."""
        return not self.crisis.risk and (self.goodbye or self.romance_with_minor)


@dataclass(frozen=True)
class Outcome:
    reply: str  # what os1 says (the model's words, or their replacement)
    added: str  # said after the reply
    replaced: str = ""  # why the model's words were replaced ("" when they were not)


@dataclass
class TurnGuard:
    """One turn's safety: decided before the reply, applied after it."""

    assessment: Assessment
    said: str  # the user's words
    region: Region = field(default_factory=lambda: region_for("US"))
    opening: str = ""  # said before the reply (the session's disclosure)
    closing: list[str] = field(default_factory=list)  # said after (a break suggestion)

    def finish(self, reply: str) -> Outcome:
        """The model's whole reply in, what os1 says out."""
        a = self.assessment
        added: list[str] = []
        replaced = ""
        if a.crisis.risk:
            if not reply.strip():
                reply = protocol.fallback(a.crisis, self.region)
            else:
                added.append(protocol.closing(a.crisis, self.region))
        elif a.romance_with_minor and (not reply.strip()
                                       or boundaries.ROMANCE_REPLY.search(reply)):
            reply, replaced = boundaries.MINOR_DECLINE, "romance with a minor"
        elif a.goodbye:
            move = farewell.manipulative(reply) if reply.strip() else "no goodbye"
            if move:
                log.info("a goodbye reply was replaced (%s)", move)
                reply = farewell.clean_goodbye(self.said)
                replaced = f"manipulative goodbye: {move}"
        unanswered = a.asks_if_ai and not disclosure.says_ai(reply) and not self.opening
        if disclosure.claims_human(reply) or unanswered:
            added.append(disclosure.CORRECTION)
        added.extend(self.closing)
        return Outcome(reply, " ".join(added), replaced)

    def failed(self) -> str:
        """What os1 says when the model could not answer at all ("" when nothing must be)."""
        if self.assessment.crisis.risk:
            return protocol.fallback(self.assessment.crisis, self.region)
        return ""


class SafetyGuard:
    def __init__(self, settings: Settings, detector: CrisisDetector | None,
                 store: Database) -> None:
        """``detector`` None: the crisis model could not load; the cues alone then decide,
        so os1 errs towards the protocol instead of missing a crisis."""
        self._settings = settings
        self._detector = detector
        self._store = store
        self.region = region_for(settings.crisis_line)
        self.minor = settings.age_group == "minor"
        minutes = settings.break_reminder_minutes
        self.break_minutes = minutes or (45 if self.minor else 0)

    def assess(self, text: str) -> Assessment:
        crisis = self._crisis(text)
        # A crisis outranks a goodbye: a farewell can be the most dangerous message of all
        # ("thank you for everything… this is goodbye"). The price, measured: some plain
        # sign-offs get the protocol too (docs/benchmarks.md).
        return Assessment(
            crisis=crisis,
            goodbye=not crisis.risk and farewell.is_goodbye(text),
            asks_if_ai=disclosure.asks_if_ai(text),
            romance_with_minor=self.minor and bool(boundaries.ROMANCE_REQUEST.search(text)))

    def _crisis(self, text: str) -> CrisisRead:
        if self._detector is not None:
            try:
                return self._detector.read(text)
            except (CrisisModelError, EmbedderError) as exc:  # said once, then cues only
                log.error("the careful crisis check is unavailable (%s); os1 goes on with "
                          "its first pass alone, which errs towards the protocol", exc)
                self._detector = None
            except Exception:  # a crisis check that fails must not fail open, or lose the turn
                log.exception("the crisis check failed; falling back to its cues")
        return cue_only(text)

    def warm(self) -> None:
        """Load the crisis model now, not in the first turn."""
        self._crisis("warm")

    def guard(self, assessment: Assessment, clock: disclosure.UseClock, now: datetime,
              said: str, name: str = "os1") -> TurnGuard:
        """The turn's guard; moves the session's clock (call once per real turn). ``name``:
        what the companion is called with this user (the opening says it)."""
        clock.touch(now)
        closing = []
        if clock.break_due(now, self.break_minutes):
            closing.append(boundaries.BREAK)
        return TurnGuard(assessment, said, self.region, clock.disclosure(now, name), closing)

    def record(self, user: User, turn_id: int, at: datetime, read: CrisisRead) -> None:
        """Log a crisis for the user's eyes only (`os1 safety`)."""
        self._store.run(lambda db: safety_log.record(db, user, turn_id, at, read.kind,
                                                     read.summary))

    def use_pattern(self, user: User, now: datetime) -> UsePattern:
        return self._store.run(lambda db: use_pattern(db, user, now))

    def persona_rules(self) -> str:
        """Lines added to the persona for this user's boundaries ("" when none)."""
        rules = [boundaries.avoid_rules(self._settings.avoid_topics)]
        if self.minor:
            rules.append(boundaries.MINOR_RULES)
        return "\n".join(rule for rule in rules if rule)

    def persona(self, base: str) -> str:
        """The persona for this user: its crisis line for their region (the shipped text
        names the US one), then their boundaries."""
        text = base
        if self.region is not REGIONS["US"]:  # the shipped words already name 988
            text = text.replace("call or text 988 (in the US)", self.region.crisis)
            text = text.replace("call or text 988", self.region.crisis)
        rules = self.persona_rules()
        return f"{text}\n\n{rules}" if rules else text


def cue_only(text: str) -> CrisisRead:
    """The first pass alone: any cue of danger counts (no careful check to clear it)."""
    cues = find_cues(text)
    kinds = cues.english or cues.other
    if not kinds:
        return NO_RISK
    return CrisisRead(True, kinds[0], 1.0, not cues.other)
