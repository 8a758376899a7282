"""The server benchmark: `os1 serve` under many WebSocket sessions, against a TEST DOUBLE model.

    python bench/server/run.py --databases sqlite --seconds 15 --write docs/benchmarks.md
    python bench/server/run.py --databases postgres --seconds 15 --write docs/benchmarks.md

For each database (SQLite; PostgreSQL, a throwaway one started with pgserver) and each
companion mode (default: memory and affect on; lean: both off), it:

1. creates one account per session in the database before the server starts, through
   os1.server.accounts (the sign-up code minus HTTP, with a cheap argon2 setting: sign-up cost
   is not what this measures, and the API allows 10 sign-ups an hour per address), and signs
   up one more user through POST /api/accounts to check that path;
2. starts the test-double model server (fake_model.py: fixed first-token delay and token rate)
   and `os1 serve` as subprocesses, the server pointed at the double with OS1_LLM_URL;
3. opens one WebSocket per user and holds them idle: server RSS delta / sessions = memory per
   idle session;
4. drives turns at --rate for --seconds across the idle sessions: per turn, first-token time
   minus the double's first-token delay, and each token gap minus its interval = the latency
   the server added (p50/p99); the server's CPU seconds per turn;
5. before the main rate, steps up through lower rates (--ramp-down) until one fails; after it,
   higher ones (--ramp) while they hold (turns finish, none waits for a free session, added
   p99 under 1 s): the highest rate that held is "turns/s sustained".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "server"))

from load import Summary, as_dict, close_all, drive, hold, summarize  # noqa: E402

from os1.server.loop import event_loop_factory  # noqa: E402
from report import machine, write_section  # noqa: E402

PASSWORD = "benchmark-password"
# OPENBLAS_NUM_THREADS=1: a server's parallelism is its many turns at once; OpenBLAS's own
# threads (2 here by default) then spin against each other — "blas2" measures that.
MODES = {
    "default": {"OPENBLAS_NUM_THREADS": "1"},  # memory, affect and the crisis check
    "lean": {"OS1_MEMORY": "off", "OS1_AFFECT": "off",  # the crisis check stays: always on
             "OPENBLAS_NUM_THREADS": "1"},
    "default-blas2": {"OPENBLAS_NUM_THREADS": "2"},  # as os1 ran before: BLAS threads
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Pace:
    first_token_ms: float
    interval_ms: float
    tokens: int


def make_accounts(env: dict[str, str], count: int) -> list[str]:
    """``count`` users with a session each, straight into the database the server will open."""
    code = f"""
import asyncio, json, sys
from argon2 import PasswordHasher
from os1.config import load_settings
from os1.store.open import open_store
from os1.server.accounts import Accounts
from os1.server.limits import Limits, MemoryRateLimits, Rule

async def main():
    store = open_store(load_settings().settings)
    accounts = Accounts(store, MemoryRateLimits(Limits(sign_ups=Rule(10**9, 1.0))),
                        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    tokens = [(await accounts.sign_up(f"bench{{i}}", {PASSWORD!r}, "bench")).token
              for i in range({count})]
    store.close()
    json.dump(tokens, sys.stdout)

asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"making accounts failed: {out.stderr[-800:]}")
    tokens: list[str] = json.loads(out.stdout)
    return tokens


def server_command(port: int) -> list[str]:
    return [sys.executable, "-m", "os1", "serve", "--host", "127.0.0.1", "--port", str(port)]


async def wait_healthy(base: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{base}/api/health", timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.5)
    raise RuntimeError("the server did not become healthy in time")


def rss(pid: int) -> int:
    proc = psutil.Process(pid)
    return int(proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(True)))


def cpu_s(pid: int) -> float:
    proc = psutil.Process(pid)
    times = [proc.cpu_times()] + [c.cpu_times() for c in proc.children(True)]
    return float(sum(t.user + t.system for t in times))


