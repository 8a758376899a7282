"""Voice prosody on synthetic speech: a harmonic voice source with a moving pitch, shaped by three
formant resonances and amplitude-modulated into syllables grouped in phrases with pauses. The
generator knows the true pitch and syllable rate, so the measurements can be checked against
them; fixed seeds keep it deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from os1.affect.prosody import (
    MAX_ANALYSED_S,
    ProsodyError,
    ProsodyFeatures,
    VoiceBaseline,
    VoiceReading,
    fuse_arousal,
    measure,
    read_voice,
)

SR = 16000
FORMANTS = ((500.0, 80.0), (1500.0, 120.0), (2500.0, 160.0))  # (centre Hz, half-width Hz)


def speech(f0: float = 120.0, rate: float = 3.5, swing: float = 0.1, amp: float = 0.1,
           phrases: tuple[int, ...] = (5, 5), pause_s: float = 0.3, seed: int = 0,
           sr: int = SR) -> NDArray[np.float64]:
    """Phrases of ``phrases[i]`` syllables at ``rate`` per second, each syllable an intensity peak
    15+ dB above the dip between syllables; pitch ``f0`` · (1 ± ``swing``) moving at 1 Hz; RMS of
    the voiced part ``amp``."""
    rng = np.random.default_rng(seed)
    pause = np.zeros(int(pause_s * sr))
    parts = [pause]
    for syllables in phrases:
        t = np.arange(round(syllables / rate * sr)) / sr
        envelope = 0.1 + 0.9 * np.sin(np.pi * rate * t) ** 2
        ramp = int(0.02 * sr)  # no click at the phrase edges
        envelope[:ramp] *= np.linspace(0.0, 1.0, ramp)
        envelope[-ramp:] *= np.linspace(1.0, 0.0, ramp)
        parts += [envelope, pause]
    envelope = np.concatenate(parts)
    t = np.arange(envelope.size) / sr
    f0_t = f0 * (1.0 + swing * np.sin(2.0 * np.pi * t + rng.uniform(0.0, 2.0 * np.pi)))
    phase = 2.0 * np.pi * np.cumsum(f0_t) / sr
    voice = np.zeros_like(t)
    for k in range(1, int(4000.0 / (f0 * (1.0 - swing))) + 1):
        fk = k * f0_t
        gain = sum(1.0 / (1.0 + ((fk - centre) / width) ** 2) for centre, width in FORMANTS)
        voice += (gain + 0.05) / k * np.sin(k * phase)
    voice *= envelope
    voice *= amp / np.sqrt(np.mean(voice[envelope > 0.5] ** 2))
    result: NDArray[np.float64] = voice + 1e-4 * rng.standard_normal(voice.size)
    return result


def calm(seed: int) -> NDArray[np.float64]:
    """One of this user's usual utterances: low, slow, quiet, varying a little."""
    rng = np.random.default_rng(100 + seed)
    return speech(f0=rng.uniform(110.0, 130.0), rate=rng.uniform(3.0, 3.6),
                  swing=rng.uniform(0.08, 0.12), amp=rng.uniform(0.08, 0.12), seed=seed)


def excited(seed: int = 50) -> NDArray[np.float64]:
    return speech(f0=190.0, rate=5.5, swing=0.3, amp=0.3, phrases=(8, 8, 8), seed=seed)


def calm_baseline(utterances: int) -> VoiceBaseline:
    baseline = VoiceBaseline()
    for seed in range(utterances):
        baseline.update(measure(calm(seed), SR))
    assert baseline.count == utterances
    return baseline


@pytest.fixture(scope="module")
def baseline() -> VoiceBaseline:
    return calm_baseline(10)


@pytest.mark.parametrize(("f0", "rate"), [(110.0, 3.0), (200.0, 5.0), (260.0, 6.5)])
def test_measure_recovers_pitch_and_syllable_rate(f0: float, rate: float) -> None:
    features = measure(speech(f0=f0, rate=rate), SR)
    assert features.pitch_hz == pytest.approx(f0, rel=0.10)
    assert features.speaking_rate == pytest.approx(rate, rel=0.15)
    # Speech time is the two phrases, not the pauses around them.
    assert features.speech_s == pytest.approx(10 / rate, rel=0.15)
    assert features.duration_s == pytest.approx(10 / rate + 0.9, abs=0.01)
    assert features.clipped_fraction == 0.0


def test_wider_pitch_movement_measures_a_wider_range() -> None:
    narrow = measure(speech(swing=0.05), SR).pitch_range_st
    wide = measure(speech(swing=0.3), SR).pitch_range_st
    assert 0.5 < narrow < 3.0
    assert wide > narrow + 5.0


def test_louder_measures_more_energy_by_the_right_amount() -> None:
    quiet = measure(speech(amp=0.05), SR)
    loud = measure(speech(amp=0.2), SR)
    assert loud.energy_db - quiet.energy_db == pytest.approx(20 * math.log10(4), abs=1.0)
    assert loud.pitch_hz == pytest.approx(quiet.pitch_hz, rel=0.01)


