"""`os1 serve`, `os1 account` and `os1 worker`: os1 in a browser.

    os1 serve [--host 127.0.0.1] [--port 8765]   the API, the chat and voice sockets, the page
    os1 serve --host 0.0.0.0 --public            listen beyond this machine (behind a TLS proxy)
    os1 account password NAME                    give an existing user (e.g. yours from
                                                 `os1 chat`) a password to log in with
    os1 worker [--burst]                         run background jobs from Redis
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import ipaddress
import logging
import os
import socket
import sys
from typing import Any

from rich.console import Console

from os1.config import Settings
from os1.server.accounts import AccountError, check_new_password, set_password
from os1.server.loop import event_loop_factory
from os1.server.protocol import MAX_AUDIO_FRAME, MAX_TEXT_FRAME
from os1.store.open import open_store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
NEW_PASSWORD_ENV = "OS1_NEW_PASSWORD"


def add_server_parser(verbs: Any) -> None:
    serve = verbs.add_parser("serve", help="serve os1 to a web browser (the API and the page)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    serve.add_argument("--public", action="store_true",
                       help="allow an address other machines can reach (put a TLS reverse "
                       "proxy in front: docs/deploy.md)")
    serve.add_argument("--model", help="default, fast, or a path to a .gguf file")

    account = verbs.add_parser("account", help="accounts for the browser: set a password")
    actions = account.add_subparsers(dest="account_action", metavar="ACTION", required=True)
    password = actions.add_parser(
        "password", help=f"set NAME's password (asked twice, or read from {NEW_PASSWORD_ENV})")
    password.add_argument("name", help="an existing user, e.g. the one `os1 chat` uses (me)")


def run_server(settings: Settings, args: argparse.Namespace, console: Console,
               errors: Console) -> int:
    if args.verb == "account":
        return _password(settings, args.name, console, errors)
    return _serve(settings, args, console, errors)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _serve(settings: Settings, args: argparse.Namespace, console: Console,
           errors: Console) -> int:
    import uvicorn

    from os1.llm.select import prepare_model_file
    from os1.server.app import open_server
    from os1.terminal.progress import byte_progress

    host: str = args.host
    if not _is_loopback(host) and not args.public:
        errors.print(
            f"[red]Refusing to listen on {host}:[/red] other machines could reach os1 there, "
            "over plain HTTP. If that is what you want, add --public, and put a reverse proxy "
            "with TLS in front (docs/deploy.md): passwords and conversations must not cross a "
            "network unencrypted.")
        return EXIT_USAGE
    if not 0 < args.port < 65536:
        errors.print(f"[red]--port {args.port} is not a port (1-65535).[/red]")
        return EXIT_USAGE
    try:  # bound before the slow model load, so a busy port fails at once
        listener = socket.create_server((host.strip("[]"), args.port),
                                        family=_family(host), reuse_port=False)
    except OSError as exc:
        errors.print(f"[red]Cannot listen on {host}:{args.port} ({exc.strerror}).[/red] "
                     "Is another os1 serve running? Choose another port with --port.")
        return EXIT_FAILED
    try:
        with byte_progress(errors) as progress:
            model_file = prepare_model_file(settings, progress)
        with errors.status("Loading the model…"):
            app = open_server(settings, model_file)
        config = uvicorn.Config(
            app, log_level="info", proxy_headers=True, server_header=False,
            ws_max_size=max(MAX_TEXT_FRAME, MAX_AUDIO_FRAME) * 2,  # past ours: 1009 at once
            timeout_graceful_shutdown=10)
        shown = f"[{host.strip('[]')}]" if ":" in host else host
        if settings.uses_remote_model:
            errors.print(f"[dim]Using the model server at {settings.llm_url}: messages are "
                         "sent there.[/dim]")
        errors.print("[dim]Getting ready (the very first time takes a minute)…[/dim]")
        started = True  # Ctrl-C during start-up: uvicorn stops cleanly too
        # uvicorn shuts down gracefully on Ctrl-C, then passes it on: that is a normal stop.
        with contextlib.suppress(KeyboardInterrupt), \
                asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            started = runner.run(_run(uvicorn.Server(config), listener,
                                      f"http://{shown}:{args.port}/", console))
        if not started:
            errors.print("[red]os1 serve could not start; the log above says why.[/red]")
            return EXIT_FAILED
        console.print("os1 serve stopped.")
    finally:
        listener.close()
    return EXIT_OK


async def _run(server: Any, listener: socket.socket, url: str, console: Console) -> bool:
    """Serve; say where once the companion is warm and requests are answered. False: it never
    started."""
    serving = asyncio.ensure_future(server.serve(sockets=[listener]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.1)
    if server.started:
        console.print(f"os1 is listening on [bold]{url}[/bold] (Ctrl-C stops it). "
                      f"The API is described at {url}api/docs")
    await serving
    return bool(server.started)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _password(settings: Settings, name: str, console: Console, errors: Console) -> int:
    password = _new_password(name, errors)
    if password is None:
        return EXIT_USAGE
    store = open_store(settings)
    try:
        user = set_password(store, name, password)
    except AccountError as exc:
        errors.print(f"[red]{exc}[/red]", markup=False)
        return EXIT_FAILED
    finally:
        store.close()
    console.print(f"{user.name} can now log in from the browser (os1 serve). Any earlier "
                  "browser sessions of theirs were logged out.", markup=False)
    return EXIT_OK


def _new_password(name: str, errors: Console) -> str | None:
    if sys.stdin.isatty():
        first = getpass.getpass(f"New password for {name}: ")
        if getpass.getpass("Again: ") != first:
            errors.print("[red]The two passwords differ; nothing was changed.[/red]")
            return None
        password = first
    else:
        password = os.environ.get(NEW_PASSWORD_ENV, "")
        if not password:
            errors.print(f"[red]No password given.[/red] Run this in a terminal to be asked, "
                         f"or set {NEW_PASSWORD_ENV}.")
            return None
    problem = check_new_password(password)
    if problem is not None:
        errors.print(f"[red]{problem}[/red] Nothing was changed.")
        return None
    return password


# -- `os1 worker` ------------------------------------------------------------------------------


def add_worker_parser(verbs: Any) -> None:
    worker = verbs.add_parser(
        "worker", help="run background jobs from Redis (memory, reflection, check-ins) for "
        "`os1 serve` processes; needs OS1_REDIS_URL")
    worker.add_argument("--burst", action="store_true",
                        help="run the jobs waiting now and one sweep, then exit")


def run_worker(settings: Settings, args: argparse.Namespace, console: Console,
               errors: Console) -> int:
    url = settings.redis_url
    if not url:
        errors.print("[red]os1 worker needs Redis: set OS1_REDIS_URL (e.g. "
                     "redis://localhost:6379/0) here and for every `os1 serve`.[/red]")
        return EXIT_USAGE
    # Imported here: arq and redis take ~0.2 s to load, which every other `os1` verb would pay.
    from redis.exceptions import RedisError

    from os1.server.jobs import shown_url
    from os1.server.worker import make_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if not getattr(settings, "database_url", ""):
        # The API process's vector search is a cache of the SQLite file, loaded once per user:
        # memories a worker writes there reach its search only after a restart. PostgreSQL
        # searches in the database (pgvector), so every process sees them at once.
        errors.print("[yellow]os1 worker on the SQLite file: a running `os1 serve` recalls "
                     "what this worker stores only after its restart. For several processes "
                     "use PostgreSQL (OS1_DATABASE_URL).[/yellow]")
    console.print(f"os1 worker: running jobs from {shown_url(url)} (Ctrl-C stops it)")
    try:
        worker = make_worker(settings, url=url, burst=bool(getattr(args, "burst", False)))
        worker.run()
    except (TimeoutError, RedisError, OSError) as error:
        errors.print(f"[red]Cannot reach Redis at {shown_url(url)} ({type(error).__name__}: "
                     f"{error}). Start it, or check OS1_REDIS_URL.[/red]")
        return EXIT_FAILED
    return EXIT_OK