async def one_setup(database: str, mode: str, args: argparse.Namespace,
                    pace: Pace, db_url: str) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"os1-bench-{database}-{mode}-"))
    model_port, port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
    env.update({"OS1_CONFIG_FILE": str(folder / "config.toml"),
                "OS1_DATA_DIR": str(folder / "data"),
                "OS1_LLM_URL": f"http://127.0.0.1:{model_port}/v1",
                "OS1_LLM_MODEL": "fake-model-test-double",
                "HF_HUB_OFFLINE": "1", **MODES[mode]})
    if "OS1_CACHE_DIR" in os.environ:
        env["OS1_CACHE_DIR"] = os.environ["OS1_CACHE_DIR"]
    if db_url:
        env["OS1_DATABASE_URL"] = db_url
    env.update(dict(item.split("=", 1) for item in args.server_env))
    started = time.monotonic()
    tokens = make_accounts(env, args.sessions)
    accounts_s = time.monotonic() - started
    fake = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "fake_model.py"), "--port", str(model_port),
         "--first-token-ms", str(pace.first_token_ms), "--interval-ms", str(pace.interval_ms),
         "--tokens", str(pace.tokens)])
    log = (folder / "server.log").open("wb")
    command = server_command(port)
    if os.environ.get("BENCH_PROFILE"):  # a cProfile of the server, for finding where time goes
        command[1:1] = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/api/chat"
    result: dict[str, Any] = {"database": database, "mode": mode, "sessions": args.sessions,
                              "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
                              "measured_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
                              "accounts_s": round(accounts_s, 1),
                              "server": "os1 serve"}
    try:
        await wait_healthy(base, server, 180)
        async with httpx.AsyncClient() as client:
            signed = await client.post(f"{base}/api/accounts",
                                       json={"name": "via-http", "password": PASSWORD})
            result["http_sign_up"] = signed.status_code
        await asyncio.sleep(1)
        before = rss(server.pid)
        opened_at = time.monotonic()
        sessions = await hold(ws_url, tokens)
        result["open_s"] = round(time.monotonic() - opened_at, 1)
        await asyncio.sleep(3)
        held = rss(server.pid)
        # Idle sessions cost CPU too (pings, the check-in watch of each open chat).
        cpu_idle0 = cpu_s(server.pid)
        await asyncio.sleep(10)
        result["idle_cpu_ms_per_s"] = round((cpu_s(server.pid) - cpu_idle0) * 100, 1)
        result["rss_before_mb"] = round(before / 2**20, 1)
        result["rss_held_mb"] = round(held / 2**20, 1)
        result["kb_per_idle_session"] = round((held - before) / len(sessions) / 1024, 1)
        # Warm-up: a few turns load the sentence models and the code paths.
        await drive(sessions, rate=5, seconds=3)
        # Up to the main rate in steps (an overloaded server has a backlog that would spoil
        # every step after it), then the main rate, then above it while it holds.
        sustained = 0.0
        ramp: list[dict[str, Any]] = []
        below = sorted(r for r in args.ramp_down if r < args.rate)
        for rate in below if mode in args.ramp_modes else []:
            step = await _step(sessions, rate, args.ramp_seconds, pace, server.pid)
            ramp.append(step)
            if not step["holds"]:
                break
            sustained = rate
        if not await _idle(sessions, 60):
            result["note"] = "the server had not finished earlier turns before the main rate"
        cpu0 = cpu_s(server.pid)
        main = summarize(await drive(sessions, args.rate, args.seconds),
                         pace.first_token_ms / 1000, pace.interval_ms / 1000)
        result["main"] = as_dict(main)
        result["cpu_ms_per_turn"] = round((cpu_s(server.pid) - cpu0) * 1000
                                          / max(1, main.completed), 1)
        result["rss_after_turns_mb"] = round(rss(server.pid) / 2**20, 1)
        if holds(main):
            sustained = main.rate
            for rate in [r for r in args.ramp if r > args.rate] if mode in args.ramp_modes else []:
                if not await _idle(sessions, 60):
                    break
                step = await _step(sessions, rate, args.ramp_seconds, pace, server.pid)
                ramp.append(step)
                if not step["holds"]:
                    break
                sustained = rate
        result["ramp"] = ramp
        result["sustained_per_s"] = sustained
        result["still_open"] = sum(1 for s in sessions if s.socket.state.name == "OPEN")
        await close_all(sessions)
        async with httpx.AsyncClient() as client:
            result["model_double"] = (await client.get(
                f"http://127.0.0.1:{model_port}/stats")).json()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        fake.terminate()
        fake.wait(10)
        log.close()
    tail = (folder / "server.log").read_text(errors="replace").splitlines()[-5:]
    result["server_log_tail"] = tail
    return result


