"""Accounts and sessions through the real app (FastAPI's TestClient, real SQLite, real
argon2id), and the app's own edges: errors as JSON, security headers, the body cap, and the
`os1 serve` / `os1 account` verbs. Clocks are fakes the tests move."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from rich.console import Console

from conftest import free_port
from databases import database_url, postgres
from os1.app import close_companion
from os1.config import Settings
from os1.llm.embedded import EmbeddedModel
from os1.server.accounts import (
    EXPIRED,
    Accounts,
    NameTaken,
    NotLoggedIn,
    WrongCredentials,
    set_password,
)
from os1.server.app import create_app
from os1.server.auth import CurrentUser
from os1.server.cli import run_server
from os1.server.limits import MemoryRateLimits
from os1.store.base import User
from os1.store.open import open_store
from os1.store.scope import scoped_user_id
from os1.store.sqlite import SQLiteStore
from server_helpers import (
    PASSWORD,
    bearer,
    companion_on,
    server_settings,
    sign_up,
)

__all__ = ["database_url", "postgres", "server_settings"]  # fixtures, used by name


class Clocks:
    """A wall clock (session expiry) and a monotonic one (rate limits), moved together."""

    def __init__(self) -> None:
        self.wall = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


def _app(settings: Settings, model: EmbeddedModel, clocks: Clocks) -> FastAPI:
    companion = companion_on(settings, model)
    store = companion.store
    assert isinstance(store, SQLiteStore)
    limits = MemoryRateLimits(clock=lambda: clocks.mono)
    accounts = Accounts(store, limits, clock=lambda: clocks.wall)
    test_routes = APIRouter()

    @test_routes.get("/api/test/whoami")  # a route of the test's own: what a data route sees
    async def whoami(user: CurrentUser) -> dict[str, Any]:
        return {"name": user.name, "scope": scoped_user_id(), "id": user.id}

    @test_routes.post("/api/test/whoami")
    async def whoami_post(user: CurrentUser) -> dict[str, Any]:
        return {"name": user.name}

    app = create_app(settings, companion, limits=limits, accounts=accounts,
                     routers=[test_routes])
    return app


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
async def client(server_settings: Settings, fixture_model: EmbeddedModel,
                 clocks: Clocks) -> AsyncIterator[TestClient]:
    """The app without its lifespan: warming the companion (its sentence models, ~3 s) is
    for turns, and none are taken here (test_server_chat runs the whole life)."""
    app = _app(server_settings, fixture_model, clocks)
    yield TestClient(app)
    await close_companion(app.state.os1.companion)


def _store(client: TestClient) -> SQLiteStore:
    store = client.app.state.os1.companion.store  # type: ignore[attr-defined]
    assert isinstance(store, SQLiteStore)
    return store


# -- signing up ----------------------------------------------------------------------------


def test_only_an_argon2id_hash_is_stored(client: TestClient, server_settings: Settings) -> None:
    password = "a-very-distinct passphrase 71"
    response = client.post("/api/accounts", json={"name": "Sam", "password": password})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Sam" and len(body["token"]) >= 43
    stored = _store(client).run(lambda db: db.execute(
        "SELECT a.password_hash FROM accounts a JOIN users u ON u.id = a.user_id "
        "WHERE u.name = 'Sam'").fetchone()[0])
    assert stored.startswith("$argon2id$")
    files = [p for p in server_settings.data_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("os1.sqlite3") for p in files)
    for path in files:  # the database, its WAL, anything else os1 wrote
        data = path.read_bytes()
        assert password.encode() not in data, path
        assert body["token"].encode() not in data, path  # only the token's sha256


def test_a_taken_name_is_refused(client: TestClient) -> None:
    sign_up(client, "Sam")
    for name in ("Sam", "sam", "me"):  # "me": the local user `os1 chat` made
        if name == "me":
            _store(client).user("me")
        response = client.post("/api/accounts", json={"name": name, "password": PASSWORD})
        assert response.status_code == 409, name
        assert response.json()["detail"].startswith("That name is taken.")


@pytest.mark.parametrize("body", [
    {"name": "", "password": PASSWORD},
    {"name": " Sam", "password": PASSWORD},
    {"name": "x" * 33, "password": PASSWORD},
    {"name": "Sam<script>", "password": PASSWORD},
    {"name": "Sam", "password": "zq9x"},
    {"name": "Sam", "password": "p" * 1025},
    {"name": "Sam"},
    '{"name": "Sam", "password": "\\ud800 lone surrogate"}',
    '{"name": "Sam\\u0000", "password": "correct horse battery"}',
])
def test_bad_sign_ups_get_422_without_the_input_echoed(client: TestClient,
                                                       body: dict[str, str] | str) -> None:
    if isinstance(body, str):  # JSON that Python's encoder would not write
        response = client.post("/api/accounts", content=body.encode(),
                               headers={"content-type": "application/json"})
    else:
        response = client.post("/api/accounts", json=body)
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert problems and all(set(p) == {"loc", "msg", "type"} for p in problems)
    assert "zq9x" not in response.text and "surrogate" not in response.text


def test_sign_ups_per_address_are_limited(client: TestClient) -> None:
    sign_up(client, "Sam")
    codes = [client.post("/api/accounts", json={"name": "Sam", "password": PASSWORD})
             for _ in range(10)]
    assert [r.status_code for r in codes] == [409] * 9 + [429]
    assert int(codes[-1].headers["retry-after"]) > 60  # 10 an hour: one every 6 minutes


# -- logging in and out --------------------------------------------------------------------


def test_log_in_and_the_token_names_the_user(client: TestClient) -> None:
    sign_up(client, "Sam")
    client.cookies.clear()
    response = client.post("/api/sessions", json={"name": "Sam", "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "os1_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie  # plain http in the test
    token = response.json()["token"]
    client.cookies.clear()
    me = client.get("/api/test/whoami", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["name"] == "Sam"
    assert me.json()["scope"] == me.json()["id"]  # the request ran in the user's scope
    client.cookies.set("os1_session", token)  # the browser's way
    assert client.get("/api/test/whoami").json()["name"] == "Sam"


def test_wrong_password_and_unknown_name_read_the_same(client: TestClient) -> None:
    sign_up(client, "Sam")
    wrong = client.post("/api/sessions", json={"name": "Sam", "password": "not the password"})
    unknown = client.post("/api/sessions", json={"name": "Nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "do not match" in wrong.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nonsense"},
                                     {"Authorization": "Basic c2FtOnB3"},
                                     {"Authorization": "Bearer " + "x" * 5000}])
def test_no_valid_session_is_401(client: TestClient, headers: dict[str, str]) -> None:
    client.cookies.clear()
    response = client.get("/api/test/whoami", headers=headers)
    assert response.status_code == 401
    assert "log in again" in response.json()["detail"]


def test_log_out_ends_the_session_at_once(client: TestClient) -> None:
    token = sign_up(client, "Sam")
    other = client.post("/api/sessions", json={"name": "Sam", "password": PASSWORD}).json()
    client.cookies.clear()
    assert client.delete("/api/sessions/current", headers=bearer(token)).status_code == 204
    assert client.get("/api/test/whoami", headers=bearer(token)).status_code == 401
    # another browser's session is its own
    assert client.get("/api/test/whoami", headers=bearer(other["token"])).status_code == 200
    assert client.delete("/api/sessions/current", headers=bearer(token)).status_code == 204
    # a browser logs out with its cookie, and the cookie is cleared
    client.cookies.set("os1_session", other["token"])
    out = client.delete("/api/sessions/current")
    assert out.status_code == 204 and 'os1_session=""' in out.headers["set-cookie"]
    assert client.get("/api/test/whoami", headers=bearer(other["token"])).status_code == 401


def test_sessions_slide_and_expire(client: TestClient, clocks: Clocks) -> None:
    token = sign_up(client, "Sam")
    client.cookies.clear()
    for _ in range(3):  # used every 20 days: 60 days, still logged in
        clocks.advance(20 * 86400)
        assert client.get("/api/test/whoami", headers=bearer(token)).status_code == 200
    clocks.advance(31 * 86400)
    response = client.get("/api/test/whoami", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["detail"] == EXPIRED
    rows = _store(client).run(lambda db: db.execute("SELECT count(*) FROM sessions").fetchone())
    assert rows[0] == 0  # the dead session was removed


def test_a_cookie_from_another_sites_page_cannot_change_anything(client: TestClient) -> None:
    sign_up(client, "Sam")  # the cookie is set in the client
    ours = client.post("/api/test/whoami", headers={"Origin": "http://testserver"})
    theirs = client.post("/api/test/whoami", headers={"Origin": "https://evil.example"})
    assert ours.status_code == 200
    assert theirs.status_code == 403


# -- guessing ------------------------------------------------------------------------------


def test_guessing_a_password_locks_with_growing_waits(client: TestClient,
                                                      clocks: Clocks) -> None:
    sign_up(client, "Sam")
    wrong = {"name": "Sam", "password": "guess guess"}
    right = {"name": "Sam", "password": PASSWORD}
    assert [client.post("/api/sessions", json=wrong).status_code
            for _ in range(5)] == [401] * 5
    locked = client.post("/api/sessions", json=right)  # even the right password waits
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "30"
    assert "Try again in 30 seconds" in locked.json()["detail"]
    clocks.advance(31)
    assert client.post("/api/sessions", json=wrong).status_code == 401  # the 6th failure
    again = client.post("/api/sessions", json=right)
    assert again.status_code == 429 and again.headers["retry-after"] == "60"  # doubled
    clocks.advance(61)
    assert client.post("/api/sessions", json=right).status_code == 200


def test_guessing_many_names_from_one_address_locks_the_address(client: TestClient) -> None:
    sign_up(client, "Sam")
    for n in range(5):
        response = client.post("/api/sessions", json={"name": f"user{n}", "password": PASSWORD})
        assert response.status_code == 401
    response = client.post("/api/sessions", json={"name": "Sam", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1


# -- the app's edges -----------------------------------------------------------------------


def test_errors_are_json_and_headers_are_set(client: TestClient) -> None:
    missing = client.get("/api/no-such-thing")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    health = client.get("/api/health")
    assert health.json() == {"status": "ok"}
    headers = health.headers
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "ws://testserver" in policy and "media-src 'self' blob:" in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    page = client.get("/")
    assert page.status_code == 200 and "os1" in page.text
    assert client.get("/api/openapi.json").json()["info"]["title"] == "os1"


def test_big_or_broken_bodies_are_refused_clearly(client: TestClient) -> None:
    big = client.post("/api/sessions", content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                      headers={"content-type": "application/json"})
    assert big.status_code == 413 and "too large" in big.json()["detail"].lower()

    def chunks() -> Iterator[bytes]:  # no Content-Length: the stream is counted
        for _ in range(20):
            yield b" " * 65536

    streamed = client.post("/api/sessions", content=chunks(),
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "detail" in streamed.json()
    broken = client.post("/api/sessions", content=b"{not json",
                         headers={"content-type": "application/json"})
    assert broken.status_code == 422
    nested = client.post("/api/sessions", content=b"[" * 50_000 + b"]" * 50_000,
                         headers={"content-type": "application/json"})
    assert nested.status_code in (400, 422)


# -- the verbs -----------------------------------------------------------------------------


def test_os1_account_password_lets_a_local_user_log_in(
        client: TestClient, server_settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    local: User = _store(client).user("me")  # as `os1 chat` made them
    args = argparse.Namespace(verb="account", account_action="password", name="me")
    console = Console(force_terminal=False, width=200)
    monkeypatch.setenv("OS1_NEW_PASSWORD", "short")
    assert run_server(server_settings, args, console, console) == 2  # too short: refused
    monkeypatch.setenv("OS1_NEW_PASSWORD", "my new long password")
    assert run_server(server_settings, args, console, console) == 0
    assert "me can now log in" in capsys.readouterr().out
    response = client.post("/api/sessions", json={"name": "me",
                                                  "password": "my new long password"})
    assert response.status_code == 200
    me = client.get("/api/test/whoami", headers=bearer(response.json()["token"]))
    assert me.json()["id"] == local.id  # their own conversations, not a new user
    nobody = argparse.Namespace(verb="account", account_action="password", name="nobody")
    assert run_server(server_settings, nobody, console, console) == 1


def test_os1_serve_will_not_listen_publicly_without_being_told(
        server_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(verb="serve", host="0.0.0.0", port=8765, public=False)
    console = Console(force_terminal=False, width=300)
    assert run_server(server_settings, args, console, console) == 2
    out = capsys.readouterr().out
    assert "--public" in out and "docs/deploy.md" in out and "TLS" in out


# The verbs as `os1` will run them (the lead wires them into os1.cli; this is the same call).
_OS1_SERVER_VERBS = """
import argparse, sys
from rich.console import Console
from os1.config import load_settings
from os1.server.cli import add_server_parser, run_server
parser = argparse.ArgumentParser(prog="os1")
add_server_parser(parser.add_subparsers(dest="verb"))
args = parser.parse_args(sys.argv[1:])
sys.exit(run_server(load_settings().settings, args, Console(), Console(stderr=True)))
"""


def test_os1_serve_serves_and_stops_cleanly(clean_env: dict[str, str]) -> None:
    env = {**clean_env, "OS1_MODEL": "fixture", "OS1_CONTEXT_TOKENS": "2048",
           "OS1_MAX_REPLY_TOKENS": "48", "OS1_MEMORY_EXTRACTION": "0",
           "OS1_BATCH_THREADS": "1"}  # as the fixture model: 2 spin badly on a busy machine
    port = free_port()
    command = [sys.executable, "-c", _OS1_SERVER_VERBS, "serve", "--port", str(port)]
    _serve_and_stop(command, env, port)


def _serve_and_stop(command: list[str], env: dict[str, str], port: int) -> None:
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        started = time.monotonic()
        line = server.stdout.readline()  # printed once the model is loaded
        print(f"os1 serve: listening after {time.monotonic() - started:.1f} s")
        assert f"http://127.0.0.1:{port}/" in line, line
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # uvicorn warms the companion before it answers
            try:
                health = httpx.get(f"{url}/api/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        print(f"os1 serve: answering after {time.monotonic() - started:.1f} s")
        page = httpx.get(url + "/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        busy = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert busy.returncode == 1 and "Cannot listen" in busy.stderr
    finally:
        server.send_signal(signal.SIGINT)
        rest, errors = server.communicate(timeout=60)
    assert server.returncode == 0, errors
    assert "Traceback" not in errors
    assert "os1 serve stopped." in rest


async def test_accounts_and_sessions_on_both_databases(server_settings: Settings,
                                                      database_url: str) -> None:
    """The same SQL on SQLite and on PostgreSQL (translated by os1.store.postgres)."""
    settings = server_settings.with_overrides(database_url=database_url)
    store = open_store(settings)
    try:
        clocks = Clocks()
        accounts = Accounts(store, MemoryRateLimits(clock=lambda: clocks.mono),
                            clock=lambda: clocks.wall)
        grant = await accounts.sign_up("Sam", PASSWORD, "10.0.0.1")
        with pytest.raises(NameTaken):
            await accounts.sign_up("SAM", PASSWORD, "10.0.0.1")
        assert (await accounts.user_for(grant.token)).name == "Sam"
        with pytest.raises(WrongCredentials):
            await accounts.log_in("Sam", "wrong password", "10.0.0.1")
        second = await accounts.log_in("Sam", PASSWORD, "10.0.0.1")
        await accounts.log_out(grant.token)
        with pytest.raises(NotLoggedIn):
            await accounts.user_for(grant.token)
        clocks.advance(31 * 86400)
        with pytest.raises(NotLoggedIn) as expired:
            await accounts.user_for(second.token)
        assert expired.value.expired
        local = store.user("me")
        assert set_password(store, "me", "a long new password").id == local.id
        assert (await accounts.log_in("me", "a long new password", "10.0.0.2")).user.id == \
            local.id
        assert await accounts.check_password(local, "a long new password")
        assert not await accounts.check_password(local, "something else")
    finally:
        store.close()
