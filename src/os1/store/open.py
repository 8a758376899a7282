"""Opening the database the way the settings say: PostgreSQL (database_url), or the SQLite
file, plain or encrypted with a key."""

from __future__ import annotations

from pathlib import Path

from os1.config import ConfigError, Settings
from os1.store.base import Database
from os1.store.encryption import (
    DatabaseKey,
    database_key,
    database_state,
    not_encrypted_error,
)
from os1.store.sqlite import SQLiteStore

# Keys already checked in this process (see `unlock`), by database path and mode.
_unlocked: dict[tuple[Path, str], DatabaseKey] = {}


def open_store(settings: Settings) -> Database:
    """The store for `settings.database_url`, else `settings.database_path`. With encryption
    on, the key is asked for (or made) here unless `unlock` already did; an unencrypted
    database is refused with what to run before anything is asked."""
    if settings.database_url:
        _refuse_encryption(settings)
        from os1.store.postgres import PostgresStore  # psycopg only when it is used

        return PostgresStore(settings.database_url)
    return _open_sqlite(settings)


def _refuse_encryption(settings: Settings) -> None:
    if settings.encryption != "off":
        raise ConfigError(
            f"encryption = {settings.encryption} encrypts the SQLite file; with database_url "
            "the data lives in PostgreSQL, whose server encrypts it at rest (an encrypted "
            "disk or volume, or a PostgreSQL build with TDE). Set encryption to off, or leave "
            "database_url empty to keep the encrypted file.")


def _open_sqlite(settings: Settings) -> SQLiteStore:
    path = settings.database_path
    if settings.encryption == "off":
        return SQLiteStore(path)  # an encrypted file is refused there, with what to set
    state = database_state(path)
    if state == "plaintext":
        raise not_encrypted_error(path, settings.encryption)
    key = _unlocked.get((path, settings.encryption))
    if key is None or state == "missing":
        key = database_key(settings, new=state == "missing")
    assert key is not None
    return SQLiteStore(path, key=key)


def unlock(settings: Settings) -> None:
    """Ask for the passphrase now and check it, so the prompt comes before any spinner or
    model load draws over it (and a wrong one fails in a second, not after the load); later
    `open_store` calls in this process reuse the key."""
    if settings.database_url:
        _refuse_encryption(settings)
        return
    if settings.encryption == "off":
        return
    store = _open_sqlite(settings)
    store.close()
    assert store.key is not None
    _unlocked[(settings.database_path, settings.encryption)] = store.key
