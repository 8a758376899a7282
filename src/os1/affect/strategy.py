"""Chooses how to support the user this turn: one of ESConv's strategies, and says it to the model.

The chooser is a softmax regression (weights by `train/strategy.py`, trained on ESConv train) over
what the emotion reader saw in the user's words (its pooled sentence state and label scores), the
strategy used last turn and how far into the conversation we are. ESConv has no mood timeline, so
the mood trend enters as a rule on top: after several low days, reassurance gets a lift.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from os1.affect.errors import AffectError

MODEL_FILE = Path(__file__).with_name("strategy_model.safetensors")

STRATEGIES: tuple[str, ...] = (
    "Question", "Restatement or Paraphrasing", "Reflection of feelings", "Self-disclosure",
    "Affirmation and Reassurance", "Providing Suggestions", "Information", "Others",
)

# What each strategy asks of the reply, in few words: every token of the note is read before the
# first word of the reply (~70 ms each on a slow CPU). Self-disclosure stays honest: os1 is an AI
# and must not invent a human past to relate with.
GUIDANCE: dict[str, str] = {
    "Question": "Ask one gentle, open question.",
    "Restatement or Paraphrasing": "Briefly say back what you heard.",
    "Reflection of feelings": "Name the feeling you hear.",
    "Self-disclosure": "Relate honestly, as the AI you are.",
    "Affirmation and Reassurance": "Affirm and reassure them.",
    "Providing Suggestions": "Offer one small suggestion, gently.",
    "Information": "Share one useful fact, briefly.",
    "Others": "",
}

_POSITION_STEPS = 8  # supporter turns 0…7+, one-hot: ESConv openings differ from middles
LOW_TREND_LIFT = 0.7  # logit added to reassurance when the mood trend is low (a rule, see above)


def feature_vector(pooled: NDArray[np.float32], scores: NDArray[np.float32],
                   previous: str | None, turn_index: int, text: str) -> NDArray[np.float32]:
    """The chooser's input; training and the live turn build it with this one function."""
    previous_hot = np.zeros(len(STRATEGIES) + 1, dtype=np.float32)
    previous_hot[STRATEGIES.index(previous) if previous in STRATEGIES else len(STRATEGIES)] = 1.0
    position = np.zeros(_POSITION_STEPS, dtype=np.float32)
    position[min(turn_index, _POSITION_STEPS - 1)] = 1.0
    shape = np.array([float("?" in text), min(len(text.split()), 60) / 60.0], dtype=np.float32)
    return np.concatenate([pooled.astype(np.float32), scores.astype(np.float32), previous_hot,
                           position, shape])


@dataclass(frozen=True)
class StrategyChoice:
    name: str
    probability: float

    @property
    def guidance(self) -> str:
        return GUIDANCE[self.name]


class StrategyChooser:
    def __init__(self, model_file: Path = MODEL_FILE) -> None:
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(model_file))
            self._weight = tensors["weight"].astype(np.float32)  # (features, strategies)
            self._bias = tensors["bias"].astype(np.float32)
            self._mean = tensors["mean"].astype(np.float32)
            self._scale = tensors["scale"].astype(np.float32)
        except Exception as error:  # a missing or damaged file raises many kinds
            raise AffectError(
                f"The strategy model at {model_file} could not be read ({error}). Reinstall os1, "
                "or rebuild it with make train-strategy."
            ) from error
        if self._weight.shape[1] != len(STRATEGIES):
            raise AffectError(f"{model_file} chooses among {self._weight.shape[1]} strategies, "
                              f"not {len(STRATEGIES)}.")

    def probabilities(self, features: NDArray[np.float32], *,
                      low_trend: bool = False) -> NDArray[np.float32]:
        logits = ((features - self._mean) / self._scale) @ self._weight + self._bias
        if low_trend:
            logits = logits.copy()
            logits[..., STRATEGIES.index("Affirmation and Reassurance")] += LOW_TREND_LIFT
        logits = logits - logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        result: NDArray[np.float32] = (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)
        return result

    def choose(self, features: NDArray[np.float32], *, low_trend: bool = False) -> StrategyChoice:
        probs = self.probabilities(features, low_trend=low_trend)
        best = int(np.argmax(probs))
        return StrategyChoice(STRATEGIES[best], round(float(probs[best]), 3))
