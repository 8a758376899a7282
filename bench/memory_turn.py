"""What memory costs a turn, on the real model: first-token time with and without a recalled
memory in the prompt, and with fact extraction running in the background when the turn starts.

    python bench/memory_turn.py [--model default] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from os1.app import close_companion, open_companion
from os1.companion import Companion
from os1.config import load_settings
from os1.events import Done, MemoryUsed
from os1.store.base import User
from report import machine, write_section

EARLIER = [
    "My sister Maria is flying in from Madrid next month, I can't wait.",
    "I have a job interview at the bank on Friday and I'm nervous.",
    "I really hate mornings; coffee is the only thing that helps.",
]


async def _turn(companion: Companion, user: User, text: str) -> dict[str, Any]:
    await companion.new_conversation(user)
    events = [e async for e in companion.turn(user, text)]
    done = events[-1]
    assert isinstance(done, Done), events
    used = [e.text for e in events if isinstance(e, MemoryUsed)]
    return {"text": text, "first_token_s": round(done.stats.first_token_s or 0, 2),
            "memories": len(used)}


async def _collide(companion: Companion, user: User, text: str) -> dict[str, Any]:
    assert companion.memory is not None
    extraction = asyncio.create_task(companion.memory.extract_pending(user))
    await asyncio.sleep(3)
    extraction.cancel()  # what a new turn does first (MemoryWriter.turn_started)
    return await _turn(companion, user, text)


async def run(model: str) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="os1-bench-memory-"))
    settings = load_settings(overrides={"model": model, "data_dir": str(data_dir),
                                        "memory_idle_s": "3600", "seed": "7"}).settings
    now = [datetime.now().astimezone() - timedelta(days=3)]
    companion = await asyncio.to_thread(open_companion, settings, None, lambda: now[0])
    assert companion.memory is not None
    try:
        await companion.warm()
        user = companion.store.user("bench")
        for text in EARLIER:
            [e async for e in companion.turn(user, text)]
        await companion.memory.settle()
        now[0] += timedelta(days=3)
        plain = await _turn(companion, user, "Long day at work, I'm tired.")
        recalled = await _turn(companion, user, "I'm seeing my sister tonight.")
        # The idle job, started just before the user speaks: the turn cancels it. The first
        # extraction of a session reads the instructions; later ones find them cached.
        during = await _collide(companion, user, "Anyway, the interview is tomorrow.")
        await companion.memory.extract_pending(user, limit=2)
        [e async for e in companion.turn(user, "I'll tell you how it goes.")]
        later = await _collide(companion, user, "Ok, going to bed soon.")
        return {"model": companion.model.name, "machine": machine(), "no_memory_note": plain,
                "with_recalled_memory": recalled, "extraction_running_when_turn_began": during,
                "later_extraction_running_when_turn_began": later}
    finally:
        await close_companion(companion)


def section(result: dict[str, Any], command: str) -> str:
    rows = [("first turn of a new conversation", result["no_memory_note"]),
            ("first turn of another new conversation", result["with_recalled_memory"]),
            ("the session's first extraction under way when the turn began",
             result["extraction_running_when_turn_began"]),
            ("a later extraction under way when the turn began",
             result["later_extraction_running_when_turn_began"])]
    lines = ["### What memory costs a turn — measured", "",
             f"{datetime.now():%Y-%m-%d} · {result['machine']} · {result['model']} · `{command}`",
             "", "| turn | memories in the note | first token |", "|---|---|---|"]
    lines += [f"| {name} (\"{row['text']}\") | {row['memories']} | {row['first_token_s']} s |"
              for name, row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args.model))
    print(json.dumps(result, indent=2))
    if args.write:
        write_section(args.write, "memory", "turn",
                      section(result, "python bench/memory_turn.py --write docs/benchmarks.md"))


if __name__ == "__main__":
    main()
