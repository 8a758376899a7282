"""One user's data never reaches another: every route of the app, tried by user B with user A's
ids, over the real app, real sign-up and a real SQLite store.

The routes come from the app itself (its OpenAPI document, and its WebSocket routes), so a
route added later is tried too; one this file does not know how to call fails the test until
it is taught here (`CALLS`), never skipped. After B's tries, everything A has (the export:
every table that holds a user's rows) must be exactly as before, and none of A's distinctive
words may appear in anything B received. Every route also refuses a missing, forged, expired
or revoked session with 401, and a WebSocket opened with one is closed with 4401.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect

from databases import database_url, postgres  # noqa: F401  (fixtures)
from os1.config import Settings
from os1.memory.records import NewFact
from os1.server.accounts import token_hash
from os1.store.sqlite import to_text
from server_helpers import a_sign_up, bearer, serving
from test_server_routes import (
    Account,
    EchoModel,
    Server,
    add_fact,
    add_letter,
    add_mood,
    add_turns,
    add_waiting_checkin,
)
from test_server_routes import serving as serving_app

# Words only user A ever wrote: none may reach B, in any response, in any case.
SECRETS = ("azure-pelican", "quixotic", "zebulon", "quillon", "amaryllis")
A_NAME = "Amaryllis"

# Routes that need no session (everything else must answer 401 without one). Logging out
# with a dead session is not an error (it ends only the session whose token it is given).
PUBLIC = {("POST", "/api/accounts"), ("POST", "/api/sessions"), ("GET", "/api/health"),
          ("DELETE", "/api/sessions/current")}
# API routes left out of the OpenAPI document on purpose (the document itself, its page).
UNDOCUMENTED = {"/api/openapi.json", "/api/docs"}


@dataclass
class World:
    """Two users with data in every domain; A's ids for B to try."""

    server: Server
    a: Account
    b: Account
    ids: dict[str, int | str] = field(default_factory=dict)

    @property
    def client(self) -> TestClient:
        return self.server.client


@dataclass(frozen=True)
class Call:
    """How B calls one route: its query and body (path parameters are filled with A's ids
    by name), and the statuses allowed. ``headers`` None: B's own session."""

    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    allowed: frozenset[int] = frozenset({200})


def calls(*variants: Call) -> tuple[Call, ...]:
    return variants


OWN = frozenset({200, 201, 204})
MISSING = frozenset({404})

# Every route of the app, and how B calls it with A's ids. A route missing here fails.
CALLS: dict[tuple[str, str], tuple[Call, ...]] = {
    ("POST", "/api/accounts"): calls(
        Call(body={"name": A_NAME, "password": "a new password"}, allowed=frozenset({409}))),
    ("POST", "/api/sessions"): calls(
        Call(body={"name": A_NAME, "password": "guessing wrong"}, allowed=frozenset({401}))),
    ("DELETE", "/api/sessions/current"): calls(Call(allowed=frozenset({204}))),
    ("GET", "/api/health"): calls(Call()),
    ("GET", "/api/history"): calls(Call(), Call(query={"before": "{turn_id}"}),
                                   Call(query={"before": "{turn_id}", "limit": 200})),
    ("GET", "/api/memories"): calls(Call(), Call(query={"q": "azure-pelican Quixotic"}),
                                    Call(query={"q": "where do pelicans nest"})),
    ("GET", "/api/memories/{memory_id}"): calls(Call(allowed=MISSING)),
    ("PATCH", "/api/memories/{memory_id}"): calls(
        Call(body={"text": "B was here"}, allowed=MISSING)),
    ("DELETE", "/api/memories/{memory_id}"): calls(Call(allowed=MISSING)),
    ("GET", "/api/mood"): calls(Call(), Call(query={"days": 3640})),
    ("DELETE", "/api/mood"): calls(Call(allowed=OWN)),
    ("GET", "/api/letters"): calls(Call()),
    ("GET", "/api/letters/{letter_id}"): calls(Call(allowed=MISSING)),
    ("GET", "/api/letters/{letter_id}/pdf"): calls(Call(allowed=MISSING)),
    ("DELETE", "/api/letters/{letter_id}"): calls(Call(allowed=MISSING)),
    ("GET", "/api/reminders"): calls(Call(), Call(query={"all": "true"})),
    ("POST", "/api/reminders"): calls(
        Call(body={"text": "cancel reminder {reminder_id} tomorrow at 9"}, allowed=OWN)),
    ("DELETE", "/api/reminders/{reminder_id}"): calls(Call(allowed=MISSING)),
    ("GET", "/api/settings"): calls(Call()),
    ("PUT", "/api/settings"): calls(Call(body={"companion_name": "Bramble", "tone": "playful"})),
    ("GET", "/api/onboarding"): calls(Call()),
    ("PUT", "/api/onboarding/{key}"): calls(Call(body={"answer": "Bee"})),
    ("GET", "/api/me"): calls(Call()),
    ("DELETE", "/api/me"): calls(  # even with A's password: it is B's session
        Call(body={"password": "{a_password}"}, allowed=frozenset({403}))),
    ("GET", "/api/export"): calls(Call()),
    ("GET", "/api/checkins"): calls(Call()),
    ("POST", "/api/checkins/seen"): calls(Call(body={"ids": ["{checkin_id}"]})),
    ("POST", "/api/checkins/not-now"): calls(Call(body={"hours": 1})),
}


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    with serving_app(settings) as running:
        yield running


