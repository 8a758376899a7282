"""How activated the user sounds: arousal read from the prosody of an utterance.

No packaged speech-emotion model exists that os1 could ship, so this does not pretend to recognise
emotions in audio. It measures what is well established to move with arousal — pitch level, pitch
range, loudness and speaking rate (Juslin & Laukka 2003; Scherer 2003) — and compares them with
*this user's* running baseline, because those measures differ far more between people (and
microphones) than between one person's calm and excited speech. The reading is arousal only:
prosody says how activated someone is, not whether it is pleasant, so valence stays with the text
reading and `fuse_arousal` blends only arousal.

Measurement is Praat's (via praat-parselmouth): autocorrelation pitch, intensity, and syllable
nuclei counted as voiced intensity peaks, after de Jong & Wempe (2009).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import parselmouth  # compiled module, ships no type stubs
from numpy.typing import NDArray

# The most recent 30 s is what gets analysed. Praat's pitch tracking costs time linear in the
# length, so a 10-minute recording must be cut to keep a turn responsive (at 16 kHz on one core:
# all 10 minutes ≈ 3.5 s, its last 30 s ≈ 0.2 s, a 3-s utterance ≈ 20 ms). 30 s holds ~100+
# syllables, plenty for a stable median pitch and rate, and covers almost every spoken turn whole.
# The *end* is kept because the reading is of how the user sounds now, at the end of the turn.
MAX_ANALYSED_S = 30.0
MIN_RATE = 8000  # below telephone quality pitch and formants are not trustworthy

# Praat settings. 75–600 Hz spans adult speech including excited and high voices (Praat's own
# defaults). Intensity's minimum pitch of 50 Hz and the 2 dB dip come from de Jong & Wempe.
_PITCH_FLOOR_HZ = 75.0
_PITCH_CEILING_HZ = 600.0
_STEP_S = 0.01
_INTENSITY_MIN_PITCH_HZ = 50.0
_SILENCE_BELOW_PEAK_DB = 25.0  # speech frames lie within 25 dB of the loud end (de Jong & Wempe)
# Praat reads samples as pascals, so full scale ≈ 91 dB; 30 dB is ~60 dB below full scale: quieter
# than any usable speech, louder than a muted or idle microphone. Without an absolute floor the
# relative threshold would call room noise "speech" in a silent recording.
_ABSOLUTE_FLOOR_DB = 30.0
_MIN_DIP_DB = 2.0
_CLIP_LEVEL = 0.999  # of full scale; real speech peaks rarely sit there unless clipped
_MIN_DURATION_S = 0.25  # shorter than Praat's analysis windows allow to be meaningful
_MAX_FLOAT_MAGNITUDE = 2.0  # a little over 1.0 is resampling overshoot; far over is int-as-float

FEATURES: tuple[str, ...] = ("pitch_hz", "pitch_range_st", "energy_db", "speaking_rate")


class ProsodyError(Exception):
    """Audio or a stored baseline that cannot be read; the message says what to do."""


@dataclass(frozen=True)
class ProsodyFeatures:
    duration_s: float  # of the audio analysed (at most MAX_ANALYSED_S)
    speech_s: float  # time within 25 dB of the loud end and above the absolute floor
    pitch_hz: float  # median F0 of voiced speech frames; 0.0 when none
    pitch_range_st: float  # p10–p90 spread of F0 in semitones
    energy_db: float  # mean intensity of speech frames (dB, Praat's scale: full-scale sine ≈ 91)
    speaking_rate: float  # syllable nuclei per second of speech (articulation rate)
    clipped_fraction: float  # share of analysed samples at/near full scale

    def as_json(self) -> dict[str, float]:
        return {key: float(value) for key, value in asdict(self).items()}


def measure(samples: NDArray[np.floating] | NDArray[np.int16], rate: int) -> ProsodyFeatures:
    """Prosodic features of one mono utterance (int16, or float in [-1, 1]) at ``rate`` Hz."""
    audio = _as_float(samples, rate)
    keep = int(MAX_ANALYSED_S * rate)
    if audio.size > keep:
        audio = audio[-keep:]
    duration = audio.size / rate
    clipped = float(np.count_nonzero(np.abs(audio) >= _CLIP_LEVEL)) / audio.size
    if duration < _MIN_DURATION_S or not np.any(audio):
        return ProsodyFeatures(duration, 0.0, 0.0, 0.0, 0.0, 0.0, clipped)

    sound = parselmouth.Sound(audio, sampling_frequency=float(rate))
    intensity = sound.to_intensity(minimum_pitch=_INTENSITY_MIN_PITCH_HZ, time_step=_STEP_S)
    level: NDArray[np.float64] = np.asarray(intensity.values, dtype=np.float64)[0]
    level_t: NDArray[np.float64] = np.asarray(intensity.xs(), dtype=np.float64)
    pitch = sound.to_pitch_ac(time_step=_STEP_S, pitch_floor=_PITCH_FLOOR_HZ,
                              pitch_ceiling=_PITCH_CEILING_HZ)
    f0: NDArray[np.float64] = np.asarray(pitch.selected_array["frequency"], dtype=np.float64)
    f0_t: NDArray[np.float64] = np.asarray(pitch.xs(), dtype=np.float64)
    if level.size == 0:
        return ProsodyFeatures(duration, 0.0, 0.0, 0.0, 0.0, 0.0, clipped)

    threshold = max(float(np.quantile(level, 0.99)) - _SILENCE_BELOW_PEAK_DB, _ABSOLUTE_FLOOR_DB)
    speech = level >= threshold
    speech_s = float(np.count_nonzero(speech)) * _STEP_S
    if speech_s == 0.0:
        return ProsodyFeatures(duration, 0.0, 0.0, 0.0, 0.0, 0.0, clipped)

    # Pitch only where there is speech: Praat occasionally finds "voicing" in a hum or a fan.
    in_speech = np.interp(f0_t, level_t, level) >= threshold
    voiced = f0[(f0 > 0) & in_speech]
    if voiced.size:
        p10, p50, p90 = np.quantile(voiced, [0.1, 0.5, 0.9])
        pitch_hz, range_st = float(p50), float(12.0 * np.log2(p90 / p10))
    else:
        pitch_hz, range_st = 0.0, 0.0

    syllables = _syllable_nuclei(level, level_t, threshold, f0, f0_t)
    return ProsodyFeatures(
        duration_s=duration,
        speech_s=speech_s,
        pitch_hz=pitch_hz,
        pitch_range_st=range_st,
        energy_db=float(level[speech].mean()),
        speaking_rate=syllables / speech_s,
        clipped_fraction=clipped,
    )


def _as_float(samples: NDArray[np.floating] | NDArray[np.int16], rate: int) -> NDArray[np.float64]:
    array = np.asarray(samples)
    if array.ndim != 1:
        raise ProsodyError(f"audio must be mono, one sample per element; got shape {array.shape}. "
                           "Mix channels down first, e.g. samples.mean(axis=1).")
    if array.size == 0:
        raise ProsodyError("the audio is empty: nothing was recorded. Check that the microphone "
                           "is connected and not muted, then try again.")
    if rate < MIN_RATE:
        raise ProsodyError(f"a sample rate of {rate} Hz is too low to read pitch from; record at "
                           f"{MIN_RATE} Hz or more (16000 Hz is typical for speech).")
    if array.dtype == np.int16:
        return array.astype(np.float64) / 32768.0
    if not np.issubdtype(array.dtype, np.floating):
        raise ProsodyError(f"audio samples of type {array.dtype} are not supported; pass int16 "
                           "samples, or floats scaled to [-1, 1].")
    audio = array.astype(np.float64)
    if not np.all(np.isfinite(audio)):
        raise ProsodyError("the audio contains NaN or infinite samples, so the recording or its "
                           "conversion is broken; record the utterance again.")
    if float(np.max(np.abs(audio))) > _MAX_FLOAT_MAGNITUDE:
        raise ProsodyError("float audio must be scaled to [-1, 1]; these samples look like "
                           "integers stored as floats. Divide int16 values by 32768, or pass the "
                           "int16 array itself.")
    return np.clip(audio, -1.0, 1.0)


def _syllable_nuclei(level: NDArray[np.float64], level_t: NDArray[np.float64], threshold: float,
                     f0: NDArray[np.float64], f0_t: NDArray[np.float64]) -> int:
    """Syllables à la de Jong & Wempe: intensity peaks above the speech threshold that stand at
    least 2 dB above the dip before the next peak, and fall in a voiced frame (a burst or a
    fricative makes an intensity peak too, but no syllable nucleus is voiceless)."""
    if level.size < 3:
        return 0
    inner = level[1:-1]
    peaks = np.flatnonzero((inner > level[:-2]) & (inner >= level[2:]) & (inner >= threshold)) + 1
    count = 0
    for i, peak in enumerate(peaks):
        end = int(peaks[i + 1]) if i + 1 < len(peaks) else level.size
        if level[peak] - float(level[peak:end].min()) <= _MIN_DIP_DB:
            continue
        nearest = int(np.clip(np.searchsorted(f0_t, level_t[peak]), 0, f0.size - 1))
        if f0.size and f0[max(nearest - 1, 0):nearest + 1].max() > 0:
            count += 1
    return count


class VoiceBaseline:
    """This user's usual voice: running mean and variance (Welford) of each feature in
    FEATURES. Stored with the user's data and updated with each usable utterance."""

    # An utterance teaches the baseline only if it has enough voiced speech for stable medians and
    # is not badly clipped (clipping flattens loudness and scrambles pitch).
    MIN_SPEECH_S = 1.0
    MAX_CLIPPED = 0.01

    def __init__(self) -> None:
        self.count = 0
        self._mean = dict.fromkeys(FEATURES, 0.0)
        self._m2 = dict.fromkeys(FEATURES, 0.0)

    def mean(self, feature: str) -> float:
        return self._mean[feature]

    def variance(self, feature: str) -> float:
        """Sample variance; 0.0 until there are two utterances."""
        return self._m2[feature] / (self.count - 1) if self.count > 1 else 0.0

    def update(self, features: ProsodyFeatures) -> None:
        if (features.speech_s < self.MIN_SPEECH_S or features.pitch_hz <= 0.0
                or features.clipped_fraction > self.MAX_CLIPPED):
            return
        self.count += 1
        for name in FEATURES:
            value = float(getattr(features, name))
            delta = value - self._mean[name]
            self._mean[name] += delta / self.count
            self._m2[name] += delta * (value - self._mean[name])

    def to_json(self) -> str:
        return json.dumps({"version": 1, "count": self.count, "mean": self._mean, "m2": self._m2})

    @classmethod
    def from_json(cls, text: str) -> VoiceBaseline:
        fix = "delete the stored voice baseline and os1 will learn the voice again"
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as error:
            raise ProsodyError(f"the voice baseline is not valid JSON ({error}); {fix}.") from None
        try:
            count, means, m2s = data["count"], data["mean"], data["m2"]
            baseline = cls()
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(f"count {count!r} is not a whole number ≥ 0")
            baseline.count = count
            for name in FEATURES:
                mean, m2 = float(means[name]), float(m2s[name])
                if not (math.isfinite(mean) and math.isfinite(m2)) or m2 < 0.0:
                    raise ValueError(f"{name} has mean {mean} and m2 {m2}")
                baseline._mean[name], baseline._m2[name] = mean, m2
        except (KeyError, TypeError, ValueError) as error:
            raise ProsodyError(f"the voice baseline is damaged ({error!r}); {fix}.") from None
        return baseline


