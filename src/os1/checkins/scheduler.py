"""`CheckIns`: the one facade the rest of os1 uses to let the companion speak first.

An interface (or a background tick) calls `due(user, now)` now and then: it plans what the
triggers find, picks what the policy allows at that moment, marks it sent and returns it. The
interface shows it if one is open; otherwise it waits in `inbox(user)` until the user comes
back and `seen` is called. "Not now" dismisses the latest one and pauses check-ins.

``now`` is always passed in and always timezone-aware: its zone is the user's local time
(quiet hours, the local day), and a test or the benchmark can run a month on a fake clock.
Times are stored as UTC text like the rest of the store. Every statement names the user.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from os1.affect.timeline import MoodDay, MoodTimeline
from os1.checkins import policy, triggers
from os1.checkins.messages import TEXT_CHARS, clean_about, compose, one_line
from os1.checkins.records import (
    CHECKIN_KINDS,
    Candidate,
    CheckIn,
    from_text,
    to_text,
    zone,
)
from os1.config import Settings
from os1.persona import choices
from os1.store.base import Database, User
from os1.store.sqlite import transaction

MOOD_WINDOW = timedelta(days=14)
PAUSE_AT_LEAST = timedelta(hours=8)  # "not now" lasts until quiet hours end, 8 h or more away
PAUSE_NO_QUIET_HOURS = timedelta(hours=12)
_RECENT = timedelta(days=2)  # sent check-ins the policy looks back at (limit, gap)
_COLUMNS = ("id, kind, trigger_key, about, due_at, expires_at, text, status, sent_at, turn_id, "
            "memory_id")


class CheckIns:
    def __init__(self, store: Database, settings: Settings, *,
                 users_choose: bool = False) -> None:
        """``users_choose``: a server's, where each user's own interview answer sets how many
        check-ins a day they get (os1.persona.choices); else the config's number does."""
        self._store = store
        self._settings = settings
        self._rules = policy.Rules.of(settings)
        self._users_choose = users_choose
        self._timeline = MoodTimeline(store)

    def plan(self, user: User, now: datetime) -> int:
        """Store the check-ins the triggers find at ``now``; returns how many were new. With
        the checkins setting off nothing is planned (reminders come from `schedule`)."""
        days = self._mood_days(user, now)

        def work(db: sqlite3.Connection) -> int:
            with transaction(db):
                return self._plan_in(db, user, now, days)

        return self._store.run(work)

    def due(self, user: User, now: datetime) -> list[CheckIn]:
        """Plan, then say what may be said at ``now``: those check-ins are marked sent (at
        ``now``) and returned. Asking again at the same moment returns the same ones."""
        days = self._mood_days(user, now)

        def work(db: sqlite3.Connection) -> list[CheckIn]:
            with transaction(db):
                self._plan_in(db, user, now, days)
                decision = self._decide(db, user, now)
                for checkin in decision.expire:
                    _set_status(db, user, checkin.id, "expired")
                for checkin in decision.send:
                    db.execute("UPDATE checkins SET status = 'sent', sent_at = ? "
                               "WHERE id = ? AND user_id = ?", (to_text(now), checkin.id, user.id))
                db.execute(
                    "INSERT INTO checkin_state (user_id, last_tick) VALUES (?, ?) ON CONFLICT "
                    "(user_id) DO UPDATE SET last_tick = excluded.last_tick",
                    (user.id, to_text(now)))
                return _rows(db, "WHERE user_id = ? AND status = 'sent' AND sent_at = ? "
                             "ORDER BY id", user.id, to_text(now))

        return self._store.run(work)

    def inbox(self, user: User) -> list[CheckIn]:
        """Said, not seen yet (no interface was open, or the user has not looked): oldest
        first."""
        return self._store.run(lambda db: _rows(
            db, "WHERE user_id = ? AND status = 'sent' ORDER BY sent_at, id", user.id))

    def seen(self, user: User, ids: Sequence[int]) -> int:
        """Mark these of the user's sent check-ins seen; returns how many changed."""
        def work(db: sqlite3.Connection) -> int:
            with transaction(db):
                return sum(db.execute(
                    "UPDATE checkins SET status = 'seen' WHERE id = ? AND user_id = ? "
                    "AND status = 'sent'", (int(i), user.id)).rowcount for i in ids)

        return self._store.run(work)

    def not_now(self, user: User, now: datetime, hours: float | None = None) -> datetime:
        """Dismiss the latest check-in said and pause the rest: for ``hours``, or by default
        until quiet hours end at least 8 hours from now (tomorrow morning; 12 h without quiet
        hours). Reminders on time still come: the user set them. Returns the pause's end."""
        if hours is not None and hours <= 0:
            raise ValueError("Pause check-ins for a positive number of hours.")
        until = now + timedelta(hours=hours) if hours is not None else self._pause_end(now)

        def work(db: sqlite3.Connection) -> None:
            with transaction(db):
                db.execute(
                    "UPDATE checkins SET status = 'dismissed' WHERE id = (SELECT id FROM checkins "
                    "WHERE user_id = ? AND status IN ('sent', 'seen') ORDER BY sent_at DESC, "
                    "id DESC LIMIT 1)", (user.id,))
                db.execute(
                    "INSERT INTO checkin_state (user_id, paused_until) VALUES (?, ?) ON CONFLICT "
                    "(user_id) DO UPDATE SET paused_until = excluded.paused_until",
                    (user.id, to_text(until)))

        self._store.run(work)
        return until

    def schedule(self, user: User, candidate: Candidate,
                 now: datetime | None = None) -> CheckIn:
        """Store one check-in as given (a reminder the user asked for). The same trigger key
        again returns the one already stored."""
        _check(candidate)
        created = now or candidate.due_at

        def work(db: sqlite3.Connection) -> CheckIn:
            with transaction(db):
                for column, value in (("turns", candidate.turn_id),
                                      ("memories", candidate.memory_id)):
                    if value is not None and db.execute(
                            f"SELECT 1 FROM {column} WHERE id = ? AND user_id = ?",
                            (value, user.id)).fetchone() is None:
                        raise ValueError(f"{column} {value} is not one of {user.name!r}'s.")
                _insert(db, user, candidate, created)
                return _rows(db, "WHERE user_id = ? AND trigger_key = ?", user.id,
                             candidate.trigger_key)[0]

        return self._store.run(work)

    def pending(self, user: User) -> list[CheckIn]:
        """Planned, not said yet: soonest first."""
        return self._store.run(lambda db: _rows(
            db, "WHERE user_id = ? AND status = 'pending' ORDER BY due_at, id", user.id))

    # -- inside ------------------------------------------------------------------------------

    def _mood_days(self, user: User, now: datetime) -> list[MoodDay]:
        """Read before taking the store's lock: the timeline takes it itself."""
        zone(now)
        if not self._settings.checkins:
            return []
        today = now.date()
        return self._timeline.days(user, today - MOOD_WINDOW, today)

    def _plan_in(self, db: sqlite3.Connection, user: User, now: datetime,
                 days: Sequence[MoodDay]) -> int:
        if not self._settings.checkins:
            return 0
        return sum(_insert(db, user, c, now) for c in triggers.collect(db, user, now, days))

    def _decide(self, db: sqlite3.Connection, user: User, now: datetime) -> policy.Decision:
        last = triggers.last_user_turn(db, user, now)
        # A hello for a silence the user has since broken is moot.
        db.execute("UPDATE checkins SET status = 'expired' WHERE user_id = ? AND status = "
                   "'pending' AND kind = 'silence' AND trigger_key != ?",
                   (user.id, "" if last is None else triggers.silence_key(last[0])))
        pending = []
        for checkin in _rows(db, "WHERE user_id = ? AND status = 'pending' ORDER BY due_at, id",
                             user.id):
            if (checkin.due_at <= now < checkin.expires_at
                    and triggers.already_told(db, user, checkin, now)):
                _set_status(db, user, checkin.id, "expired")  # they told us how it went
            else:
                pending.append(checkin)
        since = now - _RECENT if last is None else min(now - _RECENT, last[1])
        sent = _rows(db, "WHERE user_id = ? AND sent_at IS NOT NULL AND sent_at >= ?", user.id,
                     to_text(since))
        state = db.execute("SELECT paused_until FROM checkin_state WHERE user_id = ?",
                           (user.id,)).fetchone()
        paused = None if state is None or state[0] is None else from_text(state[0])
        situation = policy.Situation(now, sent, paused, None if last is None else last[1],
                                     only_reminders=not self._settings.checkins)
        return policy.decide(pending, situation, self._rules_for(db, user))

    def _rules_for(self, db: sqlite3.Connection, user: User) -> policy.Rules:
        chosen = choices.checkins_per_day(db, user) if self._users_choose else None
        return self._rules if chosen is None else replace(self._rules, per_day=chosen)

    def _pause_end(self, now: datetime) -> datetime:
        quiet = self._rules.quiet
        if quiet is None:
            return now + PAUSE_NO_QUIET_HOURS
        day = now.date()
        while True:
            end = datetime.combine(day, quiet[1], tzinfo=now.tzinfo)
            if end >= now + PAUSE_AT_LEAST:
                return end
            day += timedelta(days=1)


