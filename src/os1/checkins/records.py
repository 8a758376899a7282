"""What a check-in is, as typed records: a `Candidate` (a trigger found, not yet stored) and a
`CheckIn` (its row in the `checkins` table, with where it stands)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal, get_args

from os1.store.sqlite import from_text as from_text  # re-exported: check-ins read rows
from os1.store.sqlite import to_text as store_text

CheckInKind = Literal["reminder", "follow_up", "low_mood", "silence", "date"]
CHECKIN_KINDS: tuple[CheckInKind, ...] = get_args(CheckInKind)
# pending: planned, not said yet; sent: said (shown, or waiting in the inbox); seen: the user
# saw it; dismissed: "not now"; expired: its moment passed before it could be said.
CheckInStatus = Literal["pending", "sent", "seen", "dismissed", "expired"]


@dataclass(frozen=True)
class Candidate:
    """A trigger found for a user: what to say, about what, from when until when.

    ``trigger_key`` is unique per user (``follow_up:turn:12``): the same trigger found again
    is never planned twice. ``turn_id``/``memory_id`` name the source, so forgetting it
    removes the check-in (foreign-key cascade). ``text`` empty: the messages compose it.
    """

    kind: CheckInKind
    trigger_key: str
    about: str
    due_at: datetime
    expires_at: datetime
    text: str = ""
    turn_id: int | None = None
    memory_id: int | None = None


@dataclass(frozen=True)
class CheckIn:
    id: int
    kind: CheckInKind
    trigger_key: str
    about: str
    due_at: datetime  # times are UTC, as stored
    expires_at: datetime
    text: str
    status: CheckInStatus
    sent_at: datetime | None
    turn_id: int | None
    memory_id: int | None


def to_text(moment: datetime) -> str:
    """A moment as the store keeps it: UTC ISO text, sortable as text (like os1.store)."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no timezone: check-ins need aware times.")
    return store_text(moment)


def zone(now: datetime) -> tzinfo:
    """The user's local zone, which ``now`` carries (check-ins never guess it)."""
    if now.tzinfo is None:
        raise ValueError(f"{now.isoformat()} has no timezone: pass the time with the user's "
                         "timezone (datetime.now().astimezone()).")
    return now.tzinfo
