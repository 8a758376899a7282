"""The crisis check in batches (a server under load): same scores as one message at a time,
and each caller gets its own message's read, never another user's."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from os1.memory.embedder import Embedder
from os1.safety.classifier import CrisisClassifier, Scores
from os1.safety.crisis import CrisisDetector, CrisisRead
from os1.safety.cues import Cues, find_cues

MESSAGES = [
    "I had a long day at work and I'm tired.",
    "Tell me something kind.",
    "I want to kill myself tonight, I have the pills ready.",
    "My sister called me today and we argued about our mother again, for hours.",
    "I keep cutting myself when it gets bad.",
    "This traffic is killing me lol",
    "He hits me when he drinks and I am scared to go home.",
    "ok",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.load()


@pytest.fixture(scope="module")
def classifier(embedder: Embedder) -> CrisisClassifier:
    return CrisisClassifier(embedder)


def _clear(embedder: Embedder) -> None:
    embedder._recent.clear()  # no cached lower states: each path computes its own


def test_batched_lower_states_equal_single_ones(embedder: Embedder) -> None:
    _clear(embedder)
    batched = embedder.lower_many(MESSAGES, 4, 128)
    for text, states in zip(MESSAGES, batched, strict=True):
        _clear(embedder)
        single = embedder.lower(text, 4, 128)
        assert states.shape == single.shape
        assert np.allclose(states, single, atol=1e-5)


def test_batched_scores_equal_single_ones(embedder: Embedder,
                                          classifier: CrisisClassifier) -> None:
    items: list[tuple[str, Cues]] = [(text, find_cues(text)) for text in MESSAGES]
    _clear(embedder)
    batched = classifier.scores_many(items)
    for (text, cues), scores in zip(items, batched, strict=True):
        _clear(embedder)
        single = classifier.scores(text, cues)
        assert abs(single.risk - scores.risk) < 1e-5, text
        if single.risk > 0.01:  # the likeliest kind is only meaningful with some risk
            assert single.kind == scores.kind, text
    assert batched[2].risk >= classifier.threshold  # the batch still finds the crisis
    assert batched[1].risk < classifier.threshold


def test_concurrent_reads_share_a_pass_and_each_gets_its_own(embedder: Embedder) -> None:
    detector = CrisisDetector(lambda: embedder)
    alone = {text: detector.read(text) for text in MESSAGES}
    batch_sizes: list[int] = []
    classifier = detector._classifier
    run = classifier.scores_many

    def counted(items: list[tuple[str, Cues]]) -> list[Scores]:
        batch_sizes.append(len(items))
        return run(items)

    classifier.scores_many = counted  # type: ignore[method-assign]
    _clear(embedder)
    results: dict[str, CrisisRead] = {}
    batches = detector._batches
    # Hold the check as if a pass were running, so every reader queues up behind it.
    with batches._running:
        threads = [threading.Thread(target=lambda t=text: results.__setitem__(
            t, detector.read(t))) for text in MESSAGES * 2]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(batches._pending) < len(threads) and time.monotonic() < deadline:
            time.sleep(0.01)
    for thread in threads:
        thread.join(60)
    assert max(batch_sizes) > 1  # they shared passes
    assert sum(batch_sizes) == len(threads)
    for text in MESSAGES:
        got, want = results[text], alone[text]
        assert (got.risk, got.kind, got.english) == (want.risk, want.kind, want.english), text
        assert abs(got.score - want.score) <= 1e-3, text


def test_a_failed_pass_fails_every_caller_in_it(embedder: Embedder) -> None:
    detector = CrisisDetector(lambda: embedder)

    def broken(items: list[tuple[str, Cues]]) -> list[Scores]:
        raise RuntimeError("weights damaged")

    detector._classifier.scores_many = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        detector.read("I had a long day at work.")
    assert not detector._batches._pending


def test_recall_embedding_goes_on_from_the_checks_lower_layers(embedder: Embedder) -> None:
    text = "My sister called me today and we argued about our mother again."
    _clear(embedder)
    fresh = embedder.embed_one(text)
    embedder.lower(text, 4, 128)  # what the crisis check leaves behind
    shared = embedder.embed_one(text)
    assert np.allclose(fresh, shared, atol=1e-5)
    assert np.allclose(embedder.embed([text])[0], shared, atol=1e-5)
