"""Accounts and sessions: who may log in from a browser, and which browser is whose.

- A password is kept only as its argon2id hash; checking one takes ~0.15 s of CPU on
  purpose, so it runs in a worker thread and the event loop keeps serving everyone else.
- A session is a random token (32 bytes) that only the browser holds; the database keeps
  its sha256, so a copy of the database logs no one in. Sessions slide: each use pushes the
  expiry to ``session_days`` from now.
- Guessing is slowed per account name and per client IP (`Lockout`): after five failures in
  fifteen minutes, each further try waits, doubling. An unknown name costs the same hash as a
  wrong password and fails with the same words, so neither timing nor message tells whether
  an account exists.

HTTP-free: the errors here carry what to say; `auth.py` turns them into responses.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import sqlite3
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from os1.server.limits import RateLimits, key
from os1.store.base import Database, User
from os1.store.sqlite import from_text, to_text, transaction

Clock = Callable[[], datetime]

NAME_PATTERN = r"^[\w.\-](?:[\w. \-]{0,30}[\w.\-])?$"  # 1-32; spaces only inside
NAME_MAX = 32
PASSWORD_MIN, PASSWORD_MAX = 8, 1024
TOKEN_MAX = 256  # a real token is 43 characters; anything far longer is not one
# A sliding expiry is written at most this often per session (not on every request).
_SLIDE_EVERY = timedelta(hours=1)

WRONG_CREDENTIALS = "That name and password do not match. Check both and try again."
NOT_LOGGED_IN = "You are not logged in; log in again."
EXPIRED = "Your session has expired; log in again."


class AccountError(Exception):
    """Something the user can act on; ``str(error)`` says what."""


class NameTaken(AccountError):
    def __init__(self) -> None:
        super().__init__("That name is taken. Choose another, or log in if it is yours.")


class WrongCredentials(AccountError):
    def __init__(self) -> None:
        super().__init__(WRONG_CREDENTIALS)


class TooManyAttempts(AccountError):
    def __init__(self, wait_s: float, what: str) -> None:
        self.wait_s = wait_s
        super().__init__(f"{what} Try again in {max(1, round(wait_s))} seconds.")


class NotLoggedIn(AccountError):
    def __init__(self, *, expired: bool = False) -> None:
        self.expired = expired
        super().__init__(EXPIRED if expired else NOT_LOGGED_IN)


class NoSuchUser(AccountError):
    def __init__(self, name: str) -> None:
        super().__init__(f"There is no user named {name!r}. `os1 chat --user NAME` creates one "
                         "on first use; or sign up in the browser.")


@dataclass(frozen=True)
class Grant:
    """A new session: the token goes to the browser once and is never seen again here."""

    user: User
    token: str
    expires_at: datetime


def normalized_name(name: str) -> str:
    """One spelling per name: "Amélie" typed two ways is one account."""
    return unicodedata.normalize("NFC", name)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Accounts:
    def __init__(self, store: Database, limits: RateLimits, *, session_days: float = 30.0,
                 clock: Clock = _utc_now, hasher: PasswordHasher | None = None) -> None:
        self._store = store
        self._limits = limits
        self._ttl = timedelta(days=session_days)
        self._clock = clock
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106's low-memory profile
        self._dummy: str | None = None  # a hash checked for unknown names (same cost)

    # -- signing up, logging in and out ---------------------------------------------

    async def sign_up(self, name: str, password: str, client: str) -> Grant:
        """A new user with this password, logged in. ``client``: the caller's IP."""
        wait = await self._limits.take(key("sign-up", client), self._limits.rules.sign_ups)
        if wait is not None:
            raise TooManyAttempts(wait, "Too many new accounts from here.")
        name = normalized_name(name)
        if await asyncio.to_thread(self._store.run, lambda db: _name_taken(db, name)):
            raise NameTaken  # before the slow hash
        hashed = await asyncio.to_thread(self._hasher.hash, password)
        user = await asyncio.to_thread(self._store.run,
                                       lambda db: _create(db, name, hashed, self._clock()))
        return await self._grant(user)

    async def log_in(self, name: str, password: str, client: str) -> Grant:
        name = normalized_name(name)
        wait = await self._limits.take(key("login", client), self._limits.rules.logins)
        lockout = self._limits.rules.login_failures
        keys = (key("login-name", name.casefold()), key("login-ip", client))
        for locked in keys:
            wait = max(wait or 0.0, await self._limits.locked_for(locked, lockout) or 0.0)
        if wait:
            raise TooManyAttempts(wait, "Too many tries to log in.")
        found = await asyncio.to_thread(self._store.run, lambda db: _account(db, name))
        stored = found[1] if found else await self._dummy_hash()
        matches = await asyncio.to_thread(self._verify, stored, password)
        if found is None or not matches:
            for failed in keys:
                await self._limits.fail(failed, lockout)
            raise WrongCredentials
        user, stored = found
        await self._limits.forgive(keys[0])  # the IP's count stays: it may be guessing others
        if self._hasher.check_needs_rehash(stored):  # the parameters were raised since
            hashed = await asyncio.to_thread(self._hasher.hash, password)
            await asyncio.to_thread(self._store.run, lambda db: _set_hash(db, user, hashed))
        return await self._grant(user)

    async def log_out(self, token: str) -> None:
        """The token stops working at once."""
        hashed = token_hash(token)
        await asyncio.to_thread(self._store.run, lambda db: db.execute(
            "DELETE FROM sessions WHERE token_hash = ?", (hashed,)))

    async def user_for(self, token: str | None) -> User:
        """The user a session token belongs to; raises `NotLoggedIn`. Slides the expiry."""
        if not token or len(token) > TOKEN_MAX:
            raise NotLoggedIn
        hashed = token_hash(token)
        now = self._clock()

        def work(db: sqlite3.Connection) -> User:
            row = db.execute(
                "SELECT u.id, u.name, u.created_at, s.expires_at FROM sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?", (hashed,)
            ).fetchone()
            if row is None:
                raise NotLoggedIn
            expires = from_text(row[3])
            if expires <= now:
                db.execute("DELETE FROM sessions WHERE token_hash = ?", (hashed,))
                raise NotLoggedIn(expired=True)
            if now + self._ttl - expires >= _SLIDE_EVERY:
                db.execute("UPDATE sessions SET expires_at = ? WHERE token_hash = ?",
                           (to_text(now + self._ttl), hashed))
            return User(id=row[0], name=row[1], created_at=from_text(row[2]))

        return await asyncio.to_thread(self._store.run, work)

    async def check_password(self, user: User, password: str) -> bool:
        """For what needs the password again (erasing everything)."""
        found = await asyncio.to_thread(self._store.run, lambda db: _account(db, user.name))
        stored = found[1] if found and found[0].id == user.id else await self._dummy_hash()
        return await asyncio.to_thread(self._verify, stored, password) and found is not None

    # -- inside ----------------------------------------------------------------------

    async def _grant(self, user: User) -> Grant:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        expires = now + self._ttl

        def work(db: sqlite3.Connection) -> None:
            with transaction(db):
                # Housekeeping in passing: this user's dead sessions go.
                db.execute("DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?",
                           (user.id, to_text(now)))
                db.execute("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) "
                           "VALUES (?, ?, ?, ?)",
                           (token_hash(token), user.id, to_text(now), to_text(expires)))

        await asyncio.to_thread(self._store.run, work)
        return Grant(user, token, expires)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await asyncio.to_thread(self._hasher.hash, secrets.token_hex(16))
        return self._dummy


