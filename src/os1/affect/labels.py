"""The emotion label sets os1 reads in, and how they map onto one another.

GoEmotions' 28 labels, their Ekman-7 and sentiment groupings (as the GoEmotions authors define
them), and where each label sits on valence (unpleasant −1 … pleasant +1) and arousal (calm 0 …
activated 1). The valence/arousal places are os1's own approximations of the label words' ratings
in the NRC VAD lexicon, rounded to a tenth: they order feelings sensibly ("grief" below
"disappointment"), they are not a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

GOEMOTIONS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)
EKMAN: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
SENTIMENT: tuple[str, ...] = ("ambiguous", "negative", "neutral", "positive")

# GoEmotions label → its Ekman group (the GoEmotions authors' mapping; "neutral" stays neutral)
EKMAN_OF: dict[str, str] = {
    **dict.fromkeys(("anger", "annoyance", "disapproval"), "anger"),
    "disgust": "disgust",
    **dict.fromkeys(("fear", "nervousness"), "fear"),
    **dict.fromkeys(("joy", "amusement", "approval", "excitement", "gratitude", "love",
                     "optimism", "relief", "pride", "admiration", "desire", "caring"), "joy"),
    **dict.fromkeys(("sadness", "disappointment", "embarrassment", "grief", "remorse"),
                    "sadness"),
    **dict.fromkeys(("surprise", "realization", "confusion", "curiosity"), "surprise"),
    "neutral": "neutral",
}

# ESConv's emotion_type of a seeker's situation → the GoEmotions label that says it
ESCONV_EMOTION: dict[str, str] = {
    "anxiety": "nervousness", "nervousness": "nervousness", "depression": "sadness",
    "sadness": "sadness", "pain": "sadness", "anger": "anger", "jealousy": "annoyance",
    "fear": "fear", "disgust": "disgust", "shame": "embarrassment", "guilt": "remorse",
}
# … and each label's sentiment group (GoEmotions' own grouping)
SENTIMENT_OF: dict[str, str] = {
    **dict.fromkeys(("amusement", "excitement", "joy", "love", "desire", "optimism", "caring",
                     "pride", "admiration", "gratitude", "relief", "approval"), "positive"),
    **dict.fromkeys(("fear", "nervousness", "remorse", "embarrassment", "disappointment",
                     "sadness", "grief", "disgust", "anger", "annoyance", "disapproval"),
                    "negative"),
    **dict.fromkeys(("realization", "surprise", "curiosity", "confusion"), "ambiguous"),
    "neutral": "neutral",
}

# label → (valence −1…1, arousal 0…1)
PLACE: dict[str, tuple[float, float]] = {
    "admiration": (0.8, 0.5), "amusement": (0.8, 0.6), "anger": (-0.7, 0.9),
    "annoyance": (-0.6, 0.7), "approval": (0.6, 0.4), "caring": (0.7, 0.4),
    "confusion": (-0.3, 0.6), "curiosity": (0.3, 0.6), "desire": (0.5, 0.7),
    "disappointment": (-0.7, 0.4), "disapproval": (-0.6, 0.5), "disgust": (-0.8, 0.6),
    "embarrassment": (-0.6, 0.6), "excitement": (0.8, 0.9), "fear": (-0.8, 0.8),
    "gratitude": (0.8, 0.4), "grief": (-0.9, 0.5), "joy": (0.9, 0.7), "love": (0.9, 0.5),
    "nervousness": (-0.5, 0.8), "optimism": (0.7, 0.5), "pride": (0.7, 0.6),
    "realization": (0.1, 0.4), "relief": (0.6, 0.2), "remorse": (-0.7, 0.4),
    "sadness": (-0.8, 0.3), "surprise": (0.2, 0.8), "neutral": (0.0, 0.3),
}


@dataclass(frozen=True)
class ChatGate:
    """When a chat message counts as emotional at all (tuned on DailyDialog by
    `train/chat_gate.py`): the Ekman head's "neutral" probability is at most ``neutral_max`` and
    its strongest emotion reaches ``min_ratio`` of that emotion's threshold. Reddit comments are
    rarely neutral and chat mostly is; the GoEmotions thresholds alone would read feelings into
    "ok sure, that works"."""

    neutral_max: float
    min_ratio: float

    def emotional(self, ekman: NDArray[np.float32],
                  thresholds: NDArray[np.float32]) -> NDArray[np.bool_]:
        """For rows of Ekman probabilities, whether each is emotional."""
        emotions = [i for i, name in enumerate(EKMAN) if name != "neutral"]
        ratio = ekman[..., emotions] / thresholds[emotions]
        result: NDArray[np.bool_] = ((ekman[..., EKMAN.index("neutral")] <= self.neutral_max)
                                     & (ratio.max(axis=-1) >= self.min_ratio))
        return result


class DailyDialogLabels:
    """DailyDialog's one emotion per utterance: 0 none, 1 anger, 2 disgust, 3 fear, 4 happiness,
    5 sadness, 6 surprise; read off os1's Ekman head."""

    _FROM_EKMAN: ClassVar[dict[str, int]] = {
        "anger": 1, "disgust": 2, "fear": 3, "joy": 4, "sadness": 5, "surprise": 6}

    @classmethod
    def from_ekman(cls, probs: NDArray[np.float32], thresholds: NDArray[np.float32],
                   margin: float) -> NDArray[np.int64]:
        """An emotion only when its probability clears its threshold by ``margin`` (a fraction of
        the threshold); otherwise "none". Chat needs a wider margin than Reddit."""
        emotions = [EKMAN.index(name) for name in cls._FROM_EKMAN]
        ratio = probs[:, emotions] / thresholds[emotions]
        best = ratio.argmax(axis=1)
        codes = np.array(list(cls._FROM_EKMAN.values()))[best]
        result: NDArray[np.int64] = np.where(ratio.max(axis=1) >= 1.0 + margin, codes, 0)
        return result

    @classmethod
    def from_gate(cls, probs: NDArray[np.float32], thresholds: NDArray[np.float32],
                  gate: ChatGate) -> NDArray[np.int64]:
        """"none" unless the chat gate opens; then the Ekman emotion strongest for its threshold."""
        emotions = [EKMAN.index(name) for name in cls._FROM_EKMAN]
        codes = np.array(list(cls._FROM_EKMAN.values()))[
            (probs[:, emotions] / thresholds[emotions]).argmax(axis=1)]
        result: NDArray[np.int64] = np.where(gate.emotional(probs, thresholds), codes, 0)
        return result
