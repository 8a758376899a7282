"""The affect engine: reads how the user feels this turn, chooses how to support them, and keeps
the mood timeline. The companion asks it once per user turn (`read_turn`), then records the
reading against the stored turn (`record`).

    text ─► emotion read ─┐
    audio ─► prosody ─────┴─► fused valence/arousal ─► strategy (with the mood trend) ─► note

Nothing here runs when the user has switched emotion reading off: the companion then holds no
AffectEngine at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from os1.affect.emotion import MODEL_FILE as EMOTION_MODEL
from os1.affect.emotion import EmotionRead, EmotionReader, describe
from os1.affect.errors import AffectError
from os1.affect.prosody import (
    ProsodyError,
    VoiceBaseline,
    VoiceReading,
    fuse_arousal,
    measure,
    read_voice,
)
from os1.affect.strategy import MODEL_FILE as STRATEGY_MODEL
from os1.affect.strategy import StrategyChoice, StrategyChooser, feature_vector
from os1.affect.timeline import NOTE_PREFIX, MoodReading, MoodTimeline
from os1.affect.trend import MoodTrend, trend_of
from os1.memory.embedder import Embedder
from os1.store.base import Database, User

log = logging.getLogger(__name__)

ACKNOWLEDGE_BELOW = -0.3  # valence at which the reply must meet the feeling before anything else


@dataclass(frozen=True)
class Audio:
    """An utterance's sound: mono samples (float in −1…1 or int16) at ``rate`` Hz."""

    samples: NDArray[np.float32] | NDArray[np.int16]
    rate: int


@dataclass(frozen=True)
class TurnAffect:
    """What the engine made of one user turn."""

    read: EmotionRead
    voice: VoiceReading | None
    valence: float
    arousal: float
    confidence: float
    strategy: StrategyChoice
    trend: MoodTrend

    @property
    def source(self) -> str:
        # A text that was not read has no valence: its turn leaves no reading, even if the
        # voice was heard (the timeline's days average valence).
        if self.read.unknown:
            return ""
        return "text+voice" if self.voice is not None and self.voice.confidence > 0 else "text"

    def note(self) -> str:
        """What the prompt is told, or "" when there is nothing worth saying."""
        # Only for unpleasant feelings, and short: the model reads every word of the note before
        # it can start replying (~70 ms a token here; docs/benchmarks.md). Support strategies
        # are for distress; good news the model meets warmly without being told.
        if self.read.unknown or self.read.labels == ("neutral",) or self.valence >= 0:
            return ""
        feeling = describe(self.read)
        acknowledge = self.valence <= ACKNOWLEDGE_BELOW
        parts = [f"{NOTE_PREFIX}{feeling}: acknowledge that before anything else."
                 if acknowledge else f"{NOTE_PREFIX}{feeling}."]
        trend = self.trend.describe()
        if trend:
            parts.append(f"Mood lately: {trend}.")
        reflecting = self.strategy.name == "Reflection of feelings"
        if self.strategy.guidance and not (acknowledge and reflecting):
            parts.append(self.strategy.guidance)
        return " ".join(parts)


class AffectEngine:
    def __init__(self, db: Database, embedder: Callable[[], Embedder], *,
                 emotion_model: Path = EMOTION_MODEL,
                 strategy_model: Path = STRATEGY_MODEL) -> None:
        self.timeline = MoodTimeline(db)
        self._embedder = embedder
        self._files = (emotion_model, strategy_model)
        self._models: tuple[EmotionReader, StrategyChooser] | None = None
        self._failure: AffectError | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> tuple[EmotionReader, StrategyChooser]:
        """Both models, loaded on first use by whichever thread asks first. A file that will
        not load fails once, with its message kept: later turns do not retry every time."""
        with self._lock:
            if self._models is None:
                if self._failure is not None:
                    raise self._failure
                try:
                    self._models = (EmotionReader(self._embedder(), self._files[0]),
                                    StrategyChooser(self._files[1]))
                except AffectError as error:
                    self._failure = error
                    raise
            return self._models

    @property
    def reader(self) -> EmotionReader:
        return self._loaded()[0]

    def trend(self, user: User, today: date) -> MoodTrend:
        return trend_of(self.timeline.days(user, today - timedelta(days=21), today), today)

    def last_strategy(self, user: User) -> str | None:
        """The strategy of the user's latest reading (a resumed chat goes on from it)."""
        return self.timeline.last_strategy(user)

    def read_turn(self, user: User, text: str, *, previous: str | None, turn_index: int,
                  now: datetime, audio: Audio | None = None) -> TurnAffect:
        reader, chooser = self._loaded()
        analysis = reader.analyse(text)
        read = analysis.read
        voice = self._read_voice(user, audio, now) if audio is not None else None
        arousal, confidence = read.arousal, read.confidence
        if voice is not None:
            arousal, confidence = fuse_arousal(read.arousal, read.confidence, voice)
        trend = self.trend(user, now.date())
        if analysis.pooled is not None and analysis.scores is not None:
            features = feature_vector(analysis.pooled, analysis.scores, previous, turn_index, text)
            strategy = chooser.choose(features, low_trend=trend.low)
        else:  # not read (another language, no words): ask rather than presume
            strategy = StrategyChoice("Question", 0.0)
        return TurnAffect(read, voice, read.valence, arousal, confidence, strategy, trend)

    def _read_voice(self, user: User, audio: Audio, now: datetime) -> VoiceReading | None:
        """The voice's reading, or None: bad audio must never cost the text its reading."""
        try:
            features = measure(audio.samples, audio.rate)
        except ProsodyError as error:
            log.info("voice not read: %s", error)
            return None
        except Exception:  # Praat's own errors, odd arrays
            log.exception("voice not read")
            return None
        try:
            stored = self.timeline.voice_baseline(user)
            try:
                baseline = VoiceBaseline.from_json(stored) if stored else VoiceBaseline()
            except ProsodyError:
                log.warning("voice baseline unreadable; starting a new one")
                baseline = VoiceBaseline()
            reading = read_voice(features, baseline)
            baseline.update(features)
            self.timeline.save_voice_baseline(user, baseline.to_json(), now)
        except Exception:  # a locked database: the turn goes on without the voice
            log.exception("voice baseline not updated")
            return None
        return reading

    def record(self, user: User, turn_id: int | None, at: datetime, affect: TurnAffect) -> None:
        """Store the reading with its turn; a text that was not read leaves no reading."""
        source = affect.source
        if not source:
            return
        self.timeline.add(user, MoodReading(
            at=at, valence=affect.valence, arousal=affect.arousal,
            confidence=affect.confidence, labels=affect.read.labels, source=source,
            strategy=affect.strategy.name, turn_id=turn_id))
