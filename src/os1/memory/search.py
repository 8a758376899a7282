"""Hybrid recall over one user's memories.

    query ─► keywords (BM25 over FTS5)  ─┐
          └► vector (MiniLM, faiss)      ─┴► reciprocal-rank fusion ─► neighbour spreading
                                              ─► time / importance / recency ─► top k (+ context)

Why each step (numbers in docs/benchmarks.md, LoCoMo section):
- Keywords and vectors fail differently (names and rare words vs paraphrase), so both are asked
  for a deep candidate list and fused by rank, which needs no score calibration between them.
- In conversation the answer often sits next to the turn that matches the question ("Guess what
  happened at work?" → the next turn says what), so each episode passes a share of its score to
  the episodes around it.
- A time the query names ("last summer", "in May") lifts memories from that span; importance and
  recency only break near-ties, so old but relevant memories still win.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from os1.memory.embedder import Vectors
from os1.memory.query import fts_query, keywords, time_window
from os1.memory.records import Memory, Recalled
from os1.memory.store import MemoryStore
from os1.memory.vectors import VectorIndex
from os1.store.base import User


@dataclass(frozen=True)
class RecallTuning:
    depth: int = 100  # candidates asked of each retriever
    rrf_k: float = 60.0
    keyword_weight: float = 1.0
    vector_weight: float = 1.0
    neighbour_share: float = 0.25  # of an episode's score passed to each adjacent episode
    neighbour_reach: int = 1
    time_boost: float = 0.5  # relative lift for a memory inside a time the query names
    importance_weight: float = 0.1
    recency_weight: float = 0.05
    recency_half_life_days: float = 90.0
    context_turns: int = 1  # neighbouring turns attached to each recalled episode


@dataclass(frozen=True)
class RecallResult:
    hits: list[Recalled]
    keyword_ms: float
    vector_ms: float
    total_ms: float


class Retriever:
    def __init__(
        self,
        store: MemoryStore,
        index_for: Callable[[User], VectorIndex],
        embed_query: Callable[[str], Vectors],
        tuning: RecallTuning | None = None,
    ) -> None:
        self._store = store
        self._index_for = index_for
        self._embed_query = embed_query
        self.tuning = tuning or RecallTuning()

    def search(self, user: User, query: str, k: int = 10, *, now: datetime,
               with_context: bool = True) -> RecallResult:
        tuning = self.tuning
        started = time.perf_counter()
        words = keywords(query)
        keyword_hits = (self._store.keyword_search(user, fts_query(words), tuning.depth)
                        if words else [])
        keyword_done = time.perf_counter()
        vector_hits: list[tuple[int, float]] = []
        if query.strip():
            vector_hits = self._index_for(user).search(self._embed_query(query), tuning.depth)
        vector_done = time.perf_counter()

        scores: dict[int, float] = {}
        for weight, ranking in ((tuning.keyword_weight, keyword_hits),
                                (tuning.vector_weight, vector_hits)):
            for rank, (memory_id, _score) in enumerate(ranking):
                scores[memory_id] = scores.get(memory_id, 0.0) + weight / (tuning.rrf_k + rank + 1)
        if not scores:
            return RecallResult([], 0.0, 0.0, 0.0)
        memories = self._store.many(user, list(scores))
        scores = self._spread(user, scores, memories)
        window = time_window(query, now)
        newest = max((m.created_at for m in memories.values()), default=now)
        ranked: list[tuple[float, int]] = []
        for memory_id, score in scores.items():
            memory = memories.get(memory_id)
            if memory is None or not memory.current:
                continue
            lift = 1.0 + tuning.importance_weight * (memory.importance - 0.5)
            age_days = max(0.0, (newest - memory.created_at).total_seconds() / 86400)
            lift += tuning.recency_weight * math.exp(-age_days / tuning.recency_half_life_days)
            moment = memory.occurred_at or memory.created_at
            if window is not None and window.contains(moment):
                lift += tuning.time_boost
            ranked.append((score * lift, memory_id))
        ranked.sort(reverse=True)
        hits: list[Recalled] = []
        for score, memory_id in ranked[:k]:
            memory = memories[memory_id]
            context: tuple[Memory, ...] = ()
            if with_context and tuning.context_turns and memory.kind == "episode":
                context = tuple(self._store.neighbours(user, memory, tuning.context_turns,
                                                       tuning.context_turns))
            hits.append(Recalled(memory, score, context))
        done = time.perf_counter()
        return RecallResult(hits, (keyword_done - started) * 1000,
                            (vector_done - keyword_done) * 1000, (done - started) * 1000)

    def _spread(self, user: User, scores: dict[int, float],
                memories: dict[int, Memory]) -> dict[int, float]:
        """Each episode passes a share of its score to the episodes said around it."""
        tuning = self.tuning
        if tuning.neighbour_share <= 0:
            return scores
        spread = dict(scores)
        for memory_id, score in scores.items():
            memory = memories.get(memory_id)
            if memory is None or memory.kind != "episode":
                continue
            for neighbour in self._store.neighbours(user, memory, tuning.neighbour_reach,
                                                    tuning.neighbour_reach):
                memories.setdefault(neighbour.id, neighbour)
                share = tuning.neighbour_share * score
                spread[neighbour.id] = spread.get(neighbour.id, 0.0) + share
        return spread
