"""Trains os1's support-strategy chooser on ESConv: a softmax regression, in NumPy.

    make train-strategy ESCONV=../shared/data/esconv

Features (os1.affect.strategy.feature_vector): the emotion reader's pooled state and 28 label
scores for the seeker's latest words, the supporter's previous strategy, the turn position, and
whether the seeker asked a question. Regularisation is chosen on ESConv valid; test is left for
`os1 bench affect --esconv`. Full-batch Adam from zero weights: no randomness, so the weights come
out the same on every run on the same NumPy/BLAS (within float rounding elsewhere).
Run it after train/emotion.py: its features come from the shipped emotion model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from os1.affect.datasets import SupportTurn, read_esconv
from os1.affect.emotion import EmotionReader
from os1.affect.strategy import STRATEGIES, feature_vector

STEPS = 800
LEARNING_RATE = 0.02  # 0.05 oscillated at some penalties (train accuracy fell as it rose)
PENALTIES = (1e-3, 3e-3, 1e-2, 3e-2, 0.1)


def featurise(reader: EmotionReader, turns: list[SupportTurn], label: str
              ) -> tuple[np.ndarray, np.ndarray]:
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    rows = []
    for n, turn in enumerate(turns, 1):
        if turn.seeker_text not in cache:
            pooled = reader.pooled(turn.seeker_text)
            cache[turn.seeker_text] = (pooled, reader.probabilities(pooled)["original"])
        pooled, scores = cache[turn.seeker_text]
        rows.append(feature_vector(pooled, scores, turn.previous, turn.turn_index,
                                   turn.seeker_text))
        if n % 2000 == 0 or n == len(turns):
            print(f"  {label}: {n}/{len(turns)}", flush=True)
    targets = np.array([STRATEGIES.index(t.strategy) for t in turns])
    return np.stack(rows).astype(np.float64), targets


def fit(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray]:
    n, d = x.shape
    k = len(STRATEGIES)
    weight, bias = np.zeros((d, k)), np.zeros(k)
    onehot = np.eye(k)[y]
    m = [np.zeros_like(weight), np.zeros_like(bias)]
    v = [np.zeros_like(weight), np.zeros_like(bias)]
    for step in range(1, STEPS + 1):
        logits = x @ weight + bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        error = (probs - onehot) / n
        grads = [x.T @ error + penalty * weight, error.sum(axis=0)]
        for i, (param, grad) in enumerate(zip((weight, bias), grads, strict=True)):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad * grad
            param -= LEARNING_RATE * (m[i] / (1 - 0.9 ** step)) / (
                np.sqrt(v[i] / (1 - 0.999 ** step)) + 1e-8)
    return weight, bias


def accuracy(x: np.ndarray, y: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> float:
    return float(((x @ weight + bias).argmax(axis=1) == y).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--esconv", type=Path, required=True)
    parser.add_argument("--out", type=Path,
                        default=Path("src/os1/affect/strategy_model.safetensors"))
    args = parser.parse_args()

    reader = EmotionReader.load()
    train = read_esconv(args.esconv / "train.jsonl")
    valid = read_esconv(args.esconv / "valid.jsonl")
    print(f"ESConv supporter turns: train {len(train)}, valid {len(valid)}", flush=True)
    x_train, y_train = featurise(reader, train, "train")
    x_valid, y_valid = featurise(reader, valid, "valid")
    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0) + 1e-3
    x_train, x_valid = (x_train - mean) / scale, (x_valid - mean) / scale

    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    for penalty in PENALTIES:
        weight, bias = fit(x_train, y_train, penalty)
        score = accuracy(x_valid, y_valid, weight, bias)
        print(f"penalty {penalty:g}: train {accuracy(x_train, y_train, weight, bias):.4f}, "
              f"valid {score:.4f}", flush=True)
        if best is None or score > best[0]:
            best = (score, penalty, weight, bias)
    assert best is not None
    score, penalty, weight, bias = best
    majority = np.bincount(y_train).argmax()
    print(f"chosen penalty {penalty:g}: valid accuracy {score:.4f} (majority class "
          f"{STRATEGIES[majority]!r}: {(y_valid == majority).mean():.4f})")
    save_file({"weight": weight.astype(np.float32), "bias": bias.astype(np.float32),
               "mean": mean.astype(np.float32), "scale": scale.astype(np.float32)},
              str(args.out), metadata={"penalty": str(penalty), "steps": str(STEPS),
                                       "valid_accuracy": f"{score:.4f}"})
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
