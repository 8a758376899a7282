"""WebSocket /api/chat end to end: real uvicorn on a loopback port, the real app, a real
companion on the SmolLM2 fixture model, SQLite, and the `websockets` client a browser stands
in for. What the socket says is checked against what the store then holds."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from databases import postgres
from os1.checkins.records import Candidate
from os1.checkins.scheduler import CheckIns
from os1.config import Settings
from os1.llm.embedded import EmbeddedModel
from os1.server.accounts import Accounts
from os1.server.chat_socket import ChatSession, Outbox
from os1.server.limits import MemoryRateLimits, key
from os1.server.protocol import MAX_TEXT_FRAME
from os1.server.state import ServerState
from os1.store.base import Database, Turn, User
from server_helpers import (
    PASSWORD,
    LiveServer,
    a_sign_up,
    companion_on,
    database_of,
    fast_hasher,
    server_settings,
    serving,
    shared_server,
)

__all__ = ["postgres", "server_settings", "shared_server"]  # fixtures, used by name


async def _token(server: LiveServer, name: str) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        return await a_sign_up(client, name)


async def _open(server: LiveServer, token: str) -> ClientConnection:
    ws = await connect(f"{server.ws_url}/api/chat?token={token}", max_size=None)
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello"
    return ws


async def _until(ws: ClientConnection, kind: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Frames up to and including the first of ``kind``."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            frames.append(frame)
            if frame["type"] == kind:
                return frames


def _user(store: Database, name: str) -> User:
    return store.user(name)  # exists already: signed up


def _turns(store: Database, user: User) -> list[Turn]:
    return list(store.turns(user, store.current_conversation(user).id))


async def _stored_reply(store: Database, user: User, timeout: float = 20.0) -> Turn:
    """The assistant's turn, once the companion has written it (it may take a moment after
    the socket is gone)."""
    async with asyncio.timeout(timeout):
        while True:
            turns = await asyncio.to_thread(_turns, store, user)
            if turns and turns[-1].role == "assistant":
                return turns[-1]
            await asyncio.sleep(0.05)


async def test_a_turn_streams_and_is_stored(shared_server: LiveServer) -> None:
    token = await _token(shared_server, "Sam")
    async with connect(f"{shared_server.ws_url}/api/chat?token={token}") as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and hello["name"] == "Sam"
        assert "AI" in hello["greeting"]  # honest from the first line
        await ws.send(json.dumps({"type": "say", "text": "Hello there, how are you?"}))
        frames = await _until(ws, "done")
    kinds = [f["type"] for f in frames]
    assert "token" in kinds and kinds.index("token") < kinds.index("done")
    done = frames[-1]
    assert done["reply"] == "".join(f["text"] for f in frames if f["type"] == "token")
    assert "model_reply" not in done["stats"]
    user = _user(shared_server.store, "Sam")
    stored = _turns(shared_server.store, user)
    assert [(t.role, t.status) for t in stored] == [("user", "complete"),
                                                   ("assistant", "complete")]
    assert stored[0].content == "Hello there, how are you?"
    assert stored[1].content == done["reply"]


async def test_bad_frames_get_an_error_and_the_chat_goes_on(shared_server: LiveServer) -> None:
    token = await _token(shared_server, "Bea")
    async with connect(f"{shared_server.ws_url}/api/chat?token={token}") as ws:
        await ws.recv()  # hello
        for bad in ("{not json", "[1, 2]", json.dumps({"type": "dance"}),
                    json.dumps({"type": "say"}), json.dumps({"type": "say", "text": 7}),
                    "[" * 30000 + "]" * 30000):
            await ws.send(bad)
            error = json.loads(await ws.recv())
            assert error["type"] == "error" and error["message"], bad[:20]
        await ws.send(b"\x00\x01 binary")
        assert json.loads(await ws.recv())["type"] == "error"
        await ws.send(json.dumps({"type": "say", "text": "   "}))  # empty: the companion says
        refused = json.loads(await ws.recv())
        assert refused["type"] == "turn_error" and refused["kind"] == "empty_input"
        await ws.send(json.dumps({"type": "say", "text": "Still there?"}))
        assert (await _until(ws, "done"))[-1]["reply"]


async def test_a_frame_too_big_closes_with_1009(shared_server: LiveServer) -> None:
    token = await _token(shared_server, "Cal")
    for size in (MAX_TEXT_FRAME + 1, 4 * MAX_TEXT_FRAME):  # ours, and uvicorn's own cap
        ws = await _open(shared_server, token)
        await ws.send(json.dumps({"type": "say", "text": "x" * size}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


@pytest.mark.parametrize("query", ["", "?token=nonsense", "?token=" + "x" * 300])
async def test_no_valid_session_closes_with_4401(shared_server: LiveServer, query: str) -> None:
    async with connect(f"{shared_server.ws_url}/api/chat{query}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)  # nothing (no hello) before the close
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert "log in again" in closed.value.rcvd.reason


async def test_the_cookie_works_but_not_from_another_site(shared_server: LiveServer) -> None:
    token = await _token(shared_server, "Dee")
    cookie = {"Cookie": f"os1_session={token}"}
    async with connect(f"{shared_server.ws_url}/api/chat", additional_headers=cookie,
                       origin=shared_server.url) as ws:  # type: ignore[arg-type]
        assert json.loads(await ws.recv())["name"] == "Dee"
    async with connect(f"{shared_server.ws_url}/api/chat", additional_headers=cookie,
                       origin="https://evil.example") as ws:  # type: ignore[arg-type]
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


# -- cut short -----------------------------------------------------------------------------


@pytest.fixture
async def long_replies(server_settings: Settings, fixture_model: EmbeddedModel
                       ) -> Any:
    """Replies long enough to be cut (the fixture model rambles up to 300 tokens)."""
    async with serving(server_settings.with_overrides(max_reply_tokens=300),
                       fixture_model) as server:
        yield server


async def test_stop_cuts_the_reply_and_it_is_stored_interrupted(long_replies: LiveServer
                                                                ) -> None:
    token = await _token(long_replies, "Sam")
    async with connect(f"{long_replies.ws_url}/api/chat?token={token}") as ws:
        await ws.recv()
        frames: list[dict[str, Any]] = []
        for text in ("Tell me a very long story.", "And another one?"):  # it goes on after
            await ws.send(json.dumps({"type": "say", "text": text}))
            frames += await _until(ws, "token")
            await ws.send(json.dumps({"type": "say", "text": "too soon"}))
            frames += await _until(ws, "error")
            assert "Wait for the reply" in frames[-1]["message"]
            await ws.send(json.dumps({"type": "stop"}))
    assert not any(f["type"] == "done" for f in frames)
    user = _user(long_replies.store, "Sam")
    stored = _turns(long_replies.store, user)
    assert [(t.role, t.status) for t in stored] == [
        ("user", "complete"), ("assistant", "interrupted"),
        ("user", "complete"), ("assistant", "interrupted")]
    assert stored[1].content.strip()  # what had been said before the stop
    assert "too soon" not in [t.content for t in stored]


async def test_a_dropped_socket_stores_the_turn(long_replies: LiveServer) -> None:
    token = await _token(long_replies, "Sam")
    ws = await _open(long_replies, token)
    await ws.send(json.dumps({"type": "say", "text": "Tell me a very long story."}))
    await _until(ws, "token")
    ws.transport.abort()  # the tab is closed without a goodbye
    user = _user(long_replies.store, "Sam")
    reply = await _stored_reply(long_replies.store, user)
    assert reply.status == "interrupted" and reply.content.strip()
    assert _turns(long_replies.store, user)[0].content == "Tell me a very long story."


async def test_new_starts_a_new_conversation(shared_server: LiveServer) -> None:
    token = await _token(shared_server, "Eve")
    user = _user(shared_server.store, "Eve")
    async with connect(f"{shared_server.ws_url}/api/chat?token={token}") as ws:
        await ws.recv()
        first = shared_server.store.current_conversation(user).id  # opened with the hello
        await ws.send(json.dumps({"type": "new"}))
        await ws.send(json.dumps({"type": "say", "text": "Second conversation."}))
        await _until(ws, "done")
    second = shared_server.store.current_conversation(user)
    assert second.id != first
    assert _turns(shared_server.store, user)[0].content == "Second conversation."
    assert shared_server.store.turns(user, first) == []


async def test_a_due_reminder_is_said_first(server_settings: Settings,
                                            fixture_model: EmbeddedModel) -> None:
    settings = server_settings.with_overrides(quiet_hours="")
    async with serving(settings, fixture_model) as server:
        token = await _token(server, "Sam")
        user = _user(server.store, "Sam")
        now = server.companion.now()
        CheckIns(server.store, settings).schedule(user, Candidate(
            kind="reminder", trigger_key="reminder:test", about="Amy",
            due_at=now - timedelta(minutes=1), expires_at=now + timedelta(hours=1),
            text="You asked me to remind you: call Amy."))
        async with connect(f"{server.ws_url}/api/chat?token={token}") as ws:
            frames = [json.loads(await asyncio.wait_for(ws.recv(), 20)) for _ in range(2)]
        assert frames[0]["type"] == "hello"
        assert frames[1] == {"type": "said_first",
                             "text": "You asked me to remind you: call Amy."}
        stored = _turns(server.store, user)  # part of the conversation, as os1's turn
        assert stored[-1].role == "assistant" and "call Amy" in stored[-1].content
        assert CheckIns(server.store, settings).inbox(user) == []  # seen, not waiting


async def test_turns_are_rate_limited(shared_server: LiveServer) -> None:
    token = await _token(shared_server, "Fay")
    user = _user(shared_server.store, "Fay")
    limits = shared_server.app.state.os1.limits
    while await limits.take(key("turn", user.id), limits.rules.turns) is None:
        pass  # spend the bucket the way 30 quick messages would
    async with connect(f"{shared_server.ws_url}/api/chat?token={token}") as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "say", "text": "One more."}))
        error = json.loads(await ws.recv())
    assert error["type"] == "error" and error["retry_after"] >= 1
    assert "very fast" in error["message"]
    assert _turns(shared_server.store, user) == []  # nothing was taken in


# -- a client that stops reading -----------------------------------------------------------


class StalledClient:
    """Test double for the network side only: a socket whose sends never complete (a tab
    frozen with a full TCP window, which a loopback test cannot produce with replies this
    short). It records how it was closed. The companion, model and store are real."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send_text(self, data: str) -> None:
        self.sent.append(data)
        if len(self.sent) > 1:  # the hello goes out; then the window is full
            await asyncio.Event().wait()

    async def send_bytes(self, data: bytes) -> None:
        await asyncio.Event().wait()

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason or "")
        await self.inbox.put({"type": "websocket.disconnect", "code": code})