def _check(candidate: Candidate) -> None:
    if candidate.kind not in CHECKIN_KINDS:
        raise ValueError(f"{candidate.kind!r} is not a check-in kind ({', '.join(CHECKIN_KINDS)}).")
    if candidate.due_at.tzinfo is None or candidate.expires_at.tzinfo is None:
        raise ValueError("A check-in's times need a timezone.")
    if candidate.expires_at <= candidate.due_at:
        raise ValueError("A check-in must expire after it is due.")
    if not candidate.trigger_key.strip():
        raise ValueError("A check-in needs a trigger key (unique per user).")


def _insert(db: sqlite3.Connection, user: User, candidate: Candidate, now: datetime) -> int:
    """1 if the check-in is new, 0 if its trigger was planned before."""
    about = clean_about(candidate.about)
    text = (one_line(candidate.text, TEXT_CHARS)
            or compose(candidate.kind, candidate.trigger_key, about))
    cursor = db.execute(
        "INSERT INTO checkins (user_id, kind, trigger_key, about, turn_id, memory_id, "
        "created_at, due_at, expires_at, text, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "'pending') ON CONFLICT (user_id, trigger_key) DO NOTHING",
        (user.id, candidate.kind, candidate.trigger_key, about, candidate.turn_id,
         candidate.memory_id, to_text(now), to_text(candidate.due_at),
         to_text(candidate.expires_at), text))
    return cursor.rowcount


def _set_status(db: sqlite3.Connection, user: User, checkin_id: int, status: str) -> None:
    db.execute("UPDATE checkins SET status = ? WHERE id = ? AND user_id = ?",
               (status, checkin_id, user.id))


def _rows(db: sqlite3.Connection, where: str, *args: Any) -> list[CheckIn]:
    return [_checkin(row) for row in db.execute(
        f"SELECT {_COLUMNS} FROM checkins {where}", args).fetchall()]


def _checkin(row: Sequence[Any]) -> CheckIn:
    return CheckIn(id=int(row[0]), kind=row[1], trigger_key=str(row[2]), about=str(row[3]),
                   due_at=from_text(row[4]), expires_at=from_text(row[5]), text=str(row[6]),
                   status=row[7], sent_at=None if row[8] is None else from_text(row[8]),
                   turn_id=row[9], memory_id=row[10])

