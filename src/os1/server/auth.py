"""Who is asking: the session behind a request or a socket, and the routes that make one.

Every data route takes ``user: CurrentUser``: the session's user (from ``Authorization:
Bearer <token>`` or the ``os1_session`` cookie), with the request scoped to them
(`os1.store.scope`) and their API rate limit spent. Nothing else names a user.
"""

from __future__ import annotations

import contextlib
import unicodedata
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, Response, WebSocket
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from os1.server.accounts import (
    NAME_MAX,
    NAME_PATTERN,
    PASSWORD_MAX,
    PASSWORD_MIN,
    Accounts,
    Grant,
    NameTaken,
    NotLoggedIn,
    TooManyAttempts,
    WrongCredentials,
)
from os1.server.limits import key, retry_after
from os1.server.sockets import CLOSE_LOG_IN_AGAIN  # a WebSocket's "401"
from os1.server.state import ServerState, server_state, socket_state
from os1.store.base import User
from os1.store.scope import enter_user_scope

COOKIE = "os1_session"
CLOSE_FORBIDDEN = 4403  # a WebSocket opened by another site's page

_bearer = HTTPBearer(auto_error=False, description="The token from POST /api/sessions")
_cookie = APIKeyCookie(name=COOKIE, auto_error=False,
                       description="Set by POST /api/sessions (browsers)")


def _plain_text(text: str) -> str:
    """Text that can be stored and hashed: JSON may carry lone surrogates, which cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise ValueError("must not contain control characters")
    return text


Text = Annotated[str, AfterValidator(_plain_text)]


class Problem(BaseModel):
    """Every error: what went wrong and what to do, in words."""

    detail: str


class NewAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN,
                       description="1-32 letters, digits, '.', '_', '-'; spaces inside",
                       examples=["Sam"])
    password: Text = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class LogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Looser than a new name: local users (`os1 chat --user`) may have any name.
    name: Text = Field(min_length=1, max_length=200, examples=["Sam"])
    password: Text = Field(min_length=1, max_length=PASSWORD_MAX)


class SessionOut(BaseModel):
    name: str
    token: str = Field(description="Send as 'Authorization: Bearer <token>' (or use the "
                       "cookie); it is shown once")
    expires_at: datetime = Field(description="Each use moves it forward")


def _problems(*codes: int) -> dict[int | str, dict[str, object]]:
    return {code: {"model": Problem} for code in codes}


router = APIRouter(prefix="/api", tags=["sessions"])


def client_ip(request: Request | WebSocket) -> str:
    """The caller's address (behind a reverse proxy, uvicorn takes it from X-Forwarded-For
    when the proxy is trusted: --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


def _too_many(exc: TooManyAttempts) -> HTTPException:
    return HTTPException(429, str(exc), headers={"Retry-After": retry_after(exc.wait_s)})


def _granted(grant: Grant, request: Request, response: Response) -> SessionOut:
    response.set_cookie(
        COOKIE, grant.token, expires=grant.expires_at, path="/", httponly=True,
        samesite="strict", secure=request.url.scheme == "https")
    return SessionOut(name=grant.user.name, token=grant.token, expires_at=grant.expires_at)


@router.post("/accounts", status_code=201, response_model=SessionOut,
             responses=_problems(409, 429), summary="Sign up (and log in)")
async def sign_up(body: NewAccount, request: Request, response: Response,
                  state: Annotated[ServerState, Depends(server_state)]) -> SessionOut:
    try:
        grant = await state.accounts.sign_up(body.name, body.password, client_ip(request))
    except NameTaken as exc:
        raise HTTPException(409, str(exc)) from None
    except TooManyAttempts as exc:
        raise _too_many(exc) from None
    return _granted(grant, request, response)


@router.post("/sessions", response_model=SessionOut, responses=_problems(401, 429),
             summary="Log in")
async def log_in(body: LogIn, request: Request, response: Response,
                 state: Annotated[ServerState, Depends(server_state)]) -> SessionOut:
    try:
        grant = await state.accounts.log_in(body.name, body.password, client_ip(request))
    except WrongCredentials as exc:
        raise HTTPException(401, str(exc)) from None
    except TooManyAttempts as exc:
        raise _too_many(exc) from None
    return _granted(grant, request, response)


@router.delete("/sessions/current", status_code=204, summary="Log out")
async def log_out(
    request: Request, state: Annotated[ServerState, Depends(server_state)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Response:
    """The session's token stops working at once. Logging out twice is not an error."""
    token = bearer.credentials if bearer else cookie
    if token:
        await state.accounts.log_out(token)
        await state.sockets.close_session(token, "You logged out.")
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# -- the dependency every data route takes ----------------------------------------------

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def current_user(
    request: Request, state: Annotated[ServerState, Depends(server_state)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> User:
    """Async on purpose: the user scope set here must live in the request's own context
    (a sync dependency runs in a worker thread, whose context is thrown away)."""
    token = bearer.credentials if bearer else cookie
    try:
        user = await state.accounts.user_for(token)
    except NotLoggedIn as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    if bearer is None and request.method not in _SAFE_METHODS and not _same_origin(request):
        # SameSite=Strict already keeps the cookie off other sites' requests; this is the
        # second wall for browsers that ignore it.
        raise HTTPException(403, "This request came from another site's page; open os1 "
                            "itself and try again.")
    enter_user_scope(user.id)
    wait = await state.limits.take(key("api", user.id), state.limits.rules.api)
    if wait is not None:
        raise HTTPException(429, "Too many requests; slow down a little.",
                            headers={"Retry-After": retry_after(wait)})
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def socket_user(websocket: WebSocket) -> User | None:
    """A WebSocket's user, checked before anything is sent. Without a valid session the
    socket is accepted only to be closed with 4401 (a browser cannot read an HTTP refusal
    of a WebSocket; it can read a close code) and None is returned."""
    state = socket_state(websocket)
    query = websocket.query_params.get("token")
    token = socket_token(websocket)
    try:
        user = await state.accounts.user_for(token)
    except NotLoggedIn as exc:
        await _refuse(websocket, CLOSE_LOG_IN_AGAIN, str(exc))
        return None
    if not query and not _same_origin(websocket):  # a cookie rode along from another site
        await _refuse(websocket, CLOSE_FORBIDDEN, "Open os1 itself to talk.")
        return None
    enter_user_scope(user.id)
    return user


async def still_logged_in(websocket: WebSocket, accounts: Accounts, token: str | None) -> bool:
    """Checked before each turn on an open socket: its session (``token``, the one it opened
    with) may have ended meanwhile: it expired, or the user logged out through another API
    process (each process closes only its own sockets; sessions live in the database). An
    ended one closes the socket with 4401, as at opening."""
    try:
        await accounts.user_for(token)
    except NotLoggedIn as exc:
        with contextlib.suppress(Exception):  # already closing
            await websocket.close(CLOSE_LOG_IN_AGAIN, _reason(str(exc)))
        return False
    return True


def socket_token(websocket: WebSocket) -> str | None:
    """The session a socket opened with: ``?token=`` (other clients) or the cookie."""
    return websocket.query_params.get("token") or websocket.cookies.get(COOKIE)


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code, _reason(reason))


def _reason(text: str) -> str:
    return text.encode()[:120].decode(errors="ignore")  # a close reason fits 123 bytes


def _same_origin(request: Request | WebSocket) -> bool:
    """No Origin header (not a browser page) or the page's own host."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()
