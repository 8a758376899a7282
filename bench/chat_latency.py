"""Chat latency on this machine, through the real turn loop (Companion, SQLite, llama.cpp).

    python bench/chat_latency.py [--model default|fast|PATH] [--turns 20] [--write FILE]

Measures: model load time; warm-up with and without the persona's KV snapshot; time to
first token (TTFT) on every turn of one scripted conversation (turn 1, turn 10, and the
spread over all turns, including the turns where the history window steps forward), with a
pause between turns as a person reading and typing would leave;
generation speed; peak resident memory. Figures go to stdout as Markdown and JSON, and
with --write into docs/benchmarks.md between this benchmark's markers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from os1.affect.engine import AffectEngine
from os1.app import open_memory_writer
from os1.companion import Companion
from os1.config import load_settings
from os1.events import AffectRead, Done
from os1.llm.select import open_chat_model, prepare_model_file
from os1.persona import default_persona
from os1.store.sqlite import SQLiteStore
from report import machine, write_section

# What a person might say over an evening; ordinary lengths, no tricks.
SCRIPT = [
    "Hey. Long day.",
    "Work was a lot. My manager moved the deadline up again.",
    "Yeah, it's the third time this month.",
    "I stayed late and missed dinner with my sister.",
    "Her name is Catherine, she's in town until Sunday.",
    "I feel bad, she came all this way.",
    "Maybe I can take her to breakfast tomorrow.",
    "There's a little place by the river we used to love.",
    "She always orders the pancakes, every single time.",
    "Okay, I think I'll text her now. Thanks for listening.",
    "Actually, what should I say to her?",
    "That sounds good. I'm nervous she's annoyed with me.",
    "We haven't talked much since Mom's surgery.",
    "It was in March. Everything went fine, thankfully.",
    "I just wasn't there as much as I wanted to be.",
    "Thanks. I think breakfast is a good start.",
    "Do you ever get tired of listening to me?",
    "Ha. Okay. I'm going to make some tea.",
    "Chamomile, the one with honey in it.",
    "Goodnight for now.",
    "Oh wait, one more thing: remind me what my sister's name is?",
    "Right. Goodnight!",
]



def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="os1-bench-"))
    overrides: dict[str, Any] = {"model": args.model, "data_dir": str(data_dir),
                                 "max_reply_tokens": args.reply_tokens}
    if args.threads:
        overrides["threads"] = args.threads
    settings = load_settings(overrides=overrides).settings
    persona = default_persona()

    model_file = prepare_model_file(settings)
    started = time.monotonic()
    model = open_chat_model(settings, model_file)
    load_s = time.monotonic() - started

    # Warm-up without a snapshot (what the very first start costs), then with one.
    started = time.monotonic()
    await model.warm(persona)
    cold_warm_s = time.monotonic() - started
    await model.aclose()
    # Keep the persona snapshot (what `os1 setup` leaves behind); drop the session one.
    for stale in (data_dir / "kv").glob("session-*.bin"):
        stale.unlink()
    model = open_chat_model(settings, model_file)
    started = time.monotonic()
    await model.warm(persona)
    snapshot_warm_s = time.monotonic() - started

    store = SQLiteStore(settings.database_path)
    # The product's path: memory on (recall before each turn, episodes written behind it) and
    # emotion reading on (its note joins the prompt on turns that carry a feeling).
    companion = Companion(model, store, settings, persona)
    writer = open_memory_writer(settings, store, model, companion.now)
    companion.memory = writer
    companion.affect = AffectEngine(store, lambda: writer.engine.embedder)
    await asyncio.to_thread(writer.engine.embed_query, "warm")
    await asyncio.to_thread(companion.affect.reader.read, "warm")
    user = store.user("bench")
    turns: list[dict[str, Any]] = []
    for number, text in enumerate(SCRIPT[: args.turns], start=1):
        if number > 1:
            await asyncio.sleep(args.pause)  # the person reads the reply and types
        done: Done | None = None
        felt = ""
        async for event in companion.turn(user, text):
            if isinstance(event, Done):
                done = event
            elif isinstance(event, AffectRead) and event.emotions != ("neutral",):
                felt = ", ".join(event.emotions)
        assert done is not None, f"turn {number} produced no reply"
        stats = done.stats
        gen_s = stats.total_s - (stats.first_token_s or 0.0)
        turns.append({
            "turn": number,
            "ttft_s": round(stats.first_token_s or float("nan"), 3),
            "reply_tokens": stats.reply_tokens,
            "tokens_per_s": round(stats.reply_tokens / gen_s, 2) if gen_s > 0 else None,
            "felt": felt,
        })
        print(f"turn {number:2d}: first token {stats.first_token_s:.2f} s, "
              f"{stats.reply_tokens} tokens {felt}", file=sys.stderr, flush=True)
    await companion.memory.aclose()
    await model.aclose()
    store.close()

    later = [t["ttft_s"] for t in turns[1:]]
    speeds = [t["tokens_per_s"] for t in turns if t["tokens_per_s"]]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "model": model_file.name if model_file else settings.llm_url,
        "threads": f"{settings.threads} (generation) / {settings.batch_threads} (prompt)",
        "load_s": round(load_s, 2),
        "warm_without_snapshot_s": round(cold_warm_s, 2),
        "warm_with_snapshot_s": round(snapshot_warm_s, 2),
        "ttft_turn1_s": turns[0]["ttft_s"],
        "ttft_turn10_s": turns[9]["ttft_s"] if len(turns) >= 10 else None,
        "ttft_later_p50_s": round(statistics.median(later), 3) if later else None,
        "ttft_later_max_s": round(max(later), 3) if later else None,
        "tokens_per_s_p50": round(statistics.median(speeds), 2) if speeds else None,
        "peak_rss_mb": round(peak_rss_mb()),
        "history_turns": settings.history_turns,
        "pause_s": args.pause,
        "turns": turns,
    }


def markdown(result: dict[str, Any], command: str) -> str:
    lines = [
        f"### Chat latency — {result['model']}",
        "",
        f"- Date: {result['date']}",
        f"- Machine: {result['machine']}",
        f"- Threads: {result['threads']}",
        f"- Between turns: {result['pause_s']} s pause (the person reads and types); "
        f"history window {result['history_turns']} exchanges",
        f"- Command: `{command}`",
        "",
        "| measure | value |",
        "|---|---|",
        f"| model load | {result['load_s']} s |",
        f"| first warm-up (reads the persona, then saves its KV snapshot) | "
        f"{result['warm_without_snapshot_s']} s |",
        f"| warm-up from the snapshot (every later start) | {result['warm_with_snapshot_s']} s |",
        f"| time to first token, turn 1 | {result['ttft_turn1_s']} s |",
        f"| time to first token, turn 10 | {result['ttft_turn10_s']} s |",
        f"| time to first token, turns 2–{len(result['turns'])}: median / max | "
        f"{result['ttft_later_p50_s']} s / {result['ttft_later_max_s']} s |",
        f"| generation speed (median) | {result['tokens_per_s_p50']} tokens/s |",
        f"| peak resident memory | {result['peak_rss_mb']} MB |",
        "",
        "Per turn (time to first token in seconds): "
        + ", ".join(f"{t['turn']}: {t['ttft_s']}" for t in result["turns"]),
        "",
        "Turns where a feeling was read (an unpleasant one puts the affect note in the prompt): "
        + (", ".join(f"{t['turn']} ({t['felt']})" for t in result["turns"] if t.get("felt"))
           or "none"),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="default, fast, or a .gguf path")
    parser.add_argument("--turns", type=int, default=20, help=f"turns (at most {len(SCRIPT)})")
    parser.add_argument("--reply-tokens", type=int, default=64, help="longest reply per turn")
    parser.add_argument("--threads", type=int, default=0, help="generation threads (0: setting)")
    parser.add_argument("--pause", type=float, default=3.0,
                        help="seconds between a reply and the next message (reading, typing)")
    parser.add_argument("--write", type=Path, help="update this Markdown file")
    parser.add_argument("--json", action="store_true", help="print only JSON")
    args = parser.parse_args()
    if not 10 <= args.turns <= len(SCRIPT):
        parser.error(f"--turns must be between 10 and {len(SCRIPT)}")
    result = asyncio.run(run(args))
    command = "python bench/chat_latency.py " + " ".join(sys.argv[1:])
    text = markdown(result, command.strip())
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(text)
        print(json.dumps({k: v for k, v in result.items() if k != "turns"}, indent=2))
    if args.write:
        write_section(args.write, "chat_latency", f"{Path(str(result['model'])).stem}", text)


if __name__ == "__main__":
    main()
