"""Waiting for a wake phrase ("okay nabu") before listening, with microWakeWord.

microWakeWord's models are tiny streaming TFLite networks (pymicro-wakeword): 10 ms of
16-bit audio becomes one feature window, every few windows one inference, and the mean of
the last few probabilities over the model's own cutoff is a detection. About 7 ms of CPU per
second of audio here, so it can run on every frame all day.
"""

from __future__ import annotations

import re

import numpy as np
from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

PHRASES = tuple(model.value for model in Model)  # okay_nabu, hey_jarvis, hey_mycroft, alexa


class WakeWordGate:
    """Says when the wake phrase has just been spoken, frame by frame.

    `heard` is True once per utterance: after a detection the detector starts afresh, so the
    same "okay nabu" does not fire again on the frames that follow it.
    """

    def __init__(self, phrase: str) -> None:
        # "Okay, Nabu", "okay-nabu" and "okay_nabu" all name the same model.
        key = re.sub(r"[^a-z]+", "_", phrase.lower()).strip("_")
        if key not in PHRASES:
            raise ValueError(
                f"There is no wake phrase {phrase!r}; choose one of "
                f"{', '.join(PHRASES)}.")
        self.phrase = key
        self._detector = MicroWakeWord.from_builtin(Model(key))
        self._features = MicroWakeWordFeatures()

    @property
    def cutoff(self) -> float:
        return float(self._detector.probability_cutoff)

    def heard(self, frame: np.ndarray) -> bool:
        """Feed one session frame (float32, 16 kHz); True if the phrase just ended in it."""
        pcm = (np.clip(frame, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        for features in self._features.process_streaming(pcm):
            if self._detector.process_streaming(features):
                # Leave the generator before resetting: it rewrites the features' buffer
                # when it finishes, which would undo the reset.
                break
        else:
            return False
        self.reset()
        return True

    def reset(self) -> None:
        """Forget the audio so far (the model keeps internal state between inferences)."""
        self._detector.reset()
        self._features.reset()

    def close(self) -> None:
        self._detector.close()
