"""`os1 bench affect`: the shipped emotion reader and strategy chooser on public data.

Every text goes through the reader one at a time, as a chat message does, so ``ms_per_text`` is
the real per-message cost (tokenising, all six encoder layers, the heads) on this machine.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from os1.affect.datasets import goemotions_split, read_dailydialog, read_esconv, read_goemotions
from os1.affect.emotion import EmotionReader
from os1.affect.engine import AffectEngine
from os1.affect.errors import AffectError
from os1.affect.labels import DailyDialogLabels
from os1.affect.metrics import class_macro_f1, decide, macro_f1
from os1.affect.strategy import STRATEGIES, StrategyChooser, feature_vector
from os1.affect.timeline import MoodReading
from os1.memory.embedder import Embedder
from os1.store.sqlite import SQLiteStore

Progress = Callable[[str], None]


def _every(n: int, total: int) -> bool:
    return n % 500 == 0 or n == total


@dataclass(frozen=True)
class GoEmotionsScore:
    split: str
    texts: int
    macro_f1_28: float
    macro_f1_ekman: float
    macro_f1_sentiment: float
    ms_per_text: float
    p95_ms: float


def evaluate_goemotions(reader: EmotionReader, root: Path, progress: Progress) -> GoEmotionsScore:
    split = goemotions_split(root)
    data = read_goemotions(root, split)
    probs: dict[str, list[np.ndarray]] = {"original": [], "ekman": [], "group": []}
    times: list[float] = []
    for n, text in enumerate(data.texts, 1):
        start = time.perf_counter()
        heads = reader.probabilities(reader.pooled(text))
        times.append(time.perf_counter() - start)
        for name, value in heads.items():
            probs[name].append(value)
        if _every(n, len(data.texts)):
            progress(f"GoEmotions {split}: {n}/{len(data.texts)}")
    scores = {name: macro_f1(data.targets[name],
                             decide(np.stack(values), reader.thresholds(name)))
              for name, values in probs.items()}
    ms = np.array(times) * 1000
    return GoEmotionsScore(split, len(data.texts), scores["original"], scores["ekman"],
                           scores["group"], float(ms.mean()), float(np.percentile(ms, 95)))


@dataclass(frozen=True)
class DailyDialogScore:
    split: str  # "validation" tuned the chat gate: only "test" is a held-out score
    utterances: int
    macro_f1: float  # with the chat gate the reader uses in conversation
    macro_f1_reddit_thresholds: float  # with GoEmotions' thresholds alone: what the gate buys
    predicted_none: float
    actual_none: float


def evaluate_dailydialog(reader: EmotionReader, root: Path,
                         progress: Progress) -> DailyDialogScore:
    split = "test" if (root / "dialogues_test.txt").exists() else "validation"
    texts, truth = read_dailydialog(root, split)
    ekman = []
    for n, text in enumerate(texts, 1):
        ekman.append(reader.probabilities(reader.pooled(text))["ekman"])
        if _every(n, len(texts)):
            progress(f"DailyDialog {split}: {n}/{len(texts)}")
    matrix = np.stack(ekman)
    thresholds = reader.thresholds("ekman")
    chat = DailyDialogLabels.from_gate(matrix, thresholds, reader.gate)
    raw = DailyDialogLabels.from_ekman(matrix, thresholds, 0.0)
    return DailyDialogScore(split, len(texts), class_macro_f1(truth, chat, 7),
                            class_macro_f1(truth, raw, 7), float((chat == 0).mean()),
                            float((np.asarray(truth) == 0).mean()))


@dataclass(frozen=True)
class StrategyScore:
    turns: int
    majority_from: str  # "train", or "test" when no train.jsonl was given
    accuracy: float
    macro_f1: float
    majority_strategy: str
    majority_accuracy: float


def evaluate_esconv(reader: EmotionReader, chooser: StrategyChooser, root: Path,
                    progress: Progress) -> StrategyScore:
    test = read_esconv(root / "test.jsonl")
    if not test:
        raise AffectError(f"{root / 'test.jsonl'} holds no supporter turns.")
    # The majority-class baseline predicts train's commonest strategy (test's own if no train).
    has_train = (root / "train.jsonl").exists()
    reference = read_esconv(root / "train.jsonl") if has_train else test
    majority = Counter(t.strategy for t in reference).most_common(1)[0][0]
    truth, guess = [], []
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for n, turn in enumerate(test, 1):
        if turn.seeker_text not in cache:
            pooled = reader.pooled(turn.seeker_text)
            cache[turn.seeker_text] = (pooled, reader.probabilities(pooled)["original"])
        pooled, scores = cache[turn.seeker_text]
        choice = chooser.choose(feature_vector(pooled, scores, turn.previous, turn.turn_index,
                                               turn.seeker_text))
        truth.append(STRATEGIES.index(turn.strategy) if turn.strategy in STRATEGIES else -1)
        guess.append(STRATEGIES.index(choice.name))
        if _every(n, len(test)):
            progress(f"ESConv test: {n}/{len(test)}")
    t, g = np.asarray(truth), np.asarray(guess)
    return StrategyScore(len(test), "train" if has_train else "test", float((t == g).mean()),
                         class_macro_f1(t, g, len(STRATEGIES)), majority,
                         float((t == STRATEGIES.index(majority)).mean()))


def turn_cost(texts: list[str], progress: Progress) -> dict[str, float]:
    """What the whole affect step adds to a chat turn: the language check, the reader, the
    strategy chooser and the mood trend's query on a real SQLite file with a month of readings."""
    embedder = Embedder.load()
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "bench.sqlite3")
        try:
            engine = AffectEngine(store, lambda: embedder)
            user = store.user("bench")
            now = datetime.now().astimezone()
            for i in range(600):  # a month of chat, 20 messages a day
                engine.timeline.add(user, MoodReading(now - timedelta(hours=1.2 * i), 0.1,
                                                      0.4, 0.5, ("neutral",), "text"))
            engine.reader.read("warm")
            times = []
            for n, text in enumerate(texts, 1):
                start = time.perf_counter()
                engine.read_turn(user, text, previous="Question", turn_index=n % 9, now=now)
                times.append(time.perf_counter() - start)
            progress(f"affect step of a turn: {len(texts)} texts")
        finally:
            store.close()
    ms = np.array(times) * 1000
    return {"turn_ms_mean": round(float(ms.mean()), 2),
            "turn_ms_p95": round(float(np.percentile(ms, 95)), 2)}


