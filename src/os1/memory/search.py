"""Hybrid recall over one user's memories.

    query ─► keywords ─► BM25 on the record, on record+previous turn, on previous+record+next
          └► vector (MiniLM, faiss) ──────────────────────────────────────────────────────┐
    each list normalised (BM25 ÷ its best, cosine min-max) and summed ◄──────────────────┘
          ─► neighbour spreading ─► speaker named in the query ─► time / importance / recency

Why each step (measured on LoCoMo, docs/benchmarks.md; constants chosen on conversations 0–2 and
checked unchanged on 3–5):
- Keywords and vectors fail differently (names and rare words vs paraphrase). Summing their
  normalised scores beat reciprocal-rank fusion by ~0.10 recall@10: rank fusion lets a weak
  list's top ranks count as much as a strong list's.
- In conversation the answer often only makes sense with the turn before it ("Guess what happened
  at work?" → the next turn says what): the window indexes add +0.04, and each episode passing a
  fifth of its score to the turns beside it adds a little more.
- Speakers' names are dropped from the keywords (every turn of theirs carries the name) and,
  when the query names exactly one speaker, that speaker's turns count double (+0.03).
- A time the query names ("last summer", "in May") lifts memories from that span; importance and
  recency only break near-ties, so an old but relevant memory still wins.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from os1.memory.embedder import Vectors
from os1.memory.query import STOP_WORDS, keywords, time_window
from os1.memory.records import Memory, Recalled
from os1.memory.store import KEYWORD_TABLES, KeywordTable, MemoryStore, RankFacts
from os1.memory.vectors import VectorIndex
from os1.store.base import User


@dataclass(frozen=True)
class RecallTuning:
    depth: int = 100  # candidates asked of each list
    # Keyword search costs ~3 µs for every index row its words match (FTS5 scores them all
    # before sorting). Past this many rows the plan sheds the commonest words, then the
    # window indexes, then falls back to the newest matches (see `_keyword_plan`).
    keyword_budget: int = 6_000
    keyword_weight: float = 1.0  # per keyword table
    vector_weight: float = 1.0
    neighbour_share: float = 0.2  # of an episode's score added to each adjacent episode
    speaker_boost: float = 2.0
    time_boost: float = 0.5  # relative lift for a memory inside a time the query names
    importance_weight: float = 0.1
    recency_weight: float = 0.05
    recency_half_life_days: float = 90.0
    context_turns: int = 1  # neighbouring turns attached to each recalled episode
    feedback_memories: int = 5  # pseudo-relevance feedback: the top memories read again
    feedback_words: int = 5  # … the words taken from them
    feedback_weight: float = 0.3  # … and the weight of what those words find


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
        self._speakers: dict[int, set[str]] = {}
        self._lock = threading.Lock()
        self.tuning = tuning or RecallTuning()
        # The query's embedding (the slowest step, ~20 ms) runs beside the keyword search:
        # NumPy and SQLite both release the GIL, so on two cores the two overlap.
        self._embedding = ThreadPoolExecutor(max_workers=1, thread_name_prefix="os1-embed")

    def speaker_added(self, user: User, speaker: str) -> None:
        with self._lock:
            if speaker and user.id in self._speakers:
                self._speakers[user.id].add(speaker)

    def forget_cached(self, user: User) -> None:
        """After a forget: who speaks in this user's memories is read again."""
        with self._lock:
            self._speakers.pop(user.id, None)

    def _speakers_of(self, user: User) -> set[str]:
        with self._lock:
            if user.id not in self._speakers:
                self._speakers[user.id] = self._store.speakers(user)
            return set(self._speakers[user.id])  # a copy: writers add from other threads

    def close(self) -> None:
        self._embedding.shutdown(wait=True)

    def search(self, user: User, query: str, k: int = 10, *, now: datetime,
               with_context: bool = False) -> RecallResult:
        tuning = self.tuning
        started = time.perf_counter()
        vector = self._embedding.submit(self._embed_query, query) if query.strip() else None
        speakers = self._speakers_of(user)
        # Speakers are named by their content words ("me" is no name to search for).
        query_words = keywords(query)
        names = {w for s in speakers for w in keywords(s)}
        named = [s for s in speakers if (first := keywords(s)) and first[0] in query_words]
        words = [w for w in query_words if w not in names]

        scores, complete = self._keyword_scores(user, words)
        keyword_done = time.perf_counter()
        query_vector = vector.result() if vector is not None else None
        if query_vector is not None:
            hits = self._index_for(user).search(query_vector, tuning.depth)
            _add_normalised(scores, hits, tuning.vector_weight, min_max=True)
        vector_done = time.perf_counter()
        if not scores:
            return RecallResult([], 0.0, 0.0, 0.0)

        boosted = named[0] if len(named) == 1 else None
        facts: dict[int, RankFacts] = {}
        scores = self._settle(user, scores, facts, boosted)
        # Feedback is a second keyword round: worth it where the first one was cheap, skipped
        # where the first had to shed words or indexes to stay in budget (a very large memory).
        # With only a handful of candidates there is nothing to tell apart: skip it then too.
        if (tuning.feedback_weight > 0 and complete
                and len(scores) > 4 * tuning.feedback_memories):
            # Pseudo-relevance feedback: the best hits' own distinctive words, searched again.
            best = sorted(scores, key=lambda i: (-scores[i], i))[: tuning.feedback_memories]
            fetched = self._store.many(user, best)
            expansion = self._feedback_words([fetched[i] for i in best if i in fetched],
                                             set(words) | names)
            extra = self._settle(user, self._keyword_scores(user, expansion)[0], facts, boosted)
            for memory_id, score in extra.items():
                scores[memory_id] = scores.get(memory_id, 0.0) + tuning.feedback_weight * score
        window = time_window(query, now)
        newest = max((f.created_at for f in facts.values()), default=now)
        ranked: list[tuple[float, int]] = []
        for memory_id, score in scores.items():
            fact = facts.get(memory_id)
            if fact is None or not fact.current:
                continue
            lift = 1.0 + tuning.importance_weight * (fact.importance - 0.5)
            age_days = max(0.0, (newest - fact.created_at).total_seconds() / 86400)
            lift += tuning.recency_weight * math.exp(-age_days / tuning.recency_half_life_days)
            if window is not None and window.contains(fact.moment):
                lift += tuning.time_boost
            ranked.append((score * lift, memory_id))
        ranked.sort(key=lambda pair: (-pair[0], pair[1]))
        top = [memory_id for _, memory_id in ranked[:k]]
        memories = self._store.many(user, top)
        stored = {} if query_vector is None else self._store.vectors_of(user, top)
        found: list[Recalled] = []
        for score, memory_id in ranked[:k]:
            memory = memories[memory_id]
            context: tuple[Memory, ...] = ()
            if with_context and tuning.context_turns and memory.kind == "episode":
                context = tuple(self._store.neighbours(user, memory, tuning.context_turns,
                                                       tuning.context_turns))
            similarity = (float(stored[memory_id] @ query_vector)
                          if query_vector is not None and memory_id in stored else None)
            found.append(Recalled(memory, score, context, similarity))
        done = time.perf_counter()
        return RecallResult(found, (keyword_done - started) * 1000,
                            (vector_done - keyword_done) * 1000, (done - started) * 1000)

    def _keyword_scores(self, user: User, words: list[str]) -> tuple[dict[int, float], bool]:
        """BM25 scores, and whether every word was searched in every index."""
        scores: dict[int, float] = {}
        plan = self._keyword_plan(words)
        for table, chosen, newest_first in plan:
            hits = self._store.keyword_search(user, chosen, self.tuning.depth, table,
                                              newest_first=newest_first)
            _add_normalised(scores, hits, self.tuning.keyword_weight, min_max=False)
        complete = len(plan) == len(KEYWORD_TABLES) and all(
            len(chosen) == len(words) and not newest for _, chosen, newest in plan)
        return scores, complete

    def _settle(self, user: User, scores: dict[int, float], facts: dict[int, RankFacts],
                boosted: str | None) -> dict[int, float]:
        """Spread to neighbours, fetch what ranking needs (into ``facts``), apply the speaker
        boost."""
        spread = self._spread(user, scores)
        missing = [i for i in spread if i not in facts]
        if missing:
            facts.update(self._store.rank_facts(user, missing))
        if boosted is None:
            return spread
        return {i: score * (self.tuning.speaker_boost
                            if i in facts and facts[i].speaker == boosted else 1.0)
                for i, score in spread.items()}

    def _feedback_words(self, top: list[Memory], known: set[str]) -> list[str]:
        """The words that best tell the top memories apart from all others (tf × idf)."""
        frequency: dict[str, int] = {}
        for memory in top:
            for word in _WORD_SPLIT.findall(memory.text.casefold()):
                if len(word) > 2 and word not in STOP_WORDS and word not in known:
                    frequency[word] = frequency.get(word, 0) + 1
        if not frequency:
            return []
        counts = self._store.term_counts(list(frequency))
        total = max(self._store.size(), 1)
        weight = {w: tf * math.log(total / max(counts[w], 1)) for w, tf in frequency.items()}
        return sorted(weight, key=lambda w: (-weight[w], w))[: self.tuning.feedback_words]

    def _keyword_plan(self, words: list[str]) -> list[tuple[KeywordTable, list[str], bool]]:
        """Which keyword indexes to ask, with which words, within the budget of matched rows.
        A small memory never hits the budget; a large one first drops its commonest words
        (they weigh least in BM25), then the window indexes (which match ~2× and ~3× the rows),
        and when even the rarest word is too common, takes that word's newest matches."""
        if not words:
            return []
        budget = self.tuning.keyword_budget
        counts = self._store.term_counts(words)
        kept = sorted(words, key=lambda w: counts[w])
        tables = list(KEYWORD_TABLES)

        def cost() -> int:
            return sum(counts[w] for w in kept) * sum(_WINDOW_COST[t] for t in tables)

        while cost() > budget and (len(kept) > 1 or len(tables) > 1):
            if len(kept) > 1:
                kept.pop()
            else:
                tables.pop()
        chosen = [w for w in words if w in kept]
        return [(table, chosen, cost() > budget) for table in tables]

    def _spread(self, user: User, scores: dict[int, float]) -> dict[int, float]:
        """Each episode adds a share of its score to the episodes said just before and after."""
        share = self.tuning.neighbour_share
        if share <= 0:
            return scores
        spread = dict(scores)
        for memory_id, (before, after) in self._store.adjacent(user, list(scores)).items():
            for neighbour in (before, after):
                if neighbour is not None:
                    spread[neighbour] = spread.get(neighbour, 0.0) + share * scores[memory_id]
        return spread


_WORD_SPLIT = re.compile(r"\w+")
_WINDOW_COST: dict[KeywordTable, int] = {"memory_fts": 1, "memory_back_fts": 2,
                                         "memory_around_fts": 3}


def _add_normalised(scores: dict[int, float], hits: list[tuple[int, float]], weight: float,
                    *, min_max: bool) -> None:
    """BM25 scores ÷ the best one; cosines min-max over the candidates (else a weak query's
    flat similarities would count as much as a strong one's)."""
    if not hits:
        return
    values = [score for _, score in hits]
    high, low = max(values), (min(values) if min_max else 0.0)
    span = high - low
    if span <= 0:
        span = high if high > 0 else 1.0
        low = 0.0
    for memory_id, score in hits:
        scores[memory_id] = scores.get(memory_id, 0.0) + weight * (score - low) / span
