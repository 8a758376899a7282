"""TEST DOUBLE of a model server, for the server benchmark: an OpenAI-compatible
``POST /v1/chat/completions`` that streams a canned reply at a FIXED rate. It does no
inference; it stands in for a vLLM fleet so the benchmark measures os1's server, not a model.

    first token after FIRST_TOKEN_S, then one token every TOKEN_INTERVAL_S, TOKENS in all

Plain asyncio and hand-written HTTP/1.1 (keep-alive, chunked server-sent events) so that this
double costs as little CPU as possible on the machine it shares with the server under test.
It measures its own punctuality: ``GET /stats`` gives how late its tokens left compared with
the schedule (p50/p99/max, ms) — lateness the benchmark must not blame on os1.

    python bench/server/fake_model.py --port 8999 --first-token-ms 200 --interval-ms 20 \
        --tokens 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field

from load import percentile

from os1.server.loop import event_loop_factory

WORDS = ("I", "hear", "you.", "That", "sounds", "like", "a", "lot", "to", "carry,", "and", "it",
         "makes", "sense", "that", "you", "feel", "it.", "Tell", "me", "a", "little", "more",
         "about", "what", "happened", "today,", "if", "you", "like.")


@dataclass
class Pace:
    first_token_s: float
    interval_s: float
    tokens: int


@dataclass
class Stats:
    requests: int = 0
    streams_open: int = 0
    most_streams_open: int = 0
    late_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int]:
        late = self.late_ms

        def pct(p: float) -> float:
            return round(percentile(late, p), 2) if late else 0.0

        return {"requests": self.requests, "most_streams_open": self.most_streams_open,
                "tokens": len(late), "late_p50_ms": pct(0.5), "late_p99_ms": pct(0.99),
                "late_max_ms": round(max(late), 2) if late else 0.0}


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _event(payload: dict[str, object] | str) -> bytes:
    body = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return _chunk(f"data: {body}\n\n".encode())


class FakeModelServer:
    def __init__(self, pace: Pace) -> None:
        self.pace = pace
        self.stats = Stats()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, RuntimeError):
            # The client went away (os1 cancelling a reply closes the connection); uvloop
            # says so with a RuntimeError ("the handler is closed") on the next write.
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one_request(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        arrived = time.monotonic()
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip()
                   for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        if method == "GET" and path.startswith("/stats"):
            await self._json(writer, self.stats.summary())
            return True
        if method == "POST" and path.endswith("/chat/completions"):
            self.stats.requests += 1
            request = json.loads(body or b"{}")
            if request.get("stream"):
                await self._stream(writer, arrived)
            else:
                # Structured calls (extraction, reflection): an empty JSON object. It fails
                # their schemas, which os1 logs and skips: those paths are not measured here.
                await self._json(writer, {"choices": [{"message": {"content": "{}"},
                                                       "finish_reason": "stop"}]})
            return True
        await self._json(writer, {"error": {"message": f"no route {path}"}}, status=404)
        return True

    async def _json(self, writer: asyncio.StreamWriter, payload: object,
                    status: int = 200) -> None:
        data = json.dumps(payload).encode()
        writer.write(b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (status, len(data), data))
        await writer.drain()

    async def _stream(self, writer: asyncio.StreamWriter, arrived: float) -> None:
        stats, pace = self.stats, self.pace
        stats.streams_open += 1
        stats.most_streams_open = max(stats.most_streams_open, stats.streams_open)
        try:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
            for n in range(pace.tokens):
                due = arrived + pace.first_token_s + n * pace.interval_s
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                stats.late_ms.append(max(0.0, (time.monotonic() - due) * 1000))
                word = WORDS[n % len(WORDS)]
                piece = word if n == 0 else " " + word
                writer.write(_event({"choices": [{"index": 0, "delta": {"content": piece}}]}))
                await writer.drain()
            writer.write(_event({"choices": [{"index": 0, "delta": {},
                                              "finish_reason": "stop"}]}))
            writer.write(_event("[DONE]"))
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        finally:
            stats.streams_open -= 1


async def serve(host: str, port: int, pace: Pace) -> None:
    server = FakeModelServer(pace)
    listener = await asyncio.start_server(server.handle, host, port, backlog=4096)
    async with listener:
        await listener.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--first-token-ms", type=float, default=200.0)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--tokens", type=int, default=60)
    args = parser.parse_args()
    pace = Pace(args.first_token_ms / 1000, args.interval_ms / 1000, args.tokens)
    with contextlib.suppress(KeyboardInterrupt), \
            asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve(args.host, args.port, pace))


if __name__ == "__main__":
    main()
