"""Encryption at rest on real SQLCipher files: nothing said reaches the disk in the clear, the
right key reads it back, wrong keys and mismatched files fail with what to do, and
`os1 encrypt` / `os1 decrypt` convert a database without losing a turn."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import types
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from os1.app import close_companion, open_companion
from os1.config import Settings, load_settings
from os1.memory.embedder import Embedder
from os1.memory.engine import MemoryEngine
from os1.store.base import NewTurn, StorageError, User
from os1.store.encrypt_cli import add_encrypt_parser, run_encrypt
from os1.store.encryption import (
    KEYRING_SERVICE,
    EncryptionError,
    database_key,
    database_state,
)
from os1.store.open import open_store, unlock
from os1.store.sqlite import SQLiteStore

SECRET = "My locker combination is 31-07-1994 and nobody knows about the pelican tattoo."
WORDS = (b"pelican", b"locker combination", "pelican".encode("utf-16-le"))
PASSPHRASE = "correct horse battery staple"
WHEN = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.load()


@pytest.fixture
def passphrase_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OS1_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("OS1_CONFIG_FILE", str(tmp_path / "config.toml"))
    monkeypatch.delenv("OS1_ENCRYPTION", raising=False)


@pytest.fixture
def encrypted(settings: Settings, passphrase_env: None) -> Settings:
    return settings.with_overrides(encryption="passphrase")


def leaks(folder: Path) -> list[str]:
    """Files under ``folder`` whose raw bytes hold any word of the secret."""
    return [str(p.relative_to(folder)) for p in sorted(folder.rglob("*"))
            if p.is_file() and any(word in p.read_bytes() for word in WORDS)]


def remember(store: SQLiteStore, engine: MemoryEngine, text: str) -> User:
    user = store.user("ana")
    conversation = store.current_conversation(user)
    turn = store.add_turn(user, NewTurn(conversation.id, "user", text, "", "complete", WHEN))
    engine.remember_turn(user, turn, "ana")
    return user


def fts_rows(store: SQLiteStore, word: str) -> list[int]:
    return store.run(lambda db: [row[0] for row in db.execute(
        "SELECT rowid FROM memory_fts WHERE memory_fts MATCH ?", (word,))])


def test_the_grep_finds_the_secret_when_encryption_is_off(settings: Settings,
                                                          embedder: Embedder) -> None:
    """The control: without encryption the same steps leave the secret on disk."""
    store = open_store(settings)
    engine = MemoryEngine(store, settings.memory_dir, embedder=embedder)
    remember(store, engine, SECRET)
    engine.close()
    store.close()
    assert not store.encrypted
    assert "os1.sqlite3" in leaks(settings.data_dir)


async def test_nothing_said_reaches_the_disk_in_the_clear(
        encrypted: Settings, embedder: Embedder, fixture_model_path: Path) -> None:
    store = open_store(encrypted)
    assert store.encrypted
    engine = MemoryEngine(store, encrypted.memory_dir, embedder=embedder)
    user = remember(store, engine, SECRET)
    assert engine.recall(user, "what tattoo do I have?", 3, WHEN).hits[0].memory.text == SECRET
    assert (encrypted.data_dir / "os1.sqlite3-wal").stat().st_size > 0  # written, not yet merged
    assert leaks(encrypted.data_dir) == []
    engine.close()  # with a plaintext store this saves the vector index
    store.close()
    assert leaks(encrypted.data_dir) == []
    assert not list(encrypted.memory_dir.glob("vectors-*"))

    # The whole companion: a turn through the model, the memory writer, and closing (which
    # writes the session's KV snapshot when encryption is off).
    companion = open_companion(encrypted.with_overrides(affect=False, memory_extraction=False),
                               fixture_model_path)
    try:
        await companion.warm()
        ana = companion.store.user("ana")
        [event async for event in companion.turn(ana, "Remember: " + SECRET)]
    finally:
        await close_companion(companion)
    kv = encrypted.data_dir / "kv"
    assert list(kv.glob("persona-*.bin"))  # snapshots are on: the persona's holds no user data
    assert not list(kv.glob("session-*.bin"))
    assert leaks(encrypted.data_dir) == []
    assert database_state(encrypted.database_path) == "encrypted"


def test_the_right_passphrase_reads_it_back_and_search_works(encrypted: Settings,
                                                             embedder: Embedder) -> None:
    store = open_store(encrypted)
    remember(store, MemoryEngine(store, encrypted.memory_dir, embedder=embedder), SECRET)
    store.close()

    again = open_store(encrypted)
    try:
        user = again.user("ana")
        turns = again.turns(user, again.current_conversation(user).id)
        assert [t.content for t in turns] == [SECRET]
        assert len(fts_rows(again, "pelicans")) == 1  # FTS5 with porter stemming, encrypted
        engine = MemoryEngine(again, encrypted.memory_dir, embedder=embedder)
        hits = engine.recall(user, "the tattoo of a bird", 3, WHEN).hits
        assert hits and hits[0].memory.text == SECRET
        engine.forget(user, [hits[0].memory.id])  # FTS5 optimize, WAL truncate: encrypted too
        assert fts_rows(again, "pelican") == []
    finally:
        again.close()


def test_the_passphrase_is_asked_once_before_anything_else(
        encrypted: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    open_store(encrypted).close()
    unlock(encrypted)  # what `os1` does first, before spinners draw over the prompt
    monkeypatch.delenv("OS1_PASSPHRASE")
    store = open_store(encrypted)  # no terminal, no variable: the checked key is reused
    assert store.encrypted
    store.close()


def test_a_wrong_passphrase_says_so(encrypted: Settings,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    open_store(encrypted).close()
    monkeypatch.setenv("OS1_PASSPHRASE", "not it")
    with pytest.raises(EncryptionError, match="passphrase does not open") as caught:
        open_store(encrypted)
    assert "not a database" not in str(caught.value)


def test_an_encrypted_file_with_encryption_off_says_which_setting(encrypted: Settings) -> None:
    open_store(encrypted).close()
    plain = encrypted.with_overrides(encryption="off")
    with pytest.raises(StorageError, match="encryption passphrase") as caught:
        open_store(plain)
    assert "is encrypted" in str(caught.value) and "not a database" not in str(caught.value)


def test_a_plaintext_file_with_encryption_on_says_run_os1_encrypt(encrypted: Settings) -> None:
    open_store(encrypted.with_overrides(encryption="off")).close()
    with pytest.raises(StorageError, match="os1 encrypt"):
        open_store(encrypted)


def test_a_passphrase_without_a_terminal_asks_for_the_variable(settings: Settings) -> None:
    mode = settings.with_overrides(encryption="passphrase")
    with pytest.raises(EncryptionError, match="Set OS1_PASSPHRASE"):
        database_key(mode, new=False, env={}, interactive=lambda: False)


def test_a_new_passphrase_is_typed_twice(settings: Settings) -> None:
    mode = settings.with_overrides(encryption="passphrase")
    typed = iter(["one thing", "another"])
    with pytest.raises(EncryptionError, match="differ"):
        database_key(mode, new=True, env={}, ask=lambda _: next(typed),
                     interactive=lambda: True)
    same = iter(["tea at noon", "tea at noon"])
    key = database_key(mode, new=True, env={}, ask=lambda _: next(same),
                       interactive=lambda: True)
    assert key is not None and "tea" not in repr(key)


class FakeKeyring(types.ModuleType):
    """The `keyring` package's two calls, over a dict: the OS keyring this box lacks."""

    def __init__(self) -> None:
        super().__init__("keyring")
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self.entries.get((service, user))

    def set_password(self, service: str, user: str, secret: str) -> None:
        self.entries[(service, user)] = secret

    def delete_password(self, service: str, user: str) -> None:
        del self.entries[(service, user)]