def run_affect(goemotions: Path | None, dailydialog: Path | None, esconv: Path | None,
               progress: Progress) -> dict[str, Any]:
    reader = EmotionReader.load()
    result: dict[str, Any] = {}
    if goemotions is not None:
        score = evaluate_goemotions(reader, goemotions, progress)
        result.update({"split": score.split, "texts": score.texts,
                       "macro_f1_28": round(score.macro_f1_28, 4),
                       "macro_f1_ekman": round(score.macro_f1_ekman, 4),
                       "macro_f1_sentiment": round(score.macro_f1_sentiment, 4),
                       "ms_per_text": round(score.ms_per_text, 2),
                       "p95_ms_per_text": round(score.p95_ms, 2)})
        texts = read_goemotions(goemotions, score.split).texts
        result.update(turn_cost(texts[:: max(1, len(texts) // 300)][:300], progress))
    if dailydialog is not None:
        dd = evaluate_dailydialog(reader, dailydialog, progress)
        result["dailydialog"] = {k: round(v, 4) if isinstance(v, float) else v
                                 for k, v in dd.__dict__.items()}
    if esconv is not None:
        es = evaluate_esconv(reader, StrategyChooser(), esconv, progress)
        result["esconv"] = {k: round(v, 4) if isinstance(v, float) else v
                            for k, v in es.__dict__.items()}
    return result