def test_int16_input_reads_the_same_as_float_input() -> None:
    ints = np.clip(np.round(speech() * 32768), -32768, 32767).astype(np.int16)
    assert measure(ints, SR) == measure(ints.astype(np.float32) / np.float32(32768), SR)


def test_higher_sample_rates_agree_with_16k() -> None:
    low = measure(speech(sr=SR), SR)
    high = measure(speech(sr=48000), 48000)
    assert high.pitch_hz == pytest.approx(low.pitch_hz, rel=0.03)
    assert high.speaking_rate == pytest.approx(low.speaking_rate, rel=0.1)


def test_ten_minutes_analyses_only_the_last_stretch() -> None:
    take = speech(f0=120.0, seed=1)
    last = speech(f0=220.0, rate=5.0, seed=2)
    recording = np.concatenate([np.tile(take, int(600 * SR / take.size)), last])
    assert recording.size / SR > 595
    features = measure(recording, SR)
    assert features.duration_s == pytest.approx(MAX_ANALYSED_S)
    assert features == measure(recording[-int(MAX_ANALYSED_S * SR):], SR)
    assert features.speech_s <= MAX_ANALYSED_S


@pytest.mark.parametrize(
    ("samples", "rate", "says"),
    [
        (np.array([], dtype=np.float32), SR, "empty"),
        (np.array([], dtype=np.int16), SR, "microphone"),
        (np.zeros((SR, 2)), SR, "mono"),
        (np.zeros(SR), 4000, "sample rate"),
        (np.full(SR, np.nan), SR, "NaN"),
        (np.r_[np.zeros(SR), np.inf], SR, "infinite"),
        (np.zeros(SR, dtype=np.int32), SR, "int16"),
        (np.full(SR, 1000.0), SR, "32768"),
    ],
)
def test_bad_audio_is_refused_with_what_to_do(samples: NDArray[np.generic], rate: int,
                                              says: str) -> None:
    with pytest.raises(ProsodyError, match=says):
        measure(samples, rate)  # type: ignore[arg-type]  # int32 is deliberately wrong


@pytest.mark.parametrize(
    "samples",
    [np.zeros(3 * SR), 1e-4 * np.random.default_rng(3).standard_normal(3 * SR)],
    ids=["zeros", "tiny noise"],
)
def test_silence_reads_silent_with_no_confidence(samples: NDArray[np.float64],
                                                 baseline: VoiceBaseline) -> None:
    features = measure(samples, SR)
    assert features.speech_s == 0.0
    assert read_voice(features, baseline) == VoiceReading(0.5, 0.0, "silent", features)


def test_a_blip_reads_too_short() -> None:
    reading = read_voice(measure(speech()[:800], SR), VoiceBaseline())
    assert (reading.confidence, reading.reason) == (0.0, "too short")


def test_noise_without_a_voice_has_no_confidence(baseline: VoiceBaseline) -> None:
    noise = 0.1 * np.random.default_rng(4).standard_normal(3 * SR)
    features = measure(noise, SR)
    assert features.speech_s > 2.0
    reading = read_voice(features, baseline)
    assert reading.confidence == 0.0
    assert reading.reason == "no voiced speech"


def test_clipping_lowers_confidence_and_says_why(baseline: VoiceBaseline) -> None:
    clean = measure(calm(20), SR)
    clipped = measure(np.clip(calm(20) * 10.0, -1.0, 1.0), SR)
    assert clean.clipped_fraction == 0.0
    assert clipped.clipped_fraction > 0.01
    clean_reading, clipped_reading = read_voice(clean, baseline), read_voice(clipped, baseline)
    assert clean_reading.reason == ""
    assert "clipped" in clipped_reading.reason
    assert clipped_reading.confidence < clean_reading.confidence / 2


def test_usual_reads_middle_and_excited_reads_high(baseline: VoiceBaseline) -> None:
    # Fresh utterances drawn like the baseline's: each varies, but on average they are "usual".
    usual = [read_voice(measure(calm(seed), SR), baseline).arousal for seed in range(30, 38)]
    assert float(np.mean(usual)) == pytest.approx(0.5, abs=0.1)
    assert all(0.1 < arousal < 0.9 for arousal in usual)
    aroused = read_voice(measure(excited(), SR), baseline)
    assert aroused.arousal > 0.85
    assert aroused.arousal > max(usual) + 0.2
    assert aroused.confidence > 0.5
    assert aroused.reason == ""


def test_a_slower_quieter_lower_voice_reads_calmer_than_usual(baseline: VoiceBaseline) -> None:
    subdued = speech(f0=95.0, rate=2.4, swing=0.05, amp=0.03, seed=7)
    assert read_voice(measure(subdued, SR), baseline).arousal < 0.2


def test_confidence_rises_as_the_baseline_grows() -> None:
    features = measure(excited(), SR)
    baseline, readings = VoiceBaseline(), []
    for seed in range(13):
        if baseline.count in (0, 1, 3, 6, 12):
            readings.append(read_voice(features, baseline))
        baseline.update(measure(calm(seed), SR))
    confidences = [reading.confidence for reading in readings]
    assert confidences == sorted(confidences)
    assert len(set(confidences)) == len(confidences)
    assert confidences[0] < 0.2
    assert all(reading.reason == "new voice" for reading in readings[:3])
    assert readings[-1].reason == ""