@dataclass(frozen=True)
class VoiceReading:
    arousal: float  # 0 calm … 1 activated; 0.5 = this user's usual
    confidence: float  # 0 … 1
    reason: str  # "" when fine, else why confidence is low, e.g. "clipped, new voice"
    features: ProsodyFeatures | None


# Broad adult defaults (mean, sd across people), the comparison until the user has a baseline:
# pitch spans men (~120 Hz) and women (~210 Hz); range and de Jong–Wempe articulation rates are
# typical of conversation; loudness depends on the microphone's gain as much as on the voice.
_POPULATION: dict[str, tuple[float, float]] = {
    "pitch_hz": (165.0, 55.0),
    "pitch_range_st": (6.0, 2.5),
    "energy_db": (65.0, 8.0),
    "speaking_rate": (4.5, 1.0),
}
# How much one person's usual utterances typically vary (sd), assumed until the user's own
# utterances say otherwise: it counts as _PRIOR_UTTERANCES utterances' worth of evidence, so a
# handful of similar utterances cannot make every small difference look like excitement. It is
# far narrower than the spread across people, which is why the user's own mean replaces the
# population's as soon as there is one utterance.
_WITHIN_SD: dict[str, float] = {
    "pitch_hz": 15.0,
    "pitch_range_st": 1.5,
    "energy_db": 3.0,
    "speaking_rate": 0.6,
}
_PRIOR_UTTERANCES = 3.0
# Smallest sd per feature, for a long baseline of utterances that happen to agree closely: below
# these a difference is within what anyone varies (about a semitone at 120 Hz, a small move away
# from the mic, a syllable every few seconds), so it should not read as excitement.
_MIN_SD: dict[str, float] = {
    "pitch_hz": 8.0,
    "pitch_range_st": 0.75,
    "energy_db": 1.5,
    "speaking_rate": 0.3,
}
# Weights of each feature's z-score. Pitch level and loudness are the most consistent acoustic
# signs of arousal across studies (Juslin & Laukka 2003, Table 7; Scherer 2003); speaking rate
# also rises with arousal but follows what is being said; pitch range is noisiest (it grows with
# expressiveness, and an octave error widens it).
_WEIGHTS: dict[str, float] = {
    "pitch_hz": 0.35,
    "energy_db": 0.30,
    "speaking_rate": 0.20,
    "pitch_range_st": 0.15,
}
_MAX_Z = 4.0  # one wild feature (an octave jump, a cough into the mic) must not decide alone
_NEW_VOICE_COUNT = 5
_SHORT_SPEECH_S = 1.0
_CLIP_REASON = 0.001  # 0.1% of samples at full scale is audible distortion
_CLIP_HALVES_AT = 0.01  # confidence halves with 1% clipped
# Prosody also moves for reasons that are not feeling (a cold, distance to the mic, noise), so
# even a well-established reading of it is never certain.
_MAX_CONFIDENCE = 0.8