async def test_a_client_that_stops_reading_is_closed_and_the_turn_completes(
        server_settings: Settings, fixture_model: EmbeddedModel) -> None:
    companion = companion_on(server_settings, fixture_model)
    store = database_of(companion)
    limits = MemoryRateLimits()
    accounts = Accounts(store, limits, hasher=fast_hasher())
    state = ServerState(server_settings, companion, accounts, limits)
    grant = await accounts.sign_up("Sam", PASSWORD, "127.0.0.1")
    user = grant.user
    client = StalledClient()
    outbox = Outbox(client, size=4, patience_s=0.5)  # type: ignore[arg-type]
    session = ChatSession(client, state, user, grant.token,  # type: ignore[arg-type]
                          outbox=outbox)
    await client.inbox.put({"type": "websocket.receive",
                            "text": json.dumps({"type": "say", "text": "Hello, a story?"})})
    await asyncio.wait_for(session.serve(), 60)
    assert client.closed is not None and client.closed[0] == 1013
    stored = _turns(store, user)
    assert [(t.role, t.status) for t in stored] == [("user", "complete"),
                                                   ("assistant", "complete")]
    assert stored[1].content.strip()
    from os1.app import close_companion
    await close_companion(companion)


async def test_two_tabs_saying_at_once_get_one_reply(shared_server: LiveServer) -> None:
    # Both messages arrive while neither turn has started (each waits on its session check
    # and rate limit): exactly one becomes a turn, the other is told to wait.
    async with httpx.AsyncClient(base_url=shared_server.url) as client:
        token = await a_sign_up(client, "Tess")
    first, second = await _open(shared_server, token), await _open(shared_server, token)
    await asyncio.gather(
        first.send(json.dumps({"type": "say", "text": "Hello from the first tab."})),
        second.send(json.dumps({"type": "say", "text": "Hello from the second tab."})))

    async def outcome(ws: ClientConnection) -> str:
        async with asyncio.timeout(60):
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "done":
                    return "reply"
                if frame["type"] == "error" and "another window" in frame["message"]:
                    return "refused"

    assert sorted(await asyncio.gather(outcome(first), outcome(second))) == ["refused", "reply"]
    tess = _user(shared_server.store, "Tess")
    said = [t.content for t in _turns(shared_server.store, tess) if t.role == "user"]
    assert len(said) == 1
    await first.close()
    await second.close()


