"""`os1 encrypt` and `os1 decrypt`: convert the database between plaintext and SQLCipher.

Both go the same way: copy into a new file with `sqlcipher_export`, check the copy (every
table's row count, the schema version, SQLite's integrity check), swap it in with one atomic
rename, destroy the old file, and record the mode in the config file. At every moment the
database path holds one whole database, the old or the new.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlcipher3 import dbapi2 as sqlcipher

from os1.config import ConfigError, Settings, default_config_file, set_in_config_file
from os1.store.base import StorageError
from os1.store.encryption import (
    DatabaseKey,
    database_key,
    database_state,
    drop_keyring_key,
)
from os1.store.files import shred
from os1.store.sqlite import SQLITE_ERRORS, SQLiteStore

EXIT_OK, EXIT_FAILED = 0, 1
MODES = ("passphrase", "keyring")


def add_encrypt_parser(verbs: Any) -> None:
    encrypt = verbs.add_parser(
        "encrypt", help="encrypt your conversations and memories on disk (SQLCipher)")
    encrypt.add_argument("--with", dest="mode", choices=MODES,
                         help="where the key comes from (default: the encryption setting, "
                              "else passphrase)")
    decrypt = verbs.add_parser("decrypt", help="store your data unencrypted again")
    decrypt.add_argument("--with", dest="mode", choices=MODES,
                         help="how it was encrypted (default: the encryption setting)")


def run_encrypt(args: argparse.Namespace, settings: Settings, console: Console,
                errors: Console) -> int:
    if settings.database_url:
        errors.print(f"[red]os1 {args.verb} works on the SQLite file; this os1 keeps its data in "
                     "PostgreSQL (database_url), where encryption at rest is the database "
                     "server's job (disk encryption, or a PostgreSQL build with TDE).[/red]")
        return EXIT_FAILED
    try:
        if args.verb == "decrypt":
            return _decrypt(args, settings, console, errors)
        return _encrypt(args, settings, console, errors)
    except (StorageError, ConfigError) as exc:
        errors.print(f"[red]{exc}[/red]")
        return EXIT_FAILED


def _encrypt(args: argparse.Namespace, settings: Settings, console: Console,
             errors: Console) -> int:
    mode = args.mode or (settings.encryption if settings.encryption != "off" else "passphrase")
    path = settings.database_path
    state = database_state(path)
    if state == "encrypted":
        if settings.encryption == "off":
            errors.print(f"[red]{path} is already encrypted (or is not an SQLite file).[/red] "
                         "Set the mode it was encrypted with: os1 config set encryption "
                         "passphrase (or keyring).")
            return EXIT_FAILED
        console.print(f"{path} is already encrypted ({settings.encryption}).")
        return EXIT_OK
    if state == "missing":
        _record_mode(mode, console, errors)
        console.print(f"There is no database yet; os1 will create {path} encrypted ({mode}).")
        return EXIT_OK
    SQLiteStore(path).close()  # an os1 database, migrated, its write-ahead log folded in
    key = database_key(settings.with_overrides(encryption=mode), new=True)
    assert key is not None
    _convert(path, None, key)
    # Other plaintext copies of the conversation: the saved vector index (a cache, rebuilt
    # from the database), the last session's KV-cache snapshot (remade on the next close
    # only while encryption is off) and the personas' (a user's own is not remade then).
    from os1.app import conversation_snapshots, persona_snapshots

    for leftover in [*settings.memory_dir.glob("vectors-*"),
                     *conversation_snapshots(settings), *persona_snapshots(settings)]:
        shred(leftover)
    _record_mode(mode, console, errors)
    console.print(
        f"Encrypted {path} ({mode}). The unencrypted file was overwritten and removed. On SSDs "
        "and copy-on-write filesystems old blocks can survive that; only full-disk encryption "
        "covers them.")
    if mode == "passphrase":
        console.print("Keep the passphrase safe: without it nothing in the database can be "
                      "read, by you or anyone.")
    return EXIT_OK


def _decrypt(args: argparse.Namespace, settings: Settings, console: Console,
             errors: Console) -> int:
    mode = args.mode or settings.encryption
    path = settings.database_path
    state = database_state(path)
    if state != "encrypted":
        _record_mode("off", console, errors)
        what = "is not encrypted" if state == "plaintext" else "does not exist yet"
        console.print(f"{path} {what}; encryption is off.")
        return EXIT_OK
    if mode == "off":
        errors.print(f"[red]{path} is encrypted; say how:[/red] os1 decrypt --with passphrase "
                     "(or --with keyring).")
        return EXIT_FAILED
    key = database_key(settings.with_overrides(encryption=mode), new=False)
    assert key is not None
    SQLiteStore(path, key=key).close()  # the key fits (clear errors if not); migrated
    _convert(path, key, None)
    if mode == "keyring":
        drop_keyring_key(path)
    _record_mode("off", console, errors)
    console.print(f"Decrypted {path}: it is stored unencrypted from now on.")
    return EXIT_OK


def _record_mode(mode: str, console: Console, errors: Console) -> None:
    config_file = default_config_file(os.environ)
    set_in_config_file(config_file, "encryption", mode)
    console.print(f"encryption = {mode}  [dim](saved in {config_file})[/dim]")
    overriding = os.environ.get("OS1_ENCRYPTION", "")
    if overriding and overriding != mode:
        errors.print(f"[yellow]Note: OS1_ENCRYPTION={overriding} in the environment overrides "
                     "the config file; change or unset it.[/yellow]")


# -- the conversion ----------------------------------------------------------------------


def _convert(path: Path, source_key: DatabaseKey | None, target_key: DatabaseKey | None) -> None:
    partial = path.with_name(path.name + ".converting")
    _remove(partial, plaintext=True)  # a leftover of an interrupted run
    try:
        _export(path, source_key, partial, target_key)
        _verify(path, source_key, partial, target_key)
    except BaseException:
        _remove(partial, plaintext=target_key is None)
        raise
    _swap(path, partial, old_is_plaintext=source_key is None)


def _open(path: Path, key: DatabaseKey | None) -> Any:
    # A short wait: a lock held by another os1 is not going away (see `_export`).
    db = sqlcipher.connect(str(path), isolation_level=None, timeout=1)
    db.execute("PRAGMA cipher_log_level = NONE")
    if key is not None:
        db.execute(f"PRAGMA key = {key.pragma}")
    return db


def _export(source: Path, source_key: DatabaseKey | None, target: Path,
            target_key: DatabaseKey | None) -> None:
    db = _open(source, source_key)
    try:
        # Leaving WAL mode needs the only connection to the file: an os1 still running is
        # caught here, instead of it writing into the old file after the swap.
        if db.execute("PRAGMA journal_mode = DELETE").fetchone()[0].lower() != "delete":
            raise sqlcipher.OperationalError("database is locked")
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        # An empty key attaches a plaintext database.
        db.execute("ATTACH DATABASE ? AS target KEY ?",
                   (str(target), "" if target_key is None else target_key.text))
        db.execute("SELECT sqlcipher_export('target')")
        db.execute(f"PRAGMA target.user_version = {version}")  # not copied by the export
        db.execute("DETACH DATABASE target")
    except SQLITE_ERRORS as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StorageError(f"The database {source} is in use by another program (is os1 "
                               "running?). Close it and run the command again.") from None
        raise StorageError(f"Could not copy {source} into {target} ({exc}); nothing was "
                           "changed.") from None
    finally:
        db.close()


def _verify(source: Path, source_key: DatabaseKey | None, target: Path,
            target_key: DatabaseKey | None) -> None:
    before, after = _census(source, source_key), _census(target, target_key)
    if before != after:
        differing = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        raise StorageError(f"The converted copy differs from {source} ({', '.join(differing)}); "
                           "nothing was changed.")
    db = _open(target, target_key)
    try:
        result = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    if result != "ok":
        raise StorageError(f"The converted copy fails SQLite's integrity check ({result}); "
                           "nothing was changed.")


def _census(path: Path, key: DatabaseKey | None) -> dict[str, int]:
    """Rows per stored table (FTS5's shadow tables included), and the schema version."""
    db = _open(path, key)
    try:
        names = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND rootpage > 0")]
        counts = {name: int(db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
                  for name in names}
        counts["(user_version)"] = int(db.execute("PRAGMA user_version").fetchone()[0])
        return counts
    finally:
        db.close()


def _swap(path: Path, partial: Path, *, old_is_plaintext: bool) -> None:
    for journal in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        # Empty after the export left WAL mode; a stale one must never meet the new file.
        _remove(journal, plaintext=old_is_plaintext)
    old = path.with_name(path.name + ".old")
    _remove(old, plaintext=True)
    try:
        os.link(path, old)  # the old file keeps a name, so its bytes can be overwritten below
    except OSError:  # no hard links on this filesystem: a moment with no file at the path
        os.replace(path, old)
    os.replace(partial, path)  # atomic: the path holds the whole old or the whole new file
    # Overwrite, not just unlink: unlinking leaves the bytes. SSDs (wear levelling) and
    # copy-on-write filesystems may still keep old blocks; nothing at this level reaches them.
    _remove(old, plaintext=old_is_plaintext)


def _remove(path: Path, *, plaintext: bool) -> None:
    if not path.exists():
        return
    if plaintext:
        shred(path)
    else:
        path.unlink()  # ciphertext: nothing to overwrite