async def _step(sessions: list[Any], rate: float, seconds: float, pace: Pace,
                pid: int) -> dict[str, Any]:
    cpu0 = cpu_s(pid)
    summary = summarize(await drive(sessions, rate, seconds, drain_s=10),
                        pace.first_token_ms / 1000, pace.interval_ms / 1000)
    cpu_ms = (cpu_s(pid) - cpu0) * 1000 / max(1, summary.completed)
    return {**as_dict(summary), "holds": holds(summary), "cpu_ms_per_turn": round(cpu_ms, 1)}


async def _idle(sessions: list[Any], timeout_s: float) -> bool:
    """Wait until no session has a turn running (the server caught up), up to timeout_s."""
    deadline = time.monotonic() + timeout_s
    while any(s.current is not None for s in sessions):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.5)
    return True


def holds(summary: Summary) -> bool:
    """The server kept up: (nearly) every offered turn done, none waiting for a free session,
    and the added p99 under a second."""
    return (summary.failed <= 0.01 * max(1, summary.offered) and summary.skipped == 0
            and summary.completed >= 0.98 * summary.offered
            and summary.first_added_p99_ms < 1000)


@contextlib.contextmanager
def postgres() -> Any:
    """A throwaway PostgreSQL (pgserver ships 16 with pgvector), with an ordinary role os1
    connects as (os1 refuses a superuser: row-level security would not apply to it)."""
    import pgserver  # type: ignore[import-untyped]
    import psycopg

    folder = Path(tempfile.mkdtemp(prefix="os1-bench-pg-"))
    folder.chmod(0o755)  # pgserver runs PostgreSQL as its own system user when run as root
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        admin = server.get_uri()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE ROLE os1_bench LOGIN NOSUPERUSER NOBYPASSRLS")
        yield admin
    finally:
        server.cleanup()


def fresh_database(admin: str, name: str) -> str:
    """A new database owned by the bench role, with pgvector; os1's URL for it."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER os1_bench')
    parts = urlsplit(admin)
    with psycopg.connect(urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, "")),
                         autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"os1_bench@{host}", f"/{name}", parts.query, ""))


def check_costs() -> list[str]:
    """bench/server/costs.py in its own process: each per-turn check's CPU cost."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(Path(__file__).parent / "costs.py")], env=env,
                         capture_output=True, text=True, timeout=600)
    return [line for line in out.stdout.splitlines() if "ms CPU" in line] or [
        f"(costs.py failed: {out.stderr[-300:]})"]


