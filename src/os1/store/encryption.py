"""Where the database key comes from, when the user's data is encrypted at rest (SQLCipher).

Two modes (the setting `encryption`):

- passphrase: the user types it (or sets OS1_PASSPHRASE). SQLCipher derives the key itself with
  its default PBKDF2-HMAC-SHA512, 256,000 iterations and a random salt kept in the file's first
  16 bytes. That is fine here: it is SQLCipher 4's audited default, above OWASP's 210,000 for
  that hash, it runs once per open (~0.2 s on this 2-core CPU), and because nothing is stored
  beside the file, the stock `sqlcipher` shell opens it with the same passphrase.
- keyring: a random 32-byte key, made once and kept in the OS keyring (service "os1", user name
  the database's path); SQLCipher gets it raw (x'…'), so there is nothing to stretch.

Python strings cannot be wiped from memory, so a passphrase lives as long as the process does;
encryption at rest protects a powered-off or stolen disk, not a running session.
"""

from __future__ import annotations

import getpass
import importlib
import os
import secrets
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Literal

from os1.config import Settings
from os1.store.base import StorageError

PASSPHRASE_ENV = "OS1_PASSPHRASE"
KEYRING_SERVICE = "os1"
KEYRING_VERSION = "25.7.0"  # the version pinned as the `keyring` extra in pyproject.toml

Mode = Literal["passphrase", "keyring"]
FileState = Literal["missing", "plaintext", "encrypted"]

_SQLITE_HEADER = b"SQLite format 3\x00"


class EncryptionError(StorageError):
    """No key could be had, or it does not fit; the message says what to do."""


class DatabaseKey:
    """What SQLCipher is given as the key. Its repr never shows it (tracebacks, logs)."""

    __slots__ = ("_text", "mode")

    def __init__(self, mode: Mode, text: str) -> None:
        self.mode: Mode = mode
        self._text = text

    @classmethod
    def from_passphrase(cls, passphrase: str) -> DatabaseKey:
        if not passphrase:
            raise EncryptionError("An empty passphrase protects nothing: choose one with at "
                                  f"least a few words, or set {PASSPHRASE_ENV}.")
        if "\0" in passphrase:
            raise EncryptionError("The passphrase contains a NUL character, which SQLCipher "
                                  "would cut it at. Choose another one.")
        return cls("passphrase", passphrase)

    @classmethod
    def from_raw(cls, key: bytes) -> DatabaseKey:
        if len(key) != 32:
            raise EncryptionError(f"A raw database key is 32 bytes, not {len(key)}.")
        # SQLCipher's syntax for "use these bytes as the key, skip the derivation".
        return cls("keyring", f"x'{key.hex()}'")

    @property
    def text(self) -> str:
        """The key as a bound parameter (ATTACH … KEY ?) takes it."""
        return self._text

    @property
    def pragma(self) -> str:
        """The key as a SQL string literal for `PRAGMA key = …` (PRAGMA takes no parameters)."""
        return "'" + self._text.replace("'", "''") + "'"

    def __repr__(self) -> str:
        return f"DatabaseKey({self.mode}, hidden)"


