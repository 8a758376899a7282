"""Nearest-neighbour search over one user's memory vectors (faiss).

The vectors' home is the database (``memory_vectors``); this index is a cache built from it and
saved beside it so a start does not rebuild it. A stamp (count and id sums of the user's vectors)
tells a saved index it is stale. Exact search up to ``EXACT_LIMIT`` vectors (a few ms); above
that an inverted-file index that probes the nearest clusters only (measured in bench/memory).
Removing from either kind of index drops the vector's bytes (faiss compacts its lists), and the
saved file is rewritten after every forget.

On PostgreSQL there is no cache: `DatabaseVectorIndex` asks the database (pgvector) on every
search, so several API processes all see a new memory at once and none keeps a copy on disk.
The same policy holds there: exact up to ``EXACT_LIMIT`` of the user's vectors, the HNSW index
above.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from os1.memory.embedder import DIMENSIONS, Vectors
from os1.memory.store import MemoryStore
from os1.store.base import User

log = logging.getLogger(__name__)

EXACT_LIMIT = 20_000
_PROBES = 64

Stamp = tuple[int, int, int]


class VectorIndex:
    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def empty(cls, expected: int = 0) -> VectorIndex:
        if expected <= EXACT_LIMIT:
            return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSIONS)))
        lists = int(min(4096, max(64, 4 * math.sqrt(expected))))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIMENSIONS), DIMENSIONS, lists,
                                 faiss.METRIC_INNER_PRODUCT)
        ivf.nprobe = _PROBES
        return cls(ivf)

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def exact(self) -> bool:
        return not isinstance(self._index, faiss.IndexIVF)

    def train(self, sample: Vectors) -> None:
        if not self._index.is_trained:
            self._index.train(np.ascontiguousarray(sample, dtype=np.float32))

    def add(self, ids: list[int], vectors: Vectors) -> None:
        if ids:
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))  # type: ignore[arg-type]

    def search(self, query: Vectors, k: int) -> list[tuple[int, float]]:
        if self.size == 0 or k <= 0:
            return []
        scores, ids = self._index.search(
            np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1), min(k, self.size))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def save(self, path: Path, stamp: Stamp) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        faiss.write_index(self._index, str(partial))
        os.replace(partial, path)
        path.with_suffix(".json").write_text(json.dumps({"stamp": list(stamp)}))

    @classmethod
    def load(cls, path: Path, stamp: Stamp) -> VectorIndex | None:
        try:
            saved = json.loads(path.with_suffix(".json").read_text())
            if tuple(saved["stamp"]) != stamp:
                return None
            return cls(faiss.read_index(str(path)))
        except (OSError, ValueError, KeyError, RuntimeError):
            return None  # missing, stale or damaged: rebuild from the database


class DatabaseVectorIndex(VectorIndex):
    """A user's vectors searched where they live (PostgreSQL + pgvector). Adding and removing
    are the database's writes themselves, so both are nothing here; saving too."""

    def __init__(self, store: MemoryStore, user: User) -> None:
        super().__init__(faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSIONS)))  # never filled
        self._store = store
        self._user = user

    @property
    def size(self) -> int:
        return self._store.vector_stamp(self._user)[0]

    @property
    def exact(self) -> bool:
        return self.size <= EXACT_LIMIT

    def train(self, sample: Vectors) -> None:
        pass

    def add(self, ids: list[int], vectors: Vectors) -> None:
        pass

    def remove(self, ids: list[int]) -> None:
        pass

    def search(self, query: Vectors, k: int) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        return self._store.nearest(self._user, query, k, exact_up_to=EXACT_LIMIT)

    def save(self, path: Path, stamp: Stamp) -> None:
        pass


def index_path(directory: Path, user: User) -> Path:
    return directory / f"vectors-{user.id}.faiss"


def build_index(
    store: MemoryStore,
    user: User,
    reembed: Callable[[list[int]], None],
    progress: Callable[[int, int], None] | None = None,
) -> VectorIndex:
    """Build a user's index from the database. Damaged vector blobs are re-embedded from their
    record's text (``reembed``) and read again. On PostgreSQL: the database is the index."""
    if store.vectors_in_database:
        return DatabaseVectorIndex(store, user)
    total = store.vector_stamp(user)[0]
    index = VectorIndex.empty(total)
    if not index.exact:
        # Train on an evenly spread sample: the first batch alone may be one old topic.
        sample_ids = set(np.linspace(0, total - 1, num=min(total, 40_000), dtype=int).tolist())
        seen, sample = 0, []
        for _ids, matrix, _damaged in store.vectors(user):
            rows = [i for i in range(len(matrix)) if seen + i in sample_ids]
            sample.append(matrix[rows])
            seen += len(matrix)
        index.train(np.concatenate(sample))
    done = 0
    damaged_all: list[int] = []
    for ids, matrix, damaged in store.vectors(user):
        index.add(ids, matrix)
        damaged_all.extend(damaged)
        done += len(ids) + len(damaged)
        if progress:
            progress(done, total)
    if damaged_all:
        log.warning("re-embedding %d memory vector(s) that were damaged", len(damaged_all))
        reembed(damaged_all)
        for chunk_start in range(0, len(damaged_all), 1000):
            chunk = damaged_all[chunk_start : chunk_start + 1000]
            for ids, matrix, _ in store.vectors(user, after=min(chunk) - 1):
                keep = [row for row, found in enumerate(ids) if found in chunk]
                index.add([ids[i] for i in keep], matrix[keep])
                if ids and ids[-1] >= max(chunk):
                    break
    return index
