"""The user's letters, kept in the `letters` table (migration 6).

Every statement names the user: a letter of user A is invisible to any call made for user B,
even with the right id. Moments are stored as UTC text (`to_text`) and come back aware.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from os1.skills.actions import ActionError
from os1.store.base import Database, User
from os1.store.sqlite import from_text, to_text, transaction

_COLUMNS = "id, recipient, title, body, created_at, updated_at, in_book"
# Words that mean "the letter we were just talking about", not a recipient's name.
_LATEST = re.compile(r"^(?:|latest|last|newest|recent|it|this|that|the letter|my letter|"
                     r"(?:the|my) (?:latest|last|newest) (?:one|letter))$", re.IGNORECASE)


@dataclass(frozen=True)
class Letter:
    id: int
    recipient: str  # as the user will see it in the book's contents: "Maya", "my landlord"
    title: str  # the occasion, when there was one: "her birthday"
    body: str  # the whole letter, greeting to signature
    created_at: datetime
    updated_at: datetime
    in_book: bool


class LetterBook:
    """One user's letters: save, find, change, choose for the book, delete."""

    def __init__(self, store: Database) -> None:
        self._store = store

    def add(self, user: User, recipient: str, title: str, body: str, now: datetime) -> Letter:
        def work(db: sqlite3.Connection) -> int:
            with transaction(db):
                cursor = db.execute(
                    "INSERT INTO letters (user_id, recipient, title, body, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (user.id, recipient, title, body, to_text(now), to_text(now)))
                return int(cursor.lastrowid or 0)

        return self.get(user, self._store.run(work))

    def get(self, user: User, letter_id: int) -> Letter:
        row = self._store.run(lambda db: db.execute(
            f"SELECT {_COLUMNS} FROM letters WHERE id = ? AND user_id = ?",
            (letter_id, user.id)).fetchone())
        if row is None:
            raise ActionError(f"There is no letter #{letter_id}. `os1 letters list` shows "
                              "your letters and their numbers.")
        return _letter(row)

    def all(self, user: User) -> list[Letter]:
        """Oldest first: the order they were written, and the book's order."""
        rows = self._store.run(lambda db: db.execute(
            f"SELECT {_COLUMNS} FROM letters WHERE user_id = ? ORDER BY id",
            (user.id,)).fetchall())
        return [_letter(r) for r in rows]

    def chosen(self, user: User) -> list[Letter]:
        return [letter for letter in self.all(user) if letter.in_book]

    def find(self, user: User, which: str) -> Letter:
        """A letter from the user's words: "3" or "#3", "latest" (or nothing), or a
        recipient or occasion ("Maya", "birthday"): the newest letter that matches."""
        which = which.strip()
        number = re.fullmatch(r"(?:letter\s*)?#?\s*(\d+)", which, re.IGNORECASE)
        if number:
            return self.get(user, int(number.group(1)))
        letters = self.all(user)
        if not letters:
            raise ActionError("You have no letters yet. Ask me to write one, e.g. "
                              "“write a letter to my sister for her birthday”.")
        if _LATEST.match(which):
            return letters[-1]
        wanted = re.sub(r"^(?:the\s+)?(?:letter\s+)?(?:to|for)\s+", "", which,
                        flags=re.IGNORECASE).strip().casefold()
        for letter in reversed(letters):
            if wanted in letter.recipient.casefold() or wanted in letter.title.casefold():
                return letter
        raise ActionError(f"I can't find a letter for “{which}”. `os1 letters list` shows "
                          "them all; you can name one by its number.")

    def update_body(self, user: User, letter_id: int, body: str, now: datetime) -> Letter:
        self._change(user, letter_id, "body = ?, updated_at = ?", (body, to_text(now)))
        return self.get(user, letter_id)

    def choose(self, user: User, letter_id: int, chosen: bool) -> Letter:
        self._change(user, letter_id, "in_book = ?", (int(chosen),))
        return self.get(user, letter_id)

    def delete(self, user: User, letter_id: int) -> Letter:
        letter = self.get(user, letter_id)

        def work(db: sqlite3.Connection) -> None:
            with transaction(db):
                db.execute("DELETE FROM letters WHERE id = ? AND user_id = ?",
                           (letter_id, user.id))

        self._store.run(work)
        return letter

    def _change(self, user: User, letter_id: int, assignments: str,
                values: tuple[object, ...]) -> None:
        def work(db: sqlite3.Connection) -> int:
            with transaction(db):
                return db.execute(
                    f"UPDATE letters SET {assignments} WHERE id = ? AND user_id = ?",
                    (*values, letter_id, user.id)).rowcount

        if self._store.run(work) == 0:
            self.get(user, letter_id)  # raises the "no such letter" error


def _letter(row: tuple[object, ...]) -> Letter:
    return Letter(id=int(str(row[0])), recipient=str(row[1]), title=str(row[2]),
                  body=str(row[3]), created_at=from_text(str(row[4])),
                  updated_at=from_text(str(row[5])), in_book=bool(row[6]))
