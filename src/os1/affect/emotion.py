"""Reads emotion from a message: GoEmotions' 28 labels, Ekman's 7 and sentiment, valence, arousal.

The reader is all-MiniLM-L6-v2 (the memory embedder's model) with its top layers fine-tuned on
GoEmotions and three linear heads; `train/emotion.py` builds the shipped weights. The frozen lower
layers are the embedder's own, so os1 holds one copy of the model in memory.

Decisions use per-label thresholds chosen on a calibration slice of GoEmotions train. Reddit
comments are rarely neutral and chat mostly is, so in conversation (`chat=True`, the default) a
gate tuned on DailyDialog first decides whether a message is emotional at all (ChatGate).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from os1.affect.errors import AffectError
from os1.affect.labels import EKMAN, EKMAN_OF, GOEMOTIONS, PLACE, SENTIMENT, ChatGate
from os1.affect.language import TextTraits, traits_of
from os1.memory.embedder import Embedder, EncoderLayer, load_layer, padding_bias, run_layer

MODEL_FILE = Path(__file__).with_name("emotion_model.safetensors")
GATE_FILE = Path(__file__).with_name("chat_gate.json")  # by train/chat_gate.py
HEADS: dict[str, tuple[str, ...]] = {"original": GOEMOTIONS, "ekman": EKMAN, "group": SENTIMENT}

Probabilities = NDArray[np.float32]


@dataclass(frozen=True)
class EmotionRead:
    """What one message seems to feel like. ``labels`` are the GoEmotions labels read (most likely
    first, "neutral" when nothing clears its bar); ``unknown`` says why nothing was read."""

    labels: tuple[str, ...]
    ekman: tuple[str, ...]
    sentiment: str
    valence: float  # −1 … 1
    arousal: float  # 0 … 1
    confidence: float  # 0 … 1
    scores: dict[str, float]  # the 28 label probabilities, rounded
    unknown: str = ""  # "", or why the text was not read ("not English", "no words")


@dataclass(frozen=True, eq=False)
class Analysis:
    read: EmotionRead
    pooled: NDArray[np.float32] | None  # None when the text was not read
    scores: Probabilities | None  # the 28 GoEmotions probabilities


UNKNOWN_PLACE = (0.0, 0.3)
_SHOUT = 0.15  # all caps: the same words said louder


def unknown_read(reason: str) -> EmotionRead:
    return EmotionRead((), (), "unknown", UNKNOWN_PLACE[0], UNKNOWN_PLACE[1], 0.0, {}, reason)


@dataclass(frozen=True)
class _Head:
    weight: NDArray[np.float32]  # (width, labels)
    bias: NDArray[np.float32]
    thresholds: NDArray[np.float32]

    def probabilities(self, pooled: NDArray[np.float32]) -> Probabilities:
        logits = pooled @ self.weight + self.bias
        result: Probabilities = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return result


class EmotionReader:
    def __init__(self, embedder: Embedder, model_file: Path = MODEL_FILE,
                 gate_file: Path | None = GATE_FILE) -> None:
        """``gate_file=None`` only for tuning the gate itself (every message may be emotional)."""
        from safetensors import safe_open
        from safetensors.numpy import load_file

        try:
            tensors = {k: v.astype(np.float32) for k, v in load_file(str(model_file)).items()}
            with safe_open(str(model_file), framework="numpy") as handle:
                meta = handle.metadata() or {}
            self._first = int(meta["first_layer"])
            self._max_tokens = int(meta.get("max_tokens", "256"))  # as it was trained
            self.gate = ChatGate(1.0, 0.0)
            if gate_file is not None:
                gate = json.loads(gate_file.read_text(encoding="utf-8"))
                self.gate = ChatGate(float(gate["neutral_max"]), float(gate["min_ratio"]))
            self._layers: list[EncoderLayer] = [
                load_layer(tensors, f"encoder.layer.{i}.")
                for i in range(self._first, int(meta["layers"]))
            ]
            self._heads = {name: _Head(np.ascontiguousarray(tensors[f"head.{name}.weight"].T),
                                       tensors[f"head.{name}.bias"],
                                       tensors[f"threshold.{name}"]) for name in HEADS}
        except Exception as error:  # safetensors and a damaged file raise many kinds
            raise AffectError(
                f"The emotion model at {model_file} (or its chat gate {GATE_FILE.name}) could not "
                f"be read ({error}). Reinstall os1 (git checkout src/os1/affect/), or rebuild it "
                "with make train-emotion."
            ) from error
        if int(meta["layers"]) != embedder.layer_count:
            raise AffectError(f"{model_file} goes with a {meta['layers']}-layer encoder; the "
                              f"embedding model has {embedder.layer_count}.")
        self._embedder = embedder
        self._shape = (embedder.heads, embedder.eps)
        self.metadata = dict(meta)

    @classmethod
    def load(cls, embedder: Embedder | None = None) -> EmotionReader:
        return cls(embedder or Embedder.load())

    def pooled(self, text: str) -> NDArray[np.float32]:
        """The tuned encoder's mean-pooled state for one text (384 floats)."""
        x = self._embedder.lower(text, self._first, self._max_tokens)
        bias = padding_bias(np.ones((1, x.shape[1]), dtype=np.float32))
        heads, eps = self._shape
        for layer in self._layers:
            x = run_layer(x, layer, bias, heads, eps)
        pooled: NDArray[np.float32] = x.mean(axis=1)[0]
        return pooled

    def probabilities(self, pooled: NDArray[np.float32]) -> dict[str, Probabilities]:
        """The three heads' probabilities from a pooled state."""
        return {name: head.probabilities(pooled) for name, head in self._heads.items()}

    def thresholds(self, head: str) -> NDArray[np.float32]:
        return self._heads[head].thresholds

    def read(self, text: str, *, chat: bool = True) -> EmotionRead:
        return self.analyse(text, chat=chat).read

    def analyse(self, text: str, *, chat: bool = True) -> Analysis:
        """The emotion read, with the states the strategy chooser also uses."""
        traits = traits_of(text)
        if traits.unknown:
            return Analysis(unknown_read(traits.unknown), None, None)
        pooled = self.pooled(traits.readable)
        probs = self.probabilities(pooled)
        read = self._decide(probs, traits, chat)
        return Analysis(read, pooled, probs["original"])

    def _decide(self, probs: dict[str, Probabilities], traits: TextTraits,
                chat: bool) -> EmotionRead:
        """Whether there is a feeling at all: in chat the calibrated gate decides (see ChatGate),
        elsewhere GoEmotions' own thresholds. Which feeling: the 28-label head, the finer one."""
        scores = {GOEMOTIONS[i]: round(float(p), 3) for i, p in enumerate(probs["original"])}
        ratio = probs["original"] / self._heads["original"].thresholds
        ratio[GOEMOTIONS.index("neutral")] = 0.0
        order = [int(i) for i in np.argsort(-ratio)]
        if chat:
            emotional = bool(self.gate.emotional(probs["ekman"], self._heads["ekman"].thresholds))
        else:
            emotional = bool(ratio[order[0]] >= 1.0)
        if not emotional:
            neutral = float(probs["ekman"][EKMAN.index("neutral")])
            confidence = float(np.clip((neutral - self.gate.neutral_max)
                                       / (1.0 - self.gate.neutral_max), 0.0, 1.0))
            arousal = PLACE["neutral"][1] + (_SHOUT if traits.shouting else 0.0)
            return EmotionRead(("neutral",), ("neutral",), "neutral", 0.0, arousal,
                               round(confidence, 3), scores)
        labels = tuple(GOEMOTIONS[i] for i in order if ratio[i] >= 1.0)[:3] \
            or (GOEMOTIONS[order[0]],)
        ekman = tuple(dict.fromkeys(EKMAN_OF[name] for name in labels))
        valence, arousal = self._place(probs["original"], labels)
        if traits.shouting:
            arousal = min(1.0, arousal + _SHOUT)
        confidence = float(min(1.0, 0.5 * ratio[order[0]]))
        if traits.sarcasm:  # "/s", "yeah right": the words may mean their opposite
            confidence *= 0.5
        sentiment = SENTIMENT[int(np.argmax(probs["group"] / self._heads["group"].thresholds))]
        if sentiment == "neutral":
            sentiment = "positive" if valence > 0 else "negative"
        return EmotionRead(labels, ekman, sentiment, valence, arousal, round(confidence, 3), scores)

    @staticmethod
    def _place(original: Probabilities, labels: tuple[str, ...]) -> tuple[float, float]:
        """Valence and arousal: the labels read, weighted by their probabilities."""
        weights = np.array([original[GOEMOTIONS.index(name)] for name in labels], dtype=np.float64)
        total = weights.sum()
        weights = weights / total if total > 0 else np.full(len(labels), 1.0 / len(labels))
        valence = float(sum(w * PLACE[name][0] for w, name in zip(weights, labels, strict=True)))
        arousal = float(sum(w * PLACE[name][1] for w, name in zip(weights, labels, strict=True)))
        return valence, arousal


def describe(read: EmotionRead) -> str:
    """A short human phrase: "sadness, grief" / "neutral" / "unknown (not English)"."""
    if read.unknown:
        return f"unknown ({read.unknown})"
    return ", ".join(read.labels)