def database_state(path: Path) -> FileState:
    """What the file on disk is: an unencrypted SQLite database starts with a fixed header;
    an SQLCipher one starts with its random salt (so does any other file: "encrypted" also
    covers files that are not databases at all)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        raise StorageError(f"Cannot read the database {path} ({exc.strerror}). Check its "
                           "permissions.") from None
    if not head:
        return "missing"  # SQLite treats an empty file as a new database
    return "plaintext" if head == _SQLITE_HEADER else "encrypted"


def not_encrypted_error(path: Path, mode: str) -> EncryptionError:
    return EncryptionError(
        f"The database {path} is not encrypted, but encryption = {mode}. Run `os1 encrypt` to "
        "encrypt it (or `os1 config set encryption off` to keep it as it is).")


def encrypted_error(path: Path) -> EncryptionError:
    # A file that is not a database at all looks the same as ciphertext from outside.
    return EncryptionError(
        f"The database {path} cannot be read with encryption off: it is encrypted, or else "
        "damaged or not an os1 database. If you encrypted it, set the mode you used: `os1 "
        "config set encryption passphrase` (or keyring). Otherwise move it away to start "
        "fresh; os1 will not overwrite it.")


def database_key(
    settings: Settings,
    *,
    new: bool,
    env: Mapping[str, str] | None = None,
    ask: Callable[[str], str] = getpass.getpass,
    interactive: Callable[[], bool] | None = None,
) -> DatabaseKey | None:
    """The key for `settings.database_path`, or None when encryption is off. ``new``: the
    database is about to be created (a passphrase is asked twice, a keyring key is made)."""
    mode = settings.encryption
    if mode == "off":
        return None
    if mode == "passphrase":
        return DatabaseKey.from_passphrase(_passphrase(
            settings.database_path, new=new, env=os.environ if env is None else env, ask=ask,
            interactive=interactive or sys.stdin.isatty))
    if mode == "keyring":
        return DatabaseKey.from_raw(_keyring_key(settings.database_path, create=new))
    raise EncryptionError(f"encryption must be off, passphrase or keyring (it is {mode!r}).")


def _passphrase(path: Path, *, new: bool, env: Mapping[str, str], ask: Callable[[str], str],
                interactive: Callable[[], bool]) -> str:
    given = env.get(PASSPHRASE_ENV, "")
    if given:
        return given
    if not interactive():
        raise EncryptionError(
            f"encryption = passphrase, but there is no terminal to ask for it. Set "
            f"{PASSPHRASE_ENV} in this program's environment, or run os1 in a terminal.")
    if not new:
        return ask("os1 passphrase: ")
    first = ask(f"Choose a passphrase for {path} (if it is lost, so is everything in it): ")
    if first and ask("Type it again: ") != first:
        raise EncryptionError("The two passphrases differ; nothing was changed. Run the "
                              "command again.")
    return first


# -- the OS keyring ---------------------------------------------------------------------


def _keyring_username(path: Path) -> str:
    return str(path.resolve())


def _keyring_module() -> ModuleType:
    """`keyring` is an optional extra: most of its weight (D-Bus, cryptography) only helps on a
    desktop, and a headless Linux box has no backend at all."""
    try:
        return importlib.import_module("keyring")
    except ImportError:
        raise _no_keyring(
            f"the Python package keyring is not installed; add it with "
            f"`.venv/bin/pip install keyring=={KEYRING_VERSION}`") from None


def _no_keyring(reason: str) -> EncryptionError:
    return EncryptionError(
        f"No OS keyring is available here ({reason}). Use encryption = passphrase (`os1 config "
        "set encryption passphrase`), or run os1 in a desktop session with a keyring (GNOME "
        "Keyring or KWallet, macOS Keychain, Windows Credential Manager).")


def _keyring_call(call: Callable[[], object]) -> object:
    try:
        return call()
    except Exception as exc:  # a backend may raise anything (D-Bus, a locked wallet, …)
        if type(exc).__name__ == "NoKeyringError":
            raise _no_keyring("keyring found no backend: on Linux that means no Secret "
                              "Service on the session's D-Bus") from None
        raise _no_keyring(f"{type(exc).__name__}: {exc}") from None


def _keyring_key(path: Path, *, create: bool) -> bytes:
    keyring = _keyring_module()
    user = _keyring_username(path)
    stored = _keyring_call(lambda: keyring.get_password(KEYRING_SERVICE, user))
    if stored is None:
        if not create:
            raise EncryptionError(
                f"The OS keyring has no os1 key for {path}, so it cannot be opened. If you "
                "encrypted it with a passphrase, run `os1 config set encryption passphrase`; "
                "a key removed from the keyring cannot be recovered.")
        made = secrets.token_bytes(32).hex()
        _keyring_call(lambda: keyring.set_password(KEYRING_SERVICE, user, made))
        # Read it back: a key the keyring dropped would lock the user out of their data.
        stored = _keyring_call(lambda: keyring.get_password(KEYRING_SERVICE, user))
        if stored != made:
            raise _no_keyring("it accepted the key but did not keep it")
    try:
        key = bytes.fromhex(str(stored))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise EncryptionError(
            f"The OS keyring's entry (service {KEYRING_SERVICE!r}, user {user!r}) is not a key "
            "os1 made. Remove or restore it, or use encryption = passphrase.")
    return key


def drop_keyring_key(path: Path) -> None:
    """After decrypting: the key protects nothing any more. Best effort; a leftover entry is
    harmless."""
    try:
        keyring = importlib.import_module("keyring")
        keyring.delete_password(KEYRING_SERVICE, _keyring_username(path))
    except Exception:  # not installed, no backend, no such entry: nothing to remove
        pass
