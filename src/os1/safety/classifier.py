"""The careful check: MiniLM's top two layers tuned for crisis, and a five-way head.

Layers 1–4 are the memory embedder's own (shared, not loaded twice); layers 5–6 and the
head come from `crisis_model.safetensors` (`train/crisis.py`). The head reads the mean-pooled
state and the first pass's cue flags, and gives the chance of none / suicide / self-harm /
abuse / medical. The threshold was chosen on cross-validation folds of the training set,
never on the benchmark's held-out set. ~8 ms a message here on one thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from os1.memory.embedder import Embedder, EncoderLayer, load_layer, padding_bias, run_layer
from os1.safety.cues import KINDS, Cues

MODEL_FILE = Path(__file__).with_name("crisis_model.safetensors")
CLASSES = ("none", *KINDS)
FIRST_TUNED = 4  # layers 0–3 are the embedder's; 4 and 5 are tuned


class CrisisModelError(Exception):
    """The shipped crisis model could not be read."""


@dataclass(frozen=True)
class Scores:
    risk: float  # 1 − P(none)
    kind: str  # the likeliest kind of risk


class CrisisClassifier:
    def __init__(self, embedder: Embedder, model_file: Path = MODEL_FILE) -> None:
        from safetensors import safe_open
        from safetensors.numpy import load_file

        try:
            tensors = {k: v.astype(np.float32) for k, v in load_file(str(model_file)).items()}
            with safe_open(str(model_file), framework="numpy") as handle:
                meta = handle.metadata() or {}
            self._first = int(meta["first_layer"])
            self._max_tokens = int(meta["max_tokens"])
            self.threshold = float(meta["threshold"])
            self._layers: list[EncoderLayer] = [
                load_layer(tensors, f"encoder.layer.{i}.")
                for i in range(self._first, int(meta["layers"]))]
            self._weight = np.ascontiguousarray(tensors["head.weight"].T)
            self._bias = tensors["head.bias"]
        except Exception as exc:  # safetensors and a damaged file raise many kinds
            raise CrisisModelError(
                f"The crisis model {model_file} could not be read ({exc}). Reinstall os1 "
                "(git checkout src/os1/safety/), or rebuild it with make train-crisis.") from exc
        if self._weight.shape[1] != len(CLASSES):
            raise CrisisModelError(f"{model_file} has {self._weight.shape[1]} classes, "
                                   f"not {len(CLASSES)}.")
        self._embedder = embedder
        self.metadata = dict(meta)

    def scores(self, text: str, cues: Cues) -> Scores:
        return self.scores_many([(text, cues)])[0]

    def scores_many(self, items: list[tuple[str, Cues]]) -> list[Scores]:
        """Several messages in one forward pass (padded, the padding masked out of attention
        and of the mean): the same scores as one at a time, up to float rounding, for about
        half the CPU of four single passes (the weights are read once, not four times)."""
        lowered = self._embedder.lower_many([text for text, _ in items], self._first,
                                            self._max_tokens)
        lengths = [states.shape[1] for states in lowered]
        width = lowered[0].shape[2]
        x = np.zeros((len(items), max(lengths), width), dtype=np.float32)
        mask = np.zeros((len(items), max(lengths)), dtype=np.float32)
        for row, states in enumerate(lowered):
            x[row, : lengths[row]] = states[0]
            mask[row, : lengths[row]] = 1.0
        bias = padding_bias(mask)
        for layer in self._layers:
            x = run_layer(x, layer, bias, self._embedder.heads, self._embedder.eps)
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        features = np.asarray([cues.features() for _, cues in items], dtype=np.float32)
        logits = np.concatenate([pooled, features], axis=1) @ self._weight + self._bias
        probabilities = softmax(logits)
        best = np.argmax(probabilities[:, 1:], axis=1) + 1
        return [Scores(risk=float(1.0 - p[0]), kind=CLASSES[int(b)])
                for p, b in zip(probabilities, best, strict=True)]


def softmax(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    out: NDArray[np.float32] = shifted / shifted.sum(axis=-1, keepdims=True)
    return out