# -- a session that ends while its tab is open ------------------------------------------------


async def test_logging_out_closes_that_sessions_socket_only(shared_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=shared_server.url) as client:
        token = await a_sign_up(client, "Rey")
        other = (await client.post("/api/sessions", json={"name": "Rey", "password": PASSWORD}))
        assert other.status_code == 200, other.text
        second = other.json()["token"]
        first_ws, second_ws = await _open(shared_server, token), await _open(shared_server, second)
        out = await client.delete("/api/sessions/current",
                                  headers={"Authorization": f"Bearer {token}"})
        assert out.status_code == 204
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(first_ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    await second_ws.send(json.dumps({"type": "new"}))  # the other tab's session lives on
    await second_ws.close()


async def test_a_session_ended_elsewhere_closes_its_socket_at_the_next_turn(
        shared_server: LiveServer) -> None:
    # Another API process logged this session out (or it expired): this process's open
    # socket learns of it from the database when the user next speaks.
    async with httpx.AsyncClient(base_url=shared_server.url) as client:
        token = await a_sign_up(client, "Uma")
    ws = await _open(shared_server, token)
    uma = _user(shared_server.store, "Uma")
    shared_server.store.run(lambda db: db.execute(
        "DELETE FROM sessions WHERE user_id = ?", (uma.id,)))
    await ws.send(json.dumps({"type": "say", "text": "Are you still there?"}))
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    said = shared_server.store.run(lambda db: db.execute(
        "SELECT count(*) FROM turns WHERE user_id = ?", (uma.id,)).fetchone()[0])
    assert said == 0  # nothing was taken in after the session ended


async def test_erasing_the_account_ends_its_open_sockets_and_keeps_nothing(
        long_replies: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=long_replies.url) as client:
        token = await a_sign_up(client, "Ida")
        ida = _user(long_replies.store, "Ida")
        ws = await _open(long_replies, token)
        await ws.send(json.dumps({"type": "say", "text": "My secret word is pomegranate."}))
        await _until(ws, "token")  # a reply is under way when the account is erased
        gone = await client.request("DELETE", "/api/me", json={"password": PASSWORD},
                                    headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 204, gone.text
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    store = long_replies.store
    left = store.run(lambda db: db.execute(
        "SELECT count(*) FROM turns WHERE content LIKE '%pomegranate%'").fetchone()[0])
    assert left == 0
    assert long_replies.companion.unsaved_count(ida) == 0  # nothing of theirs kept in memory