def report(results: list[dict[str, Any]], args: argparse.Namespace, pace: Pace,
           command: str, costs: list[str]) -> str:
    lines = [
        f"Measured {results[0].get('measured_at') if results else '?'} UTC on {machine()}, "
        "shared with other "
        "work (load average at the start "
        f"{results[0].get('load_average', '?') if results else '?'}); every process (load "
        "client, test-double model, server) on this one machine.",
        f"Command: `{command}`",
        "",
        f"Model: **a test double** (bench/server/fake_model.py): first token after "
        f"{pace.first_token_ms:g} ms, then one token every {pace.interval_ms:g} ms, "
        f"{pace.tokens} tokens a reply. One user per session, each its own account.",
        "",
        "| database | companion | sessions | KB per idle session | turns/s offered | "
        "done / failed | first token added p50 / p99 | token gap added p50 / p99 | "
        "server CPU per turn | sustained turns/s | client lag p99 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "main" not in r:
            lines.append(f"| {r['database']} | {r['mode']} | {r['sessions']} | failed: "
                         f"{r.get('error', '?')} |||||||||")
            continue
        m = r["main"]
        finished = m["completed"] > 0
        first = (f"{m['first_added_p50_ms']:.0f} / {m['first_added_p99_ms']:.0f} ms"
                 if finished else "none finished")
        gap = (f"{m['gap_added_p50_ms']:.1f} / {m['gap_added_p99_ms']:.1f} ms"
               if finished else "—")
        # CPU per *finished* turn: meaningless when few finished (work went to the others).
        cpu = (f"{r['cpu_ms_per_turn']:.0f} ms" if m["completed"] >= 0.9 * m["offered"]
               else "— (overloaded)")
        lines.append(
            f"| {r['database']} | {r['mode']} | {r['sessions']} | {r['kb_per_idle_session']} | "
            f"{m['rate']:g} | {m['completed']} / {m['failed']} | {first} | {gap} | {cpu} | "
            f"{r['sustained_per_s']:g} | {m['client_lag_p99_ms']:.0f} ms |")
    lines += ["", f"Steps (each {args.ramp_seconds:g} s): up to the main rate until one fails, "
              "and above it while it holds. A rate holds when ≥ 98 % of its turns finish, none "
              "waits for a free session and the added first-token p99 is under 1 s.", ""]
    for r in results:
        done = ", ".join(
            f"{s['rate']:g}/s {'holds' if s.get('holds') else 'fails'}: {s['completed']} done, "
            f"{s['failed']} failed, "
            f"added first token p50/p99 {s['first_added_p50_ms']:.0f}/"
            f"{s['first_added_p99_ms']:.0f} ms, token gap p99 {s['gap_added_p99_ms']:.0f} ms, "
            f"{s.get('cpu_ms_per_turn', float('nan')):.0f} ms CPU a turn"
            for s in r.get("ramp", []))
        lines.append(f"- {r['database']} {r['mode']}: {done or 'no steps'}"
                     f"; model double late p99 {r.get('model_double', {}).get('late_p99_ms')} ms")
    lines += ["", "What each check costs a turn, in server CPU (bench/server/costs.py, one at a "
              "time, OPENBLAS_NUM_THREADS=1, median of 30):", ""]
    lines += [f"- {line}" for line in costs]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    pace = Pace(args.first_token_ms, args.interval_ms, args.tokens)
    results: list[dict[str, Any]] = []
    for database in args.databases:
        with contextlib.ExitStack() as stack:
            admin = stack.enter_context(postgres()) if database == "postgres" else ""
            for mode in args.modes:
                print(f"-- {database}, {mode}: {args.sessions} sessions", flush=True)
                try:
                    url = fresh_database(admin, f"os1_{mode}".replace("-", "_")) if admin else ""
                    result = await one_setup(database, mode, args, pace, url)
                except Exception as error:  # report it and go on with the next setup
                    result = {"database": database, "mode": mode, "sessions": args.sessions,
                              "error": f"{type(error).__name__}: {error}"}
                print(json.dumps(result, indent=1), flush=True)
                results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="os1 server benchmark (test-double model)")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="turns a second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--ramp", type=lambda s: [float(x) for x in s.split(",") if x],
                        default=[75.0, 100.0, 150.0], help="higher rates to try, comma-separated")
    parser.add_argument("--ramp-down", type=lambda s: [float(x) for x in s.split(",") if x],
                        default=[5.0, 10.0, 20.0, 30.0],
                        help="rates below the main one, tried first, upwards, until one fails")
    parser.add_argument("--ramp-seconds", type=float, default=10.0)
    parser.add_argument("--ramp-modes", type=lambda s: s.split(","), default=["default", "lean"],
                        help="modes that get the ramp (the others: the main rate only)")
    parser.add_argument("--modes", type=lambda s: s.split(","),
                        default=["default", "lean"],
                        help=f"companion modes, comma-separated: {', '.join(MODES)}")
    parser.add_argument("--databases", type=lambda s: s.split(","), default=["sqlite", "postgres"],
                        help="sqlite, postgres (a throwaway one, started with pgserver), or both")
    parser.add_argument("--first-token-ms", type=float, default=200.0)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the server (e.g. OPENBLAS_NUM_THREADS=1)")
    parser.add_argument("--write", type=Path, help="docs/benchmarks.md")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--from-json", type=Path,
                        help="write the report of an earlier run's --json instead of running")
    parser.add_argument("--command-was", default="", help="with --from-json: its command")
    args = parser.parse_args()
    if args.from_json:
        # The report of that run, with the costs measured then (not today's).
        saved = json.loads(args.from_json.read_text())
        results, costs = saved["results"], saved["costs"]
        command = args.command_was
    else:
        costs = check_costs()
        # The load client on uvloop too: it shares these 2 cores with the server it measures.
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            results = runner.run(main_async(args))
        command = "python bench/server/run.py " + shlex.join(sys.argv[1:])
    text = report(results, args, Pace(args.first_token_ms, args.interval_ms, args.tokens),
                  command, costs)
    print(text)
    if args.json and not args.from_json:
        args.json.write_text(json.dumps({"results": results, "costs": costs}, indent=1))
    if args.write:
        key = f"{'+'.join(args.databases)}-{args.sessions}-sessions"
        write_section(args.write, "server", key, text)


if __name__ == "__main__":
    main()
