"""The server as one FastAPI app: the API, the chat and voice sockets, the web page.

One companion (one model, one store) serves every user; each request names its user through
its session (`auth.current_user`). Errors are always JSON ``{"detail": ...}`` in words a
person can act on; a stack trace goes to the log, never to the client.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from os1.app import close_companion, open_companion
from os1.checkins.outreach import Outreach
from os1.checkins.scheduler import CheckIns
from os1.companion import Companion
from os1.config import Settings
from os1.server import auth, chat_socket, voice_socket
from os1.server.accounts import Accounts
from os1.server.limits import MemoryRateLimits, RateLimits
from os1.server.routes import (
    checkins,
    history,
    letters,
    memory,
    mood,
    onboarding,
    privacy,
    reminders,
)
from os1.server.routes import settings as settings_routes
from os1.server.state import ServerState
from os1.store.base import Database, StorageError

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"
MAX_BODY = 1024 * 1024  # no os1 request needs more than a long letter's worth

_NO_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>os1</title>
</head><body><h1>os1</h1><p>The server is running, but its web page is not installed
(src/os1/server/web/index.html is missing). The API is at <a href="/api/docs">/api/docs</a>.
</p></body></html>"""


class Health(BaseModel):
    status: str


def create_app(settings: Settings, companion: Companion, *, limits: RateLimits | None = None,
               accounts: Accounts | None = None, checkins_every_s: float = 30.0,
               routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The app for this companion; it owns it from here (warms it on start-up, closes it on
    shutdown). ``limits``: shared rate limits (Redis) when several processes serve;
    ``routers``: more routes (mounted before the web page, which takes every other path)."""
    store = companion.store
    assert isinstance(store, Database)  # what open_companion opens
    limits = limits or MemoryRateLimits()
    accounts = accounts or Accounts(store, limits,
                                    session_days=float(getattr(settings, "session_days", 30.0)))
    app = FastAPI(
        title="os1", version="1", lifespan=_lifespan,
        description="A personal AI companion. Log in with POST /api/sessions; send the token "
                    "as 'Authorization: Bearer <token>'. Chat: WebSocket /api/chat.",
        openapi_url="/api/openapi.json", docs_url="/api/docs", redoc_url=None,
    )
    outreach = (Outreach(companion, CheckIns(store, settings, users_choose=True))
                if settings.checkins else None)
    app.state.os1 = ServerState(settings, companion, accounts, limits, outreach,
                                checkins_every_s)
    _handle_errors(app)

    app.include_router(auth.router)
    app.include_router(chat_socket.router)

    @app.get("/api/health", response_model=Health, tags=["server"])
    async def health() -> Health:
        """Whether the server is up (no session needed)."""
        return Health(status="ok")

    for routes in (history, memory, mood, letters, reminders, settings_routes, onboarding,
                   privacy, checkins, voice_socket):
        app.include_router(routes.router)
    for extra in routers:
        app.include_router(extra)
    _web_page(app)
    # Not FastAPI's max_body_size: Starlette answers a too-long Content-Length in plain text.
    app.add_middleware(_BodyLimit, max_bytes=MAX_BODY)
    app.add_middleware(_SecurityHeaders)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def open_server(settings: Settings, model_file: Path | None = None) -> FastAPI:
    """Open the companion (store, then model) and the app around it. With a Redis URL
    (setting redis_url / OS1_REDIS_URL), rate limits are shared by every API process."""
    limits: RateLimits | None = None
    if settings.redis_url:
        from os1.server.limits_redis import RedisRateLimits

        limits = RedisRateLimits.from_url(settings.redis_url)
        if not settings.database_url:
            log.warning("Redis shares the rate limits only: background jobs stay in this "
                        "process until the database is PostgreSQL (a worker cannot reach a "
                        "SQLite file's open conversations)")
    # Background jobs go to `os1 worker` only with a database every process shares.
    queued = bool(settings.redis_url and settings.database_url)
    return create_app(settings, open_companion(settings, model_file, queued_jobs=queued),
                      limits=limits)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServerState = app.state.os1
    await state.companion.warm()
    yield
    await state.limits.aclose()
    unsaved = await close_companion(state.companion)
    for turn in unsaved:  # last resort: the database refused them to the end
        log.error("unsaved %s turn (conversation %d): %s", turn.role, turn.conversation_id,
                  turn.content)


def _web_page(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        page = WEB_DIR / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html")
        return HTMLResponse(_NO_PAGE)

    if WEB_DIR.is_dir():
        app.mount("/", _HttpOnly(StaticFiles(directory=WEB_DIR)), name="web")


class _HttpOnly:
    """Static files answer HTTP only: a WebSocket to an unknown path is refused, not a crash."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "no such socket"})
            return
        await self._app(scope, receive, send)


# -- errors --------------------------------------------------------------------------------

INTERNAL = ("Something went wrong on the server; it has been logged. Try again, and if it "
            "keeps happening, tell whoever runs this os1.")
STORAGE = "The database is busy or unavailable right now; try again in a moment."


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # What was wrong and where, without echoing the input back (it may be a password).
        problems = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
                     "type": str(e.get("type", ""))} for e in exc.errors()]
        return JSONResponse({"detail": jsonable_encoder(problems)}, status_code=422)

    @app.exception_handler(StorageError)
    async def storage(request: Request, exc: StorageError) -> JSONResponse:
        log.error("storage error on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": STORAGE}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": INTERNAL}, status_code=500)