def read_voice(features: ProsodyFeatures, baseline: VoiceBaseline) -> VoiceReading:
    """How activated this utterance sounds compared with the user's usual voice (with no
    baseline yet, with adults in general, at low confidence)."""
    if features.speech_s <= 0.0 or features.pitch_hz <= 0.0:
        if features.speech_s <= 0.0 and features.duration_s < _MIN_DURATION_S:
            reason = "too short"
        elif features.speech_s <= 0.0:
            reason = "silent"
        else:
            reason = "no voiced speech"  # whisper or noise: sound, but no pitch to read
        return VoiceReading(0.5, 0.0, reason, features)

    n = float(baseline.count)
    combined = 0.0
    for name, weight in _WEIGHTS.items():
        if baseline.count == 0:
            mean, sd = _POPULATION[name]
        else:
            m2 = baseline.variance(name) * (n - 1.0)
            mean = baseline.mean(name)
            sd = math.sqrt((_PRIOR_UTTERANCES * _WITHIN_SD[name] ** 2 + m2)
                           / (_PRIOR_UTTERANCES + n - 1.0))
        z = (float(getattr(features, name)) - mean) / max(sd, _MIN_SD[name])
        combined += weight * max(-_MAX_Z, min(_MAX_Z, z))
    # Divide by the composite's own spread (if the z-scores were independent) so it is again a
    # standard score: one sd above usual reads 0.73, two read 0.88.
    combined /= math.sqrt(sum(w * w for w in _WEIGHTS.values()))
    arousal = 1.0 / (1.0 + math.exp(-combined))

    reasons = []
    if features.clipped_fraction > _CLIP_REASON:
        reasons.append("clipped")
    if features.speech_s < _SHORT_SPEECH_S:
        reasons.append("too short")
    if baseline.count < _NEW_VOICE_COUNT:
        reasons.append("new voice")
    # Each factor is 0…1: a baseline of ~5 utterances gives 0.69 of its weight and it saturates by
    # ~15 (population defaults alone keep 0.15); 2 s of speech gives 0.63, 6 s 0.95.
    from_baseline = 0.15 + 0.85 * (1.0 - math.exp(-n / _NEW_VOICE_COUNT))
    from_speech = 1.0 - math.exp(-features.speech_s / 2.0)
    from_clipping = 1.0 / (1.0 + features.clipped_fraction / _CLIP_HALVES_AT)
    confidence = _MAX_CONFIDENCE * from_baseline * from_speech * from_clipping
    return VoiceReading(arousal, confidence, ", ".join(reasons), features)


def fuse_arousal(text_arousal: float, text_confidence: float,
                 voice: VoiceReading) -> tuple[float, float]:
    """(arousal, confidence) from the text's reading and the voice's. Arousal is the
    confidence-weighted mean. Confidence starts from the surer source and the other adds to it
    only as far as they agree: two sources that say the same are surer than either, two that
    contradict are no surer than the better one."""
    for name, value in (("text_arousal", text_arousal), ("text_confidence", text_confidence)):
        if not 0.0 <= value <= 1.0:  # also rejects NaN
            raise ValueError(f"{name} must be within 0…1, got {value}")
    total = text_confidence + voice.confidence
    if voice.confidence <= 0.0 or total <= 0.0:
        return text_arousal, text_confidence
    arousal = (text_confidence * text_arousal + voice.confidence * voice.arousal) / total
    agreement = 1.0 - abs(text_arousal - voice.arousal)
    surer, other = max(text_confidence, voice.confidence), min(text_confidence, voice.confidence)
    return arousal, surer + (1.0 - surer) * other * agreement