def test_before_a_baseline_population_defaults_still_tell_excited_from_calm() -> None:
    empty = VoiceBaseline()
    assert read_voice(measure(excited(), SR), empty).arousal > 0.7
    assert read_voice(measure(calm(0), SR), empty).arousal < 0.5


def test_short_speech_gets_less_confidence(baseline: VoiceBaseline) -> None:
    short = read_voice(measure(speech(phrases=(2,)), SR), baseline)
    longer = read_voice(measure(speech(phrases=(5, 5, 5)), SR), baseline)
    assert short.reason == "too short"
    assert short.confidence < longer.confidence / 2


def test_baseline_ignores_utterances_it_cannot_learn_from() -> None:
    baseline = VoiceBaseline()
    baseline.update(measure(np.zeros(3 * SR), SR))
    baseline.update(measure(speech(phrases=(2,)), SR))  # under a second of speech
    baseline.update(measure(np.clip(calm(0) * 10.0, -1.0, 1.0), SR))
    assert baseline.count == 0


def test_baseline_keeps_the_mean_and_variance() -> None:
    features = [measure(calm(seed), SR) for seed in range(4)]
    baseline = VoiceBaseline()
    for each in features:
        baseline.update(each)
    pitches = [each.pitch_hz for each in features]
    assert baseline.mean("pitch_hz") == pytest.approx(np.mean(pitches))
    assert baseline.variance("pitch_hz") == pytest.approx(np.var(pitches, ddof=1))


def test_baseline_json_round_trips(baseline: VoiceBaseline) -> None:
    again = VoiceBaseline.from_json(baseline.to_json())
    assert again.count == baseline.count
    assert again.to_json() == baseline.to_json()
    features = measure(excited(), SR)
    assert read_voice(features, again) == read_voice(features, baseline)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{not json",
        "[]",
        '{"count": 3}',
        '{"count": -1, "mean": {}, "m2": {}}',
        '{"count": 2.5, "mean": {}, "m2": {}}',
        '{"count": 2, "mean": {"pitch_hz": 1}, "m2": {"pitch_hz": 1}}',
        VoiceBaseline().to_json().replace('"m2": {"pitch_hz": 0.0', '"m2": {"pitch_hz": -1.0'),
        VoiceBaseline().to_json().replace('"mean": {"pitch_hz": 0.0', '"mean": {"pitch_hz": NaN'),
    ],
)
def test_damaged_baseline_json_is_refused_with_what_to_do(text: str) -> None:
    with pytest.raises(ProsodyError, match="delete the stored voice baseline"):
        VoiceBaseline.from_json(text)


def _voice(arousal: float, confidence: float) -> VoiceReading:
    return VoiceReading(arousal, confidence, "", None)


def test_fuse_weights_by_confidence() -> None:
    assert fuse_arousal(0.3, 0.6, _voice(0.9, 0.0)) == (0.3, 0.6)
    assert fuse_arousal(0.3, 0.0, _voice(0.9, 0.0)) == (0.3, 0.0)
    arousal, _ = fuse_arousal(0.2, 0.5, _voice(0.8, 0.5))
    assert arousal == pytest.approx(0.5)
    arousal, _ = fuse_arousal(0.2, 0.2, _voice(0.8, 0.6))
    assert arousal == pytest.approx(0.65)
    arousal, confidence = fuse_arousal(0.2, 0.0, _voice(0.8, 0.4))
    assert (arousal, confidence) == pytest.approx((0.8, 0.4))


def test_fuse_agreement_adds_confidence_and_disagreement_does_not() -> None:
    _, agreeing = fuse_arousal(0.7, 0.6, _voice(0.7, 0.5))
    _, clashing = fuse_arousal(0.0, 0.6, _voice(1.0, 0.5))
    assert agreeing == pytest.approx(0.8)
    assert clashing == pytest.approx(0.6)
    assert 0.0 <= clashing < agreeing <= 1.0


def test_fuse_with_a_real_reading(baseline: VoiceBaseline) -> None:
    voice = read_voice(measure(excited(), SR), baseline)
    arousal, confidence = fuse_arousal(0.4, 0.5, voice)
    assert 0.4 < arousal < voice.arousal
    assert confidence > 0.5


@pytest.mark.parametrize(("arousal", "confidence"), [(1.5, 0.5), (0.5, -0.1), (math.nan, 0.5)])
def test_fuse_refuses_out_of_range_text_readings(arousal: float, confidence: float) -> None:
    with pytest.raises(ValueError, match="within 0…1"):
        fuse_arousal(arousal, confidence, _voice(0.5, 0.5))


def test_features_serialise_as_plain_floats() -> None:
    features = measure(speech(), SR)
    data = features.as_json()
    assert set(data) == {"duration_s", "speech_s", "pitch_hz", "pitch_range_st", "energy_db",
                         "speaking_rate", "clipped_fraction"}
    assert all(type(value) is float for value in data.values())
    assert ProsodyFeatures(**data) == features
