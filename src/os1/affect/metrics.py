"""Scores for the affect benchmarks: F1 per label, macro-F1, and label decisions by threshold."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]


def f1(truth: Matrix, guess: Matrix) -> float:
    tp = float((truth * guess).sum())
    fp = float(((1 - truth) * guess).sum())
    fn = float((truth * (1 - guess)).sum())
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def decide(probs: Matrix, thresholds: Matrix) -> Matrix:
    """Labels over their threshold; a row with none gets its most likely label (never empty:
    every GoEmotions comment has at least one label, "neutral" included)."""
    guess = (probs >= thresholds).astype(np.float32)
    empty = guess.sum(axis=1) == 0
    guess[empty, probs[empty].argmax(axis=1)] = 1.0
    return guess


def macro_f1(truth: Matrix, guess: Matrix) -> float:
    return float(np.mean([f1(truth[:, j], guess[:, j]) for j in range(truth.shape[1])]))


def tune_thresholds(truth: Matrix, probs: Matrix) -> Matrix:
    """Per label, the threshold in 0.05–0.95 with the best F1 on the rows given."""
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    best = np.full(truth.shape[1], 0.5, dtype=np.float32)
    for j in range(truth.shape[1]):
        scores = [f1(truth[:, j], (probs[:, j] >= t).astype(np.float32)) for t in grid]
        best[j] = grid[int(np.argmax(scores))]
    return best


def class_macro_f1(truth: list[int] | NDArray[np.int64], guess: NDArray[np.int64],
                   classes: int) -> float:
    """Macro-F1 of single-label predictions over ``classes`` classes."""
    t = np.asarray(truth)
    return float(np.mean([f1((t == c).astype(np.float32), (guess == c).astype(np.float32))
                          for c in range(classes)]))