# -- the SQL (each runs inside `SQLiteStore.run`) ------------------------------------------


def _name_taken(db: sqlite3.Connection, name: str) -> bool:
    """Taken by any user, local ones included (`os1 chat`'s "me"): an account for a name that
    already has conversations would hand them to whoever signed up first. Case does not
    make a new name ("Amy" and "amy" are one person to a reader)."""
    return db.execute("SELECT 1 FROM users WHERE lower(name) = lower(?)",
                      (name,)).fetchone() is not None


def _create(db: sqlite3.Connection, name: str, hashed: str, now: datetime) -> User:
    with transaction(db):
        if _name_taken(db, name):
            raise NameTaken
        try:
            cursor = db.execute("INSERT INTO users (name, created_at) VALUES (?, ?)",
                                (name, to_text(now)))
        except sqlite3.IntegrityError:
            raise NameTaken from None
        user_id = cursor.lastrowid
        assert user_id is not None
        db.execute("INSERT INTO accounts (user_id, password_hash, created_at) VALUES (?, ?, ?)",
                   (user_id, hashed, to_text(now)))
    return User(id=user_id, name=name, created_at=now)


def _account(db: sqlite3.Connection, name: str) -> tuple[User, str] | None:
    row = db.execute(
        "SELECT u.id, u.name, u.created_at, a.password_hash FROM users u "
        "JOIN accounts a ON a.user_id = u.id WHERE u.name = ?", (name,)
    ).fetchone()
    if row is None:
        return None
    return User(id=row[0], name=row[1], created_at=from_text(row[2])), str(row[3])


def _set_hash(db: sqlite3.Connection, user: User, hashed: str) -> None:
    db.execute("UPDATE accounts SET password_hash = ? WHERE user_id = ?", (hashed, user.id))


def set_password(store: Database, name: str, password: str,
                 hasher: PasswordHasher | None = None, clock: Clock = _utc_now) -> User:
    """Give an existing user (e.g. `os1 chat`'s local one) a password, or a new one. Every
    session of theirs ends: whoever knew the old password is logged out."""
    hashed = (hasher or PasswordHasher()).hash(password)
    name = normalized_name(name)

    def work(db: sqlite3.Connection) -> User:
        row = db.execute("SELECT id, name, created_at FROM users WHERE name = ?",
                         (name,)).fetchone()
        if row is None:
            raise NoSuchUser(name)
        user = User(id=row[0], name=row[1], created_at=from_text(row[2]))
        with transaction(db):
            db.execute(
                "INSERT INTO accounts (user_id, password_hash, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash",
                (user.id, hashed, to_text(clock())))
            db.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
        return user

    return store.run(work)


def check_new_password(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < PASSWORD_MIN:
        return f"A password needs at least {PASSWORD_MIN} characters."
    if len(password) > PASSWORD_MAX:
        return f"A password may have at most {PASSWORD_MAX} characters."
    return None
