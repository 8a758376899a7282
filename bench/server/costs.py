"""What each per-turn check costs the server in CPU, measured one at a time in this process.

    OPENBLAS_NUM_THREADS=1 python bench/server/costs.py

CPU time of this process (time.process_time: helper threads count too), not wall time: on a
shared machine other work stretches wall time, but a check's own CPU cost is what limits turns
per second per core.
Median of ``--repeat`` calls on a warm model, over varied messages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from os1.affect.engine import AffectEngine
from os1.app import open_memory
from os1.config import Settings
from os1.safety.crisis import CrisisDetector
from os1.store.base import NewTurn
from os1.store.sqlite import SQLiteStore

MESSAGES = ("I had a long day at work and I'm tired.", "Tell me something kind.",
            "My sister called me today and we argued about our mother again.",
            "I can't decide what to cook tonight.", "I went for a walk by the river.",
            "Work was stressful again, my manager keeps moving the deadline.")


def cpu_ms(work: Callable[[int], object], repeat: int) -> float:
    work(0)  # warm
    samples = []
    for i in range(repeat):
        start = time.process_time()
        work(i)
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


def crisis_batch(crisis: CrisisDetector, texts: list[str]) -> None:
    """Four messages that arrive together: one thread each, as the server's thread pool runs
    them; the check puts the ones that wait into one forward pass."""
    threads = [threading.Thread(target=crisis.read, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def measure(repeat: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="os1-costs-"))
    settings = Settings(data_dir=folder)
    store = SQLiteStore(settings.database_path)
    engine = open_memory(settings, store)
    user = store.user("bench")
    conversation = store.current_conversation(user)
    now = datetime.now().astimezone()
    for text in MESSAGES * 5:  # some memories to recall from
        turn = store.add_turn(user, NewTurn(conversation.id, "user", text, "", "complete", now))
        engine.remember_turn(user, turn, "bench", extract=False)
    crisis = CrisisDetector(lambda: engine.embedder)
    affect = AffectEngine(store, lambda: engine.embedder)
    text = lambda i: MESSAGES[i % len(MESSAGES)] + f" ({i})"  # noqa: E731
    costs = {
        "crisis check (always on)": cpu_ms(lambda i: crisis.read(text(i)), repeat),
        "recall (memory on)": cpu_ms(lambda i: engine.recall(user, text(i), 3, now), repeat),
        "feeling read (affect on)": cpu_ms(lambda i: affect.reader.read(text(i)), repeat),
        "crisis check + feeling read of one message (they share layers)": cpu_ms(
            lambda i: (crisis.read(text(i) + "!"), affect.reader.read(text(i) + "!")), repeat),
        "crisis check + feeling read + recall of one message (recall goes on from their "
        "layers)": cpu_ms(
            lambda i: (crisis.read(text(i) + "?"), affect.reader.read(text(i) + "?"),
                       engine.recall(user, text(i) + "?", 3, now)), repeat),
        "crisis check, 4 messages arriving together (4 threads), per message": cpu_ms(
            lambda i: crisis_batch(crisis, [text(i + j) + "#" for j in range(4)]), repeat) / 4,
        "episode write, one turn (memory on; twice a turn)": cpu_ms(
            lambda i: engine.embed_query(text(i)), repeat),
    }
    engine.close()
    store.close()
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    for name, ms in measure(args.repeat).items():
        print(f"{name}: {ms:.1f} ms CPU")


if __name__ == "__main__":
    main()