@pytest.fixture
def server_on_both(settings: Settings, database_url: str) -> Iterator[Server]:  # noqa: F811
    """On SQLite and on PostgreSQL, whose row-level security is a second wall behind the
    queries' own ``WHERE user_id = ?``."""
    with serving_app(settings.with_overrides(database_url=database_url)) as running:
        yield running


def a_world(server: Server, *, pdf: bool = True) -> World:
    """A and B, each with turns, memories, mood, letters (A's also as a PDF, unless ``pdf``
    is False: drawing one is the slow part), reminders, settings, onboarding answers and a
    waiting check-in; A's words are the SECRETS."""
    a = server.sign_up(A_NAME)
    b = server.sign_up("Bertrand", "bertrand keeps his own passphrase")
    client = server.client
    world = World(server, a, b)
    world.ids["turn_id"] = add_turns(server, a.user, [
        "I saw an azure-pelican at Quixotic Harbour today", "How lovely, tell me more"])[-1]
    add_turns(server, b.user, ["my garden is full of tomatoes", "Tomatoes, wonderful"])
    world.ids["memory_id"] = add_fact(server, a.user,
                                      "The azure-pelican nests at Quixotic Harbour")
    add_fact(server, b.user, "The user grows tomatoes")
    add_mood(server, a.user, -0.6)
    add_mood(server, b.user, 0.4)
    letter = add_letter(server, a.user, "Zebulon",
                        "Dear Zebulon,\n\nThe azure-pelican came back.\n\nAmaryllis")
    world.ids["letter_id"] = letter
    add_letter(server, b.user, "Grandma", "Dear Grandma,\n\nTomatoes!\n\nB")
    if pdf:
        assert client.get(f"/api/letters/{letter}/pdf", headers=a.headers).status_code == 200
    reminder = client.post("/api/reminders", headers=a.headers,
                           json={"text": "phone Zebulon tomorrow at 9"})
    assert reminder.status_code == 201, reminder.text
    world.ids["reminder_id"] = reminder.json()["id"]
    assert client.post("/api/reminders", headers=b.headers,
                       json={"text": "water the tomatoes tomorrow at 8"}).status_code == 201
    assert client.put("/api/settings", headers=a.headers,
                      json={"companion_name": "Quillon", "call_me": A_NAME}).status_code == 200
    for key, answer in (("address", A_NAME), ("good_day", "watching the azure-pelican")):
        assert client.put(f"/api/onboarding/{key}", headers=a.headers,
                          json={"answer": answer}).json()["status"] == "answered"
    assert client.put("/api/onboarding/good_day", headers=b.headers,
                      json={"answer": "gardening"}).json()["status"] == "answered"
    world.ids["checkin_id"] = add_waiting_checkin(server, a.user,
                                                  "Did the azure-pelican come back?")
    add_waiting_checkin(server, b.user, "How are the tomatoes?")
    world.ids["key"] = "address"
    world.ids["a_password"] = a.password
    return world


