"""Where the mail password lives: the OS keyring when there is one, else the encrypted
database, else nowhere (a clear error). It is never written in the clear.

`Password` wraps it so that a repr, a log line or a traceback shows stars, not the secret.
"""

from __future__ import annotations

import contextlib
import sqlite3

from os1.os_keyring import usable_keyring
from os1.skills.mail.account import MailAccountError
from os1.store.base import Database, User
from os1.store.sqlite import transaction

KEYRING_SERVICE = "os1-mail"


class Password:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise MailAccountError("The password is empty.")
        self._value = value

    def reveal(self) -> str:
        """The password itself: only for the login call."""
        return self._value

    def __repr__(self) -> str:
        return "Password(****)"

    __str__ = __repr__


def _keyring_user(store: Database, user: User) -> str:
    return f"{store.path.resolve()}#{user.id}"


def safe_place(store: Database) -> str:
    """Where a password would be kept, in words; raises when there is no safe place."""
    if usable_keyring() is not None:
        return "the OS keyring"
    if store.encrypted:
        return "your encrypted os1 database"
    raise MailAccountError(
        "There is no safe place for the mail password here: no OS keyring, and the os1 "
        "database is not encrypted. Install the keyring package (`pip install keyring`, with "
        "a desktop keyring running) or encrypt the database with `os1 encrypt`, then run "
        "`os1 mail connect` again.")


def save_password(store: Database, user: User, password: Password) -> str:
    """Keep the password; return where, in words. Raises when there is no safe place."""
    where = safe_place(store)
    keyring = usable_keyring()
    if keyring is not None:
        try:
            keyring.set_password(KEYRING_SERVICE, _keyring_user(store, user), password.reveal())
        except Exception as exc:  # a locked wallet, a D-Bus error: say so, keep nothing
            raise MailAccountError(f"The OS keyring did not take the password "
                                   f"({type(exc).__name__}); unlock it and try again.") from None
        _set_secret(store, user, None)
        return where
    _set_secret(store, user, password.reveal())  # safe_place said: the store is encrypted
    return where


def load_password(store: Database, user: User) -> Password:
    secret = store.run(lambda db: db.execute(
        "SELECT secret FROM mail_accounts WHERE user_id = ?", (user.id,)).fetchone())
    if secret is not None and secret[0]:
        return Password(str(secret[0]))
    keyring = usable_keyring()
    if keyring is not None:
        try:
            value = keyring.get_password(KEYRING_SERVICE, _keyring_user(store, user))
        except Exception:
            value = None
        if value:
            return Password(str(value))
    raise MailAccountError("The mail password is not stored any more (was the keyring "
                           "cleared?): run `os1 mail connect` again.")


def forget_password(store: Database, user: User) -> None:
    keyring = usable_keyring()
    if keyring is not None:
        with contextlib.suppress(Exception):  # no such entry: nothing to forget
            keyring.delete_password(KEYRING_SERVICE, _keyring_user(store, user))
    _set_secret(store, user, None)


def _set_secret(store: Database, user: User, value: str | None) -> None:
    def work(db: sqlite3.Connection) -> None:
        with transaction(db):
            db.execute("UPDATE mail_accounts SET secret = ? WHERE user_id = ?",
                       (value, user.id))

    store.run(work)
