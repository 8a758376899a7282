"""Memory at scale: one user with N synthetic memories — ingestion, query latency, RSS, size.

Every memory is an episode in a conversation of 40 turns (so all three keyword indexes are
filled, as for a real user). Texts are generated from word lists (each one distinct).
Vectors: a pool of real MiniLM embeddings of generated texts, reused with a little noise beyond
the pool — embedding a million texts on a 2-core CPU would take most of a day, and what this
measures is the store and the indexes, not the embedder (whose speed is reported separately).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from os1.memory.engine import MemoryEngine
from os1.memory.store import EpisodeRow
from os1.store.sqlite import SQLiteStore


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


_NAMES = _words("Maria Amy Catherine Paul Theodore Samantha Lewis Olivia Noah Priya Kenji "
                "Fatima Lucas "
          "Elena Marcus Sofia Omar Hannah Diego Grace Ivan Zoe Malik Chloe Ravi Nina Felix "
          "Leila Tom Ada")
_VERBS = _words("visited, called, cooked for, painted with, argued with, hiked with, baked for, "
          "texted, met, drove, helped, forgot, celebrated with, worried about, laughed with, "
          "planned with, wrote to, "
          "missed thanked", ", ")
_THINGS = _words("a birthday cake, the divorce papers, a new job offer, the garden, a concert, "
           "the old piano, a road trip, the hospital visit, a chess game, the wedding plans, "
           "a camping weekend, the apartment lease, a pottery class, the dog's surgery, "
           "a marathon, the tax forms, a book club, the moving boxes, a job interview, "
           "the first snow", ", ")
_PLACES = _words("Lisbon, the park, the office, grandma's house, the beach, Chicago, the gym, "
           "the cafe downstairs, the lake, the library, Tokyo, the farmers market, the clinic, "
           "the rooftop, the train station", ", ")
_FEELINGS = ("happy", "anxious", "tired", "proud", "sad", "relieved", "excited", "lonely",
             "grateful", "annoyed")
_POOL = 1_000
_TURNS_PER_CONVERSATION = 40  # so the window indexes are as full as a real user's
_NOISE = 0.03


def synthetic_text(rng: random.Random) -> str:
    return (f"{rng.choice(_NAMES)} and I {rng.choice(_VERBS)} {rng.choice(_NAMES)} about "
            f"{rng.choice(_THINGS)} at {rng.choice(_PLACES)}; I felt {rng.choice(_FEELINGS)} "
            f"and {rng.choice(_FEELINGS)}.")


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_scale(size: int, *, queries: int = 200, batch: int = 5_000,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    say = progress or (lambda _text: None)
    rng = random.Random(size)
    noise = np.random.default_rng(size)
    with tempfile.TemporaryDirectory(prefix="os1-scale-") as scratch:
        store = SQLiteStore(Path(scratch) / "os1.sqlite3")
        engine = MemoryEngine(store, Path(scratch) / "memory")
        user = store.user("scale")
        pool_texts = [synthetic_text(rng) for _ in range(min(_POOL, size))]
        started = time.perf_counter()
        pool = engine.embed(pool_texts)
        embed_rate = len(pool_texts) / (time.perf_counter() - started)
        say(f"{size:,}: embedded a pool of {len(pool_texts)} texts at {embed_rate:.0f}/s")
        base = datetime(2024, 1, 1, tzinfo=UTC)
        started = time.perf_counter()
        written = 0
        while written < size:
            count = min(batch, size - written)
            texts = [pool_texts[written + i] if written + i < len(pool_texts)
                     else synthetic_text(rng) for i in range(count)]
            vectors = pool[(np.arange(written, written + count)) % len(pool)].copy()
            extra = np.arange(written, written + count) >= len(pool)
            if extra.any():
                vectors[extra] += noise.normal(0, _NOISE, (int(extra.sum()), vectors.shape[1]))
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            rows = []
            for i, text in enumerate(texts):
                if (written + i) % _TURNS_PER_CONVERSATION == 0:
                    conversation = store.new_conversation(user)
                rows.append(EpisodeRow(text, "me" if i % 2 == 0 else "os1",
                                       base + timedelta(minutes=written + i), conversation.id))
            engine.store.add_episodes(user, rows, vectors.astype(np.float32))
            written += count
            if written % (batch * 20) == 0 or written == size:
                rate = written / (time.perf_counter() - started)
                say(f"{size:,}: stored {written:,} ({rate:,.0f}/s)")
        store_s = time.perf_counter() - started
        started = time.perf_counter()
        index = engine.index(user)
        index_s = time.perf_counter() - started
        say(f"{size:,}: vector index ({'exact' if index.exact else 'IVF'}) built in "
            f"{index_s:.1f} s")
        now = base + timedelta(minutes=size + 1)
        asks = [synthetic_text(rng).split(";")[0] for _ in range(queries)]
        total, keyword, vector = [], [], []
        for ask in asks:
            result = engine.recall(user, ask, 10, now)
            total.append(result.total_ms)
            keyword.append(result.keyword_ms)
            vector.append(result.vector_ms)
        db_bytes = sum(p.stat().st_size for p in Path(scratch).glob("os1.sqlite3*"))
        rss = _rss_mb()
        engine.close()
        store.close()
    total.sort()
    return {
        "records": size,
        "ingest_per_s": round(size / store_s, 1),
        "embed_texts_per_s": round(embed_rate, 1),
        "index_build_s": round(index_s, 1),
        "vector_index": "exact" if index.exact else "ivf",
        "query_p50_ms": round(statistics.median(total), 1),
        "query_p95_ms": round(total[int(0.95 * (len(total) - 1))], 1),
        "keyword_p95_ms": round(sorted(keyword)[int(0.95 * (len(keyword) - 1))], 1),
        "vector_p95_ms": round(
            sorted(vector)[int(0.95 * (len(vector) - 1))], 1),
        "rss_mb": round(rss),
        "db_mb": round(db_bytes / 2**20, 1),
    }