def snapshot(world: World) -> dict[str, Any]:
    """Everything A has, as A sees it: the export (every table with a user's rows) and
    each route's view."""
    client, headers = world.client, world.a.headers
    export = client.get("/api/export", headers=headers).json()
    export.pop("exported_at")
    views = {path: client.get(path, headers=headers).json() for path in (
        "/api/history", "/api/memories", "/api/mood", "/api/letters",
        f"/api/letters/{world.ids['letter_id']}", "/api/reminders?all=true", "/api/settings",
        "/api/onboarding", "/api/checkins", "/api/me")}
    pdfs = sorted(p.name for p in (world.server.settings.data_dir / "users"
                                   / str(world.a.user.id)).rglob("*.pdf"))
    return {"export": export, "views": views, "pdfs": pdfs}


def filled(value: Any, ids: dict[str, int | str]) -> Any:
    """``value`` with "{name}" placeholders replaced by A's ids (whole strings keep the id's
    type; placeholders inside longer strings become text)."""
    if isinstance(value, str):
        for name, found in ids.items():
            if value == f"{{{name}}}":
                return found
            value = value.replace(f"{{{name}}}", str(found))
        return value
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [filled(v, ids) for v in value]
    return value


def operations(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation of the app's OpenAPI document."""
    document = world.server.app.openapi()
    return [(method.upper(), path, operation)
            for path, ops in document["paths"].items() for method, operation in ops.items()]


def undocumented_api_routes(world: World) -> list[str]:
    """HTTP routes under /api that the OpenAPI document leaves out (they would escape this
    test): only the document and its page may."""
    documented = set(world.server.app.openapi()["paths"])
    return sorted({context.path for context in iter_route_contexts(world.server.app.routes)
                   if isinstance(context.original_route, APIRoute)
                   and context.path.startswith("/api")
                   and context.path not in documented | UNDOCUMENTED})


def socket_paths(world: World) -> list[str]:
    return sorted({context.path for context in iter_route_contexts(world.server.app.routes)
                   if isinstance(context.original_route, APIWebSocketRoute)})


def leaked(body: bytes) -> list[str]:
    text = body.decode("utf-8", "replace").casefold()
    return [word for word in SECRETS if word in text]


def request(client: TestClient, method: str, path: str, call: Call,
            ids: dict[str, int | str], headers: dict[str, str]) -> httpx.Response:
    return client.request(method, filled(path, ids), params=filled(call.query, ids),
                          json=filled(call.body, ids), headers=headers)


def test_b_tries_every_route_with_as_ids_and_gets_nothing_of_as(server_on_both: Server
                                                                ) -> None:
    world = a_world(server_on_both)
    unknown = sorted(f"{m} {p}" for m, p, _ in operations(world) if (m, p) not in CALLS)
    assert not unknown, f"teach CALLS how B calls these routes: {unknown}"
    assert not undocumented_api_routes(world)
    before = snapshot(world)
    tried = 0
    for method, path, operation in operations(world):
        for name in (p["name"] for p in operation.get("parameters", ()) if p["in"] == "path"):
            assert name in world.ids, f"{method} {path}: which of A's ids is {{{name}}}?"
        for call in CALLS[(method, path)]:
            headers = world.b.headers
            if (method, path) == ("DELETE", "/api/sessions/current"):
                # Logging out ends the session it is called with: B uses a second one.
                second = world.client.post("/api/sessions", json={
                    "name": "Bertrand", "password": world.b.password})
                headers = {"Authorization": f"Bearer {second.json()['token']}"}
            reply = request(world.client, method, path, call, world.ids, headers)
            tried += 1
            assert reply.status_code in call.allowed, (method, path, call, reply.status_code,
                                                       reply.text)
            assert not leaked(reply.content), (method, path, leaked(reply.content))
            world.client.cookies.clear()  # B speaks with its bearer token only
    assert tried >= len(CALLS)
    assert snapshot(world) == before
    # And A still has every domain's data (the snapshot is not of empty views).
    views = before["views"]
    assert views["/api/history"]["turns"] and views["/api/memories"]["memories"]
    assert views["/api/mood"]["days"] and views["/api/letters"]["letters"]
    assert views["/api/reminders?all=true"]["reminders"] and views["/api/checkins"]["waiting"]
    assert before["pdfs"]


def bad_sessions(world: World) -> dict[str, dict[str, str]]:
    """No session, a forged token, an expired one and a revoked one (A's, each)."""
    client = world.client
    expired = client.post("/api/sessions", json={"name": A_NAME, "password": world.a.password})
    expired_token = expired.json()["token"]
    world.server.store.run(lambda db: db.execute(
        "UPDATE sessions SET expires_at = ? WHERE token_hash = ?",
        (to_text(datetime.now(UTC) - timedelta(minutes=1)), token_hash(expired_token))))
    revoked = client.post("/api/sessions", json={"name": A_NAME, "password": world.a.password})
    revoked_token = revoked.json()["token"]
    assert client.delete("/api/sessions/current", headers={
        "Authorization": f"Bearer {revoked_token}"}).status_code == 204
    client.cookies.clear()
    return {"none": {}, "forged": {"Authorization": "Bearer " + "x" * 43},
            "expired": {"Authorization": f"Bearer {expired_token}"},
            "revoked": {"Authorization": f"Bearer {revoked_token}"}}


def test_every_route_needs_a_live_session(server: Server) -> None:
    world = a_world(server, pdf=False)
    before = snapshot(world)
    checked = 0
    for label, headers in bad_sessions(world).items():
        for method, path, _operation in operations(world):
            if (method, path) in PUBLIC:
                continue
            call = CALLS[(method, path)][0]
            reply = request(world.client, method, path, call, world.ids, headers)
            assert reply.status_code == 401, (label, method, path, reply.status_code)
            assert "log in again" in reply.json()["detail"]
            assert not leaked(reply.content)
            checked += 1
    assert checked >= 4 * (len(CALLS) - len(PUBLIC))
    assert snapshot(world) == before


def test_no_socket_opens_without_a_live_session(server: Server) -> None:
    world = World(server, server.sign_up(A_NAME), server.sign_up("Bertrand", "another pass"))
    paths = socket_paths(world)
    assert "/api/chat" in paths
    for label, headers in bad_sessions(world).items():
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        for path in paths:
            for target, extra in ((f"{path}?token={token}" if token else path, {}),
                                  (path, headers)):
                with pytest.raises(WebSocketDisconnect) as closed, \
                        world.client.websocket_connect(target, headers=extra) as socket:
                    socket.receive_text()
                assert closed.value.code == 4401, (label, target, closed.value.code)


async def chat_until_done(socket: ClientConnection, text: str) -> list[dict[str, Any]]:
    await socket.send(json.dumps({"type": "say", "text": text}))
    frames = []
    while True:
        frame = json.loads(await socket.recv())
        frames.append(frame)
        if frame["type"] in ("done", "turn_error"):
            return frames


async def test_a_chat_socket_never_carries_another_users_turn(settings: Settings) -> None:
    """Over real uvicorn and os1's real companion assembly (the echo model inside): A and B
    chat at once; B's socket gets only B's frames, and B's turn recalls none of A's
    memories (a recall that crossed users would show in B's memory_used events)."""
    async with asyncio.timeout(90), serving(settings.with_overrides(memory_extraction=False),
                                            EchoModel()) as live:
        async with httpx.AsyncClient(base_url=live.url) as http:
            a_token = await a_sign_up(http, A_NAME)
            b_token = await a_sign_up(http, "Bertrand", "bertrand keeps his own passphrase")
            assert (await http.put("/api/settings", headers=bearer(a_token), json={
                "companion_name": "Quillon"})).status_code == 200
        engine = live.companion.memory.engine if live.companion.memory else None
        assert engine is not None
        a_user = await asyncio.to_thread(live.store.user, A_NAME)
        await asyncio.to_thread(engine.remember_fact, a_user, NewFact(
            "fact", "The azure-pelican nests at Quixotic Harbour", attribute="pelican"),
            datetime.now(UTC))
        async with connect(f"{live.ws_url}/api/chat?token={a_token}") as a_socket, \
                connect(f"{live.ws_url}/api/chat?token={b_token}") as b_socket:
            a_hello = json.loads(await a_socket.recv())
            b_hello = json.loads(await b_socket.recv())
            assert (a_hello["type"], a_hello["name"]) == ("hello", A_NAME)
            assert (b_hello["type"], b_hello["name"]) == ("hello", "Bertrand")
            a_frames = await chat_until_done(
                a_socket, "the azure-pelican flew over Quixotic Harbour")
            # The echo model says A's words back: A's own frames carry them...
            assert leaked(json.dumps(a_frames).encode())
            # ...and B's socket, whose frames queue behind anything sent to it, gets B's only.
            b_frames = await chat_until_done(b_socket, "where do the pelicans nest by the "
                                             "harbour?")
            assert any(f["type"] == "done" for f in b_frames)
            assert "pelicans nest" in json.dumps(b_frames)
            assert not leaked(json.dumps([b_hello, *b_frames]).encode())
