"""What the mail skill keeps between commands: the numbered triage list and the drafts.

Both are the user's data like any other: rows of the main database (`mail_listing`,
`mail_drafts`, migration 6), encrypted with it, exported with it and erased with the user.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from os1.skills.actions import ActionError
from os1.skills.mail.triage import said
from os1.store.base import Database, User
from os1.store.sqlite import transaction


@dataclass(frozen=True)
class Listed:
    """One numbered line of the last triage list."""

    number: int
    uid: int
    sender: str
    address: str
    subject: str
    message_id: str
    gone: bool = False  # archived or deleted since

    @property
    def named(self) -> str:
        """'"Weekly deals" from Acme Store', safe to say (see `triage.said`)."""
        return f'"{said(self.subject) or "(no subject)"}" from {said(self.sender, 60)}'


@dataclass(frozen=True)
class Draft:
    uid_validity: int
    uid: int
    to: str
    subject: str
    in_reply_to: str
    body: str


class Kept:
    """The list and the drafts of one user."""

    def __init__(self, store: Database, user: User) -> None:
        self.user = user
        self._store = store

    # -- the list ------------------------------------------------------------------------------

    def save_listing(self, folder: str, uid_validity: int, items: list[Listed]) -> None:
        def work(db: sqlite3.Connection) -> None:
            with transaction(db):
                db.execute("DELETE FROM mail_listing WHERE user_id = ?", (self.user.id,))
                db.executemany(
                    "INSERT INTO mail_listing (user_id, number, folder, uid_validity, uid, "
                    "sender, address, subject, message_id, gone) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(self.user.id, i.number, folder, uid_validity, i.uid, i.sender, i.address,
                      i.subject, i.message_id, int(i.gone)) for i in items])

        self._store.run(work)

    def listing(self) -> tuple[int, list[Listed]]:
        rows = self._store.run(lambda db: db.execute(
            "SELECT uid_validity, number, uid, sender, address, subject, message_id, gone "
            "FROM mail_listing WHERE user_id = ? ORDER BY number", (self.user.id,)).fetchall())
        if not rows:
            raise ActionError("There is no triage list yet: run `os1 mail triage` (or ask me "
                              "to sort your mail) first; its numbers are what I go by.")
        return int(rows[0][0]), [Listed(r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]))
                                 for r in rows]

    def mark_gone(self, number: int) -> None:
        self._write("UPDATE mail_listing SET gone = 1 WHERE user_id = ? AND number = ?",
                    (self.user.id, number))

    # -- drafts -------------------------------------------------------------------------------

    def save_draft(self, draft: Draft) -> None:
        self._write(
            "INSERT OR REPLACE INTO mail_drafts (user_id, uid_validity, uid, recipient, "
            "subject, in_reply_to, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.user.id, draft.uid_validity, draft.uid, draft.to, draft.subject,
             draft.in_reply_to, draft.body))

    def draft(self, uid_validity: int, uid: int) -> Draft | None:
        row = self._store.run(lambda db: db.execute(
            "SELECT recipient, subject, in_reply_to, body FROM mail_drafts WHERE user_id = ? "
            "AND uid_validity = ? AND uid = ?", (self.user.id, uid_validity, uid)).fetchone())
        return None if row is None else Draft(uid_validity, uid, row[0], row[1], row[2], row[3])

    def drop_draft(self, uid_validity: int, uid: int) -> None:
        self._write("DELETE FROM mail_drafts WHERE user_id = ? AND uid_validity = ? AND uid = ?",
                    (self.user.id, uid_validity, uid))

    def _write(self, statement: str, values: tuple[object, ...]) -> None:
        def work(db: sqlite3.Connection) -> None:
            with transaction(db):
                db.execute(statement, values)

        self._store.run(work)


def forget(store: Database, user: User) -> None:
    """Remove the list and the drafts (the database's secure_delete overwrites their bytes)."""
    def work(db: sqlite3.Connection) -> None:
        with transaction(db):
            db.execute("DELETE FROM mail_listing WHERE user_id = ?", (user.id,))
            db.execute("DELETE FROM mail_drafts WHERE user_id = ?", (user.id,))

    store.run(work)
