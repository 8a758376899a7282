"""Fixtures for the server's tests: a real app, served by real uvicorn, on a real companion.

Use them by importing them into a test module (pytest then finds them there)::

    from server_helpers import live_server, server_settings, a_sign_up  # noqa: F401

- ``server_settings``: the conftest `settings` (temporary data folder, the SmolLM2 fixture
  model), with background fact extraction off. For PostgreSQL, give `serving` settings
  with ``database_url`` (the `database_url` fixture of tests/databases.py): everything here
  goes through `open_companion`, which opens whichever store the settings name.
- ``live_server``: uvicorn serving `create_app` on a free loopback port, inside the test's
  event loop (so tests using it are ``async``: a blocking client would stall the server).
  The companion is the real one `open_companion` assembles (memory, affect, safety, skills)
  around the session-wide fixture model, so the model loads once per test run. Yields a
  `LiveServer` (``url``, ``ws_url``, ``app``, ``companion``, ``store``).
- ``shared_server``: the same, one per test module (each test signs up its own user).
- ``serving(settings, model)``: the same as an async context manager, for other settings.
- ``app_with(settings, model)``: the app without a server, for FastAPI's ``TestClient`` or
  schemathesis (they run it in their own event loop; the embedded model works in any).
- ``sign_up(client, name)`` / ``a_sign_up(async_client, name)``: a new account, its token.
- ``database_of(companion)``: its store as a `Database`; ``fast_hasher()``: argon2id at the
  lowest cost, for tests that build `Accounts` themselves.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI

from conftest import MODEL_CACHE, RecordingModel
from os1.app import open_companion
from os1.companion import Companion
from os1.config import Settings
from os1.llm.base import ChatModel
from os1.server.app import create_app
from os1.server.limits import Limits, MemoryRateLimits, Rule
from os1.server.protocol import MAX_AUDIO_FRAME, MAX_TEXT_FRAME
from os1.store.base import Database

PASSWORD = "correct horse battery staple"


@pytest.fixture
def server_settings(settings: Settings) -> Settings:
    return for_server(settings)


def for_server(settings: Settings) -> Settings:
    """No background model calls (fact extraction); everything else as given, the database
    too: settings with a ``database_url`` (see tests/databases.py) serve from PostgreSQL."""
    return settings.with_overrides(memory_extraction=False)


def companion_on(settings: Settings, model: ChatModel) -> Companion:
    """`open_companion`'s real assembly, with ``model`` instead of loading one (the shared
    fixture model is wrapped so closing the companion leaves it open for the next test)."""
    with mock.patch("os1.app.open_chat_model", lambda *_args: RecordingModel(model)):
        return open_companion(settings)


# Tests sign up many users from one address (127.0.0.1): the per-address sign-up and log-in
# limits are raised for them; tests of those limits pass ``limits=`` of their own.
TEST_LIMITS = Limits(sign_ups=Rule(1000, 3600.0), logins=Rule(1000, 60.0))


def app_with(settings: Settings, model: ChatModel, **options: Any) -> FastAPI:
    options.setdefault("limits", MemoryRateLimits(TEST_LIMITS))
    return create_app(settings, companion_on(settings, model), **options)


@dataclass(frozen=True)
class LiveServer:
    url: str  # http://127.0.0.1:PORT
    ws_url: str  # ws://127.0.0.1:PORT
    app: FastAPI
    companion: Companion

    @property
    def store(self) -> Database:
        return database_of(self.companion)


@asynccontextmanager
async def serving(settings: Settings, model: ChatModel,
                  **options: Any) -> AsyncIterator[LiveServer]:
    """uvicorn with the app on a free port until the block ends (then a graceful shutdown,
    which closes the companion the way `os1 serve` does)."""
    app = await asyncio.to_thread(app_with, settings, model, **options)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws_max_size=2 * max(MAX_TEXT_FRAME,
                                                                          MAX_AUDIO_FRAME),
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[listener]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why it failed, if it raised
                raise RuntimeError("uvicorn did not start; its log says why")
            await asyncio.sleep(0.02)
        yield LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", app,
                         app.state.os1.companion)
    finally:
        server.should_exit = True
        await task
        listener.close()


@pytest.fixture
async def live_server(server_settings: Settings, fixture_model: ChatModel
                      ) -> AsyncIterator[LiveServer]:
    async with serving(server_settings, fixture_model) as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def shared_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                        fixture_model: ChatModel) -> AsyncIterator[LiveServer]:
    """One live server for a whole test module (start-up warms ~3 s of sentence models):
    for tests that each sign up a user of their own and so cannot see each other. Once on
    SQLite and once on PostgreSQL (tests/databases.py): the same tests pass on both."""
    folder = tmp_path_factory.mktemp("server")
    settings = Settings(data_dir=folder / "data", cache_dir=MODEL_CACHE, model="fixture",
                        context_tokens=2048, max_reply_tokens=48, temperature=0.0)
    postgres, database = None, ""
    if request.param == "postgresql":
        postgres = request.getfixturevalue("postgres")
        database = postgres.new_database()
        settings = settings.with_overrides(database_url=postgres.url(database))
    try:
        async with serving(for_server(settings), fixture_model) as server:
            yield server
    finally:
        if postgres is not None:
            postgres.drop_database(database)


def database_of(companion: Companion) -> Database:
    """The companion's store, as the server's classes take it (every store os1 opens is one)."""
    store = companion.store
    assert isinstance(store, Database)
    return store


def fast_hasher() -> PasswordHasher:
    """argon2id at its lowest cost, to keep tests fast: how hard a hash is to break is not
    what they test."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def sign_up(client: Any, name: str, password: str = PASSWORD) -> str:
    """A new account through the API (a TestClient or httpx.Client); its session token."""
    response = client.post("/api/accounts", json={"name": name, "password": password})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def a_sign_up(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> str:
    response = await client.post("/api/accounts", json={"name": name, "password": password})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
