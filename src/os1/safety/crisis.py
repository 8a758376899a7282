"""Is this message a crisis? The first pass (cues) and the careful check, on every turn.

It does not rely on the emotion reader: that one can be switched off (consent), and
sadness is not danger. It reads the raw words, in any language it has cues for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from os1.affect.language import traits_of
from os1.memory.embedder import Embedder
from os1.safety.classifier import CrisisClassifier, Scores
from os1.safety.cues import Cues, find_cues

MAX_BATCH = 16


@dataclass(frozen=True)
class CrisisRead:
    risk: bool
    kind: str  # suicide, self_harm, abuse, medical; "" when there is no risk
    score: float  # the careful check's chance of risk; 1.0 for a cue in another language
    english: bool  # False: read by cues only (the sentence model reads English)

    @property
    def summary(self) -> str:
        """What the user's safety log says about this message (no quote of it)."""
        language = "" if self.english else ", not in English"
        return f"{self.kind.replace('_', '-')} risk (score {self.score:.2f}{language})"


NO_RISK = CrisisRead(False, "", 0.0, True)


class CrisisDetector:
    def __init__(self, embedder: Callable[[], Embedder]) -> None:
        """``embedder`` gives the shared sentence model, loaded on first use."""
        self._embedder = embedder
        self._loaded: CrisisClassifier | None = None
        self._lock = threading.Lock()
        self._batches = _Batches(lambda items: self._classifier.scores_many(items))

    @property
    def _classifier(self) -> CrisisClassifier:
        with self._lock:  # a draft and a turn may be the first to ask, at once
            if self._loaded is None:
                self._loaded = CrisisClassifier(self._embedder())
            return self._loaded

    def read(self, text: str) -> CrisisRead:
        cues = find_cues(text)
        traits = traits_of(text)
        if traits.unknown == "no words":
            return NO_RISK
        # Another language (the language check needs a few words to say so; a cue found only
        # among the other languages' phrases says it too): its cues decide, and os1 answers
        # with care.
        if traits.unknown or (cues.other and not cues.english):
            if cues.other:
                return CrisisRead(True, cues.other[0], 1.0, False)
            return CrisisRead(False, "", 0.0, False)
        scores = self._batches.score(traits.readable, cues)
        if scores.risk >= self._classifier.threshold:
            return CrisisRead(True, scores.kind, round(scores.risk, 3), True)
        if cues.outright:  # named outright, and nothing says it is a figure of speech
            return CrisisRead(True, cues.outright, round(scores.risk, 3), True)
        return CrisisRead(False, "", round(scores.risk, 3), True)


class _Job:
    def __init__(self, text: str, cues: Cues) -> None:
        self.text, self.cues = text, cues
        self.scores: Scores | None = None
        self.error: BaseException | None = None


class _Batches:
    """Messages that arrive while a check runs wait for it, then go through together in one
    forward pass. No timer: one message alone is checked at once, as before; under load (a
    server with many turns starting) the waiting ones share a pass, which costs far less
    than one pass each. Each caller gets its own message's scores."""

    def __init__(self, run: Callable[[list[tuple[str, Cues]]], list[Scores]]) -> None:
        self._run = run
        self._pending: list[_Job] = []
        self._pending_lock = threading.Lock()
        self._running = threading.Lock()

    def score(self, text: str, cues: Cues) -> Scores:
        job = _Job(text, cues)
        with self._pending_lock:
            self._pending.append(job)
        with self._running:
            while job.scores is None and job.error is None:
                with self._pending_lock:
                    batch = self._pending[:MAX_BATCH]
                    del self._pending[:MAX_BATCH]
                try:
                    for each, scores in zip(batch, self._run([(j.text, j.cues) for j in batch]),
                                            strict=True):
                        each.scores = scores
                except BaseException as error:  # each caller falls back to its cues (guard.py)
                    for each in batch:  # every job taken ends with scores or an error
                        each.error = error
                    if not isinstance(error, Exception):
                        raise
        if job.error is not None:
            raise job.error
        assert job.scores is not None
        return job.scores
