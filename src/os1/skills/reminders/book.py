"""The user's reminders: the `reminders` table, and their delivery through check-ins.

A reminder is said by the check-in scheduler (kind ``reminder``): on time it comes even in
quiet hours and over the day's limit (see `os1.checkins.policy`). The row keeps the id of its
current check-in; snoozing dismisses that one and plans another (``reminder:UID:SNOOZES``).

Where a reminder stands is read from its check-in: once the check-in has been said (sent,
seen, or later dismissed with "not now") or has expired unsaid, the reminder is *done* — the
row is settled to 'done' the next time the user's reminders are read, and `Reminder.state`
tells "delivered" from "missed". Only pending reminders can be cancelled; a delivered one can
still be snoozed ("again in an hour"), which makes it pending again.

Every statement names the user; check-ins are planned outside the store's lock (the scheduler
takes it itself), and a reminder whose check-in could not be planned is removed again.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from os1.checkins.records import Candidate
from os1.checkins.scheduler import CheckIns
from os1.config import Settings
from os1.persona.untrusted import plain
from os1.skills.actions import ActionError, NeedsClarification
from os1.store.base import Database, User
from os1.store.sqlite import from_text, to_text, transaction

TEXT_CHARS = 200
OWN_UID_SUFFIX = "@os1"  # reminders os1 made; imported ones keep the UID they came with
EXPIRES_AFTER = timedelta(hours=12)  # a reminder not said within 12 h of its time is missed
ReminderStatus = Literal["pending", "done", "cancelled"]
# What the user sees: upcoming (pending, not yet due), due (its time came, not said yet: os1
# was closed), delivered, missed (expired unsaid), cancelled.
ReminderState = Literal["upcoming", "due", "delivered", "missed", "cancelled"]
_COLUMNS = ("r.id, r.uid, r.text, r.due_at, r.created_at, r.status, r.snoozes, r.checkin_id, "
            "c.status")
_SAID = ("sent", "seen", "dismissed")
# "Snooze it": the reminder whose time came last.
_LATEST = frozenset({"it", "that", "this", "that one", "this one", "the last one", "last",
                     "the reminder", "that reminder", "this reminder"})
_STOP_WORDS = frozenset({"the", "a", "an", "one", "reminder", "about", "to", "my", "that",
                         "for", "with", "remind", "me", "of", "number", "no", "#"})


@dataclass(frozen=True)
class Reminder:
    id: int
    uid: str  # stable across export, import and CalDAV (the iCalendar UID)
    text: str
    due_at: datetime  # UTC, as stored
    created_at: datetime
    status: ReminderStatus
    snoozes: int
    checkin_id: int | None
    checkin_status: str | None

    def state(self, now: datetime) -> ReminderState:
        if self.status == "cancelled":
            return "cancelled"
        if self.status == "done" or self.checkin_status in (*_SAID, "expired"):
            return "missed" if self.checkin_status == "expired" else "delivered"
        return "upcoming" if self.due_at > now else "due"


class Reminders:
    def __init__(self, store: Database, settings: Settings) -> None:
        self._store = store
        self._checkins = CheckIns(store, settings)

    def add(self, user: User, text: str, due_at: datetime, now: datetime,
            uid: str | None = None) -> Reminder:
        """Store a reminder and plan its check-in. ``uid``: an imported one keeps its own."""
        text = plain(text, TEXT_CHARS)
        if not text:
            raise ActionError("A reminder needs something to remind you of.")
        if due_at.tzinfo is None:
            raise ValueError("due_at needs a timezone")
        uid = uid or f"{uuid.uuid4()}{OWN_UID_SUFFIX}"

        def insert(db: sqlite3.Connection) -> int:
            with transaction(db):
                if db.execute("SELECT 1 FROM reminders WHERE user_id = ? AND uid = ?",
                              (user.id, uid)).fetchone():
                    return 0
                cursor = db.execute(
                    "INSERT INTO reminders (user_id, uid, text, due_at, created_at, status) "
                    "VALUES (?, ?, ?, ?, ?, 'pending')",
                    (user.id, uid, text, to_text(due_at), to_text(now)))
                return int(cursor.lastrowid or 0)

        reminder_id = self._store.run(insert)
        if not reminder_id:
            raise ActionError(f"You already have the reminder {uid}.")
        checkin_id: int | None = None
        try:
            checkin_id = self._schedule(user, uid, text, due_at, 0, now)
            self._store.run(lambda db: _link(db, user, reminder_id, checkin_id))
        except BaseException:
            if checkin_id is not None:
                self._store.run(lambda db: _drop_checkin(db, user, checkin_id))
            self._store.run(lambda db: _delete(db, user, reminder_id))
            raise
        return self.get(user, reminder_id)

    def get(self, user: User, reminder_id: int) -> Reminder:
        self._settle(user)
        rows = self._store.run(lambda db: _rows(db, user, "AND r.id = ?", reminder_id))
        if not rows:
            raise ActionError(f"You have no reminder number {reminder_id}: `os1 remind list` "
                              "shows them.")
        return rows[0]

    def by_uid(self, user: User, uid: str) -> Reminder | None:
        rows = self._store.run(lambda db: _rows(db, user, "AND r.uid = ?", uid))
        return rows[0] if rows else None

    def listing(self, user: User, *, everything: bool = False) -> list[Reminder]:
        """Pending reminders, soonest first; ``everything``: then the done and cancelled ones,
        latest first."""
        self._settle(user)
        pending = self._store.run(lambda db: _rows(
            db, user, "AND r.status = 'pending' ORDER BY r.due_at, r.id"))
        if not everything:
            return pending
        rest = self._store.run(lambda db: _rows(
            db, user, "AND r.status != 'pending' ORDER BY r.due_at DESC, r.id DESC"))
        return pending + rest

    def snooze(self, user: User, reminder_id: int, until: datetime, now: datetime) -> Reminder:
        """Say it again at ``until``: its current check-in is dismissed and a new one planned."""
        reminder = self.get(user, reminder_id)
        if reminder.status == "cancelled":
            raise ActionError(f"Reminder {reminder_id} was cancelled: add it again instead.")
        if until <= now:
            raise NeedsClarification("That time has passed: until when should I snooze it?")
        snoozes = reminder.snoozes + 1
        # The new check-in first, then the switch in one transaction: a failure on the way
        # leaves the reminder as it was, never without a check-in.
        checkin_id = self._schedule(user, reminder.uid, reminder.text, until, snoozes, now)

        def move(db: sqlite3.Connection) -> None:
            with transaction(db):
                if reminder.checkin_id is not None:
                    db.execute("UPDATE checkins SET status = 'dismissed' WHERE id = ? AND "
                               "user_id = ? AND status IN ('pending', 'sent', 'seen')",
                               (reminder.checkin_id, user.id))
                db.execute("UPDATE reminders SET status = 'pending', due_at = ?, snoozes = ?, "
                           "checkin_id = ? WHERE id = ? AND user_id = ?",
                           (to_text(until), snoozes, checkin_id, reminder.id, user.id))

        try:
            self._store.run(move)
        except BaseException:
            self._store.run(lambda db: _drop_checkin(db, user, checkin_id))
            raise
        return self.get(user, reminder.id)

    def cancel(self, user: User, reminder_id: int) -> Reminder:
        reminder = self.get(user, reminder_id)
        if reminder.status == "cancelled":
            raise ActionError(f"Reminder {reminder_id} is already cancelled.")
        if reminder.status == "done":
            raise ActionError(f"Reminder {reminder_id} was already said: there is nothing to "
                              "cancel.")

        def work(db: sqlite3.Connection) -> None:
            with transaction(db):
                db.execute("UPDATE reminders SET status = 'cancelled' WHERE id = ? AND "
                           "user_id = ?", (reminder.id, user.id))
                if reminder.checkin_id is not None:
                    db.execute("UPDATE checkins SET status = 'dismissed' WHERE id = ? AND "
                               "user_id = ? AND status = 'pending'",
                               (reminder.checkin_id, user.id))

        self._store.run(work)
        return self.get(user, reminder.id)

    def remove(self, user: User, reminder_id: int) -> None:
        """Take back a reminder this run added (an import that failed part-way): the row and
        its planned check-in go."""
        def work(db: sqlite3.Connection) -> None:
            with transaction(db):
                db.execute("DELETE FROM checkins WHERE user_id = ? AND status = 'pending' AND "
                           "id = (SELECT checkin_id FROM reminders WHERE id = ? AND user_id = ?)",
                           (user.id, reminder_id, user.id))
                db.execute("DELETE FROM reminders WHERE id = ? AND user_id = ?",
                           (reminder_id, user.id))

        self._store.run(work)

    def find(self, user: User, which: str, now: datetime, *,
             states: Sequence[ReminderStatus] = ("pending",)) -> Reminder:
        """The reminder the user means: "3", "#3", "number 3", or words of its text ("the Amy
        one"). Several matches are a question listing them."""
        which = " ".join(which.split())
        if which.lower() in _LATEST:
            said = [r for r in self.listing(user, everything=True)
                    if r.status in states and r.status != "cancelled" and r.due_at <= now]
            if said:
                return max(said, key=lambda r: (r.due_at, r.id))
        number = re.fullmatch(r"(?:(?:reminder|number|no\.?)\s*)?#?\s*(\d+)", which, re.I)
        if number:
            return self.get(user, int(number.group(1)))
        words = [w for w in re.findall(r"[\w']+", which.lower()) if w not in _STOP_WORDS]
        if not words:
            raise NeedsClarification("Which reminder? Say its number or a word from it.")
        candidates = [r for r in self.listing(user, everything=True) if r.status in states]
        found = [r for r in candidates if all(_has_word(r.text, w) for w in words)]
        if len(found) == 1:
            return found[0]
        if not found:
            raise ActionError(f"No {' or '.join(states)} reminder matches {which!r}: "
                              "`os1 remind list` shows them.")
        raise NeedsClarification("Which one? " + "; ".join(
            f"{r.id}: {r.text} ({r.due_at.astimezone(now.tzinfo):%a %d %b %H:%M})"
            for r in found[:6]))

    # -- inside ------------------------------------------------------------------------------

    def _schedule(self, user: User, uid: str, text: str, due_at: datetime, snoozes: int,
                  now: datetime) -> int:
        return self._checkins.schedule(user, Candidate(
            kind="reminder", trigger_key=f"reminder:{uid}:{snoozes}", about=text,
            due_at=due_at, expires_at=due_at + EXPIRES_AFTER, text=f"Reminder: {text}"),
            now=now).id

    def _settle(self, user: User) -> None:
        """Pending reminders whose check-in was said or expired are done."""
        def work(db: sqlite3.Connection) -> None:
            with transaction(db):
                db.execute(
                    "UPDATE reminders SET status = 'done' WHERE user_id = ? AND status = "
                    "'pending' AND checkin_id IN (SELECT id FROM checkins WHERE user_id = ? AND "
                    "status IN ('sent', 'seen', 'dismissed', 'expired'))", (user.id, user.id))

        self._store.run(work)


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}", text, re.I) is not None