@pytest.fixture
def fake_keyring(monkeypatch: pytest.MonkeyPatch) -> FakeKeyring:
    fake = FakeKeyring()
    monkeypatch.setitem(sys.modules, "keyring", fake)
    return fake


def test_keyring_mode_makes_one_random_key_and_reuses_it(settings: Settings,
                                                         fake_keyring: FakeKeyring) -> None:
    mode = settings.with_overrides(encryption="keyring")
    store = open_store(mode)
    assert store.encrypted
    store.user("ana")
    store.close()
    (entry,) = fake_keyring.entries.items()
    assert entry[0] == (KEYRING_SERVICE, str(mode.database_path.resolve()))
    assert len(bytes.fromhex(entry[1])) == 32
    again = open_store(mode)
    assert again.user("ana").name == "ana"
    again.close()
    fake_keyring.entries.clear()  # the entry is gone: no new key may be made over the data
    with pytest.raises(EncryptionError, match="has no os1 key"):
        open_store(mode)


def test_keyring_mode_without_a_keyring_says_what_is_missing(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    mode = settings.with_overrides(encryption="keyring")
    monkeypatch.setitem(sys.modules, "keyring", None)  # not installed
    with pytest.raises(EncryptionError, match="No OS keyring is available here") as missing:
        open_store(mode)
    assert "keyring is not installed" in str(missing.value)
    assert "encryption = passphrase" in str(missing.value)

    class NoKeyringError(RuntimeError):
        pass

    def no_backend(service: str, user: str) -> str | None:
        raise NoKeyringError("No recommended backend was available.")

    headless = types.ModuleType("keyring")
    headless.get_password = no_backend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", headless)
    with pytest.raises(EncryptionError, match=r"No OS keyring is available here .*no backend"):
        open_store(mode)
    assert not mode.database_path.exists()


# -- os1 encrypt / os1 decrypt -------------------------------------------------------------


def os1(verb: str, settings: Settings, *flags: str) -> int:
    parser = argparse.ArgumentParser()
    add_encrypt_parser(parser.add_subparsers(dest="verb"))
    quiet = Console(file=io.StringIO())
    return run_encrypt(parser.parse_args([verb, *flags]), settings, quiet, quiet)


@pytest.fixture
def plaintext_with_turns(settings: Settings, embedder: Embedder,
                         passphrase_env: None) -> Iterator[Settings]:
    store = open_store(settings)
    engine = MemoryEngine(store, settings.memory_dir, embedder=embedder)
    user = remember(store, engine, SECRET)
    conversation = store.current_conversation(user)
    for n in range(20):
        store.add_turn(user, NewTurn(conversation.id, "assistant" if n % 2 else "user",
                                     f"turn {n}", "", "complete", WHEN))
    engine.index(user)  # built now, saved on close
    engine.close()
    store.close()
    assert list(settings.memory_dir.glob("vectors-*"))  # a plaintext cache to be removed
    yield settings


def test_os1_encrypt_converts_and_decrypt_round_trips(plaintext_with_turns: Settings,
                                                      embedder: Embedder) -> None:
    settings = plaintext_with_turns
    kv = settings.data_dir / "kv"
    kv.mkdir()
    (kv / "session-abc.bin").write_bytes(b"pelican")  # stands in for llama.cpp's snapshot

    assert os1("encrypt", settings) == 0
    assert database_state(settings.database_path) == "encrypted"
    assert leaks(settings.data_dir) == []
    assert sorted(p.name for p in settings.data_dir.iterdir()) == ["kv", "memory",
                                                                   "os1.sqlite3"]
    assert load_settings().settings.encryption == "passphrase"  # recorded in the config file

    encrypted = settings.with_overrides(encryption="passphrase")
    store = open_store(encrypted)
    user = store.user("ana")
    turns = store.turns(user, store.current_conversation(user).id)
    assert [t.content for t in turns] == [SECRET] + [f"turn {n}" for n in range(20)]
    assert len(fts_rows(store, "pelican")) == 1
    engine = MemoryEngine(store, encrypted.memory_dir, embedder=embedder)
    assert engine.recall(user, "tattoo", 3, WHEN).hits[0].memory.text == SECRET
    store.add_turn(user, NewTurn(turns[0].conversation_id, "user", "after", "", "complete",
                                 WHEN))
    engine.close()
    store.close()

    assert os1("decrypt", encrypted) == 0
    assert database_state(settings.database_path) == "plaintext"
    assert load_settings().settings.encryption == "off"
    plain = open_store(settings)
    turns = plain.turns(user, plain.current_conversation(user).id)
    assert turns[0].content == SECRET and turns[-1].content == "after" and len(turns) == 22
    assert len(fts_rows(plain, "pelican")) == 1
    plain.close()


def test_os1_encrypt_refuses_while_os1_has_the_database_open(
        plaintext_with_turns: Settings) -> None:
    settings = plaintext_with_turns
    holder = subprocess.Popen(  # another process, as a running `os1 chat` would be
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         f"db = sqlite3.connect({str(settings.database_path)!r})\n"
         "db.execute('SELECT count(*) FROM turns').fetchone()\n"
         "print('open', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        assert os1("encrypt", settings) == 1
    finally:
        holder.kill()
        holder.wait()
    assert database_state(settings.database_path) == "plaintext"
    assert not list(settings.data_dir.glob("*.converting"))
    assert os1("encrypt", settings) == 0  # and once it is closed, it goes through