class _TooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request is too large (at most {max_bytes // 1024} KiB).")


class _BodyLimit:
    """Request bodies over ``max_bytes`` get 413 before they are read into memory: by their
    Content-Length when they state one, else as soon as the stream passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared and (not declared.isdigit() or int(declared) > self._max):
            await _json(send, 413, _TooLarge(self._max).detail)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self._max:
                    raise _TooLarge(self._max)  # FastAPI answers it as an HTTP error
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, limited, tracked)
        except _TooLarge as exc:  # raised outside FastAPI's handling
            if not started:
                await _json(send, 413, exc.detail)


async def _json(send: Send, status: int, detail: str) -> None:
    response = JSONResponse({"detail": detail}, status_code=status)
    await send({"type": "http.response.start", "status": status,
                "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


# -- security headers ------------------------------------------------------------------------

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def _policy(host: str, path: str) -> str:
    if path == "/api/docs":  # Swagger UI: FastAPI's page loads it from a CDN, inline
        return ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
                "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: "
                "https://fastapi.tiangolo.com; frame-ancestors 'none'")
    # 'self' covers ws/wss to the same host in CSP 3; the explicit forms are for older
    # browsers (only when the Host header is a plain host, never echoed otherwise).
    sockets = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: "
            f"blob:; media-src 'self' blob:; connect-src 'self'{sockets}; worker-src 'self' "
            "blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path: str = scope["path"]
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        added = [
            (b"content-security-policy", _policy(host, path).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"microphone=(self), camera=(), geolocation=()"),
        ]
        if path.startswith("/api/"):
            added.append((b"cache-control", b"no-store"))  # private data: never cached

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in added if h[0] not in present)]
            await send(message)

        await self._app(scope, receive, with_headers)


# -- the OpenAPI document ------------------------------------------------------------------

_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the answers every route may give that its code does not
    declare: 401 and 429 wherever a session is needed, 413 wherever a body is sent, 404
    wherever a path names a row."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Problem", auth.Problem.model_json_schema())
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            extra = []
            if operation.get("security"):
                extra += [("401", "Not logged in, or the session expired"),
                          ("429", "Too many requests (see Retry-After)")]
            if "requestBody" in operation:
                extra.append(("413", "The request body is too large"))
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                # Another user's row reads as no row at all (never 403: existence is private).
                extra.append(("404", "There is no such thing (of yours)"))
            invalid = responses.get("422", {}).get("content", {}).get("application/json")
            if invalid is not None:  # FastAPI's list of problems, or one in words (a refused
                invalid["schema"] = {"anyOf": [invalid["schema"], _PROBLEM]}  # setting)
            for code, why in extra:
                responses.setdefault(code, {
                    "description": why,
                    "content": {"application/json": {"schema": _PROBLEM}}})
    app.openapi_schema = schema
    return schema