def _link(db: sqlite3.Connection, user: User, reminder_id: int, checkin_id: int) -> None:
    with transaction(db):
        db.execute("UPDATE reminders SET checkin_id = ? WHERE id = ? AND user_id = ?",
                   (checkin_id, reminder_id, user.id))


def _drop_checkin(db: sqlite3.Connection, user: User, checkin_id: int) -> None:
    with transaction(db):
        db.execute("DELETE FROM checkins WHERE id = ? AND user_id = ? AND status = 'pending'",
                   (checkin_id, user.id))


def _delete(db: sqlite3.Connection, user: User, reminder_id: int) -> None:
    with transaction(db):
        db.execute("DELETE FROM reminders WHERE id = ? AND user_id = ?", (reminder_id, user.id))


def _rows(db: sqlite3.Connection, user: User, where: str, *args: Any) -> list[Reminder]:
    # The check-in is joined on the user too: a row can only ever see its own user's.
    return [_reminder(row) for row in db.execute(
        f"SELECT {_COLUMNS} FROM reminders r LEFT JOIN checkins c ON c.id = r.checkin_id AND "
        f"c.user_id = r.user_id WHERE r.user_id = ? {where}", (user.id, *args)).fetchall()]


def _reminder(row: Sequence[Any]) -> Reminder:
    return Reminder(id=int(row[0]), uid=str(row[1]), text=str(row[2]),
                    due_at=from_text(row[3]), created_at=from_text(row[4]), status=row[5],
                    snoozes=int(row[6]), checkin_id=row[7], checkin_status=row[8])
