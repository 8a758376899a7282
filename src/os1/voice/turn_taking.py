"""When the user has finished speaking, when they cut in, and when a sound is only an echo.

Pure decisions over VAD probabilities and transcripts, so they can be tested without audio.
The numbers are the voice session's defaults; each is a trade between answering promptly
and cutting people off (people leave ~200 ms between turns; we need a transcript first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from os1.voice.audio import FRAME_S


@dataclass(frozen=True)
class TurnTaking:
    start_prob: float = 0.5  # a frame this likely to be speech may start an utterance…
    start_frames: int = 2  # …when this many come in a row (64 ms): clicks don't count
    stay_prob: float = 0.35  # below this a frame counts as silence (hysteresis)
    preroll_s: float = 0.2  # audio kept from before the onset (the first syllable's start)
    pause_s: float = 0.2  # silence after which what was said is transcribed (a partial)
    partial_every_s: float = 1.0  # …and speech after which it is transcribed anyway
    finished_s: float = 0.5  # end the turn after this much silence if the thought is done
    unfinished_s: float = 1.5  # …and after this much whatever the transcript says
    max_turn_s: float = 90.0  # a turn this long is answered anyway (a monologue)
    # While os1 speaks, the user cutting in:
    barge_prob: float = 0.6
    barge_frames: int = 3  # 96 ms of speech pauses os1's voice (the target is ≤ 200 ms)
    commit_s: float = 0.45  # speech this long is an interruption, not a "mhm"
    echo_margin: float = 2.0  # the user must be this much louder than os1's own echo

    def frames(self, seconds: float) -> int:
        return max(1, round(seconds / FRAME_S))


_WORD = re.compile(r"[a-z']+(?:-[a-z']+)*")

# Words a finished thought rarely ends on, even when Whisper put a full stop after them: the
# speaker paused mid-sentence. Only articles, conjunctions, possessives and fillers: a
# pronoun or a verb ends sentences all the time ("Thank you." "Yes, I did.").
CONTINUATIONS = frozenset((
    "a", "an", "the", "and", "but", "or", "so", "because", "if", "when", "while", "that",
    "which", "whose", "than", "of", "my", "your", "his", "her", "our", "their", "its", "um",
    "uh", "er",
))

# Sounds that keep a conversation going without taking the turn ("i see" is two words).
BACKCHANNELS = frozenset((
    "mhm", "mm", "mmm", "mm-hmm", "mhmm", "uh-huh", "huh", "hmm", "hm", "yeah", "yep", "yes",
    "yup", "okay", "ok", "right", "sure", "ah", "oh", "uh", "um", "er", "erm", "aha", "i",
    "see",
))


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def looks_finished(text: str) -> bool:
    """Does a transcript read as a finished thought (Whisper punctuates what it hears)?"""
    stripped = text.strip()
    found = words(stripped)
    if not found or stripped.endswith(("...", "…", ",", ";", ":", "-", "—")):
        return False
    if found[-1] in CONTINUATIONS:
        return False
    return stripped[-1] in ".!?\"'”"


def is_backchannel(text: str) -> bool:
    """A "mhm" or "okay" on its own: while os1 talks, no reason to stop; while it listens,
    no sign the user is done (they may go on, so the turn waits the longer silence)."""
    found = words(text)
    return 0 < len(found) <= 2 and all(w in BACKCHANNELS for w in found)


class EchoGate:
    """Without echo cancellation the microphone hears os1's own voice, and VAD rightly calls
    that speech. We gate on playback: while os1 speaks, a frame may start a barge-in only if
    it is clearly louder than the echo we expect (playback level × the room's coupling).

    The coupling is learnt. The first `calibration_frames` of each spoken reply are taken
    to be echo (people rarely cut in within a fifth of a second; barge-in waits for them), so
    even an echo louder than the starting guess is learnt before it can cut os1 off. Later,
    only frames that do not pass the gate teach it: a user speaking up never does, and one
    murmuring under the gate raises it only towards their murmur, so speaking up still
    gets them in."""

    calibration_frames = 6  # ~0.2 s

    def __init__(self, margin: float, start: float = 0.5) -> None:
        self.margin = margin
        self.coupling = start
        self._peak = 0.0  # the loudest echo ratio of the current calibration window
        self._calibrating = False

    def allows(self, level: float, playing_level: float) -> bool:
        if playing_level <= 1e-4:
            return True
        return level > self.margin * self.coupling * playing_level

    def observe(self, level: float, playing_level: float, *, calibrating: bool) -> None:
        """Learn from a frame heard while os1 was playing."""
        if playing_level <= 1e-4:
            return
        ratio = min(level / playing_level, 8.0)
        if calibrating:
            # Move quickly towards the loudest echo of this calibration window: down for
            # headphones, up for loud speakers.
            self._peak = max(self._peak, ratio) if self._calibrating else ratio
            self._calibrating = True
            self.coupling += 0.3 * (self._peak - self.coupling)
            return
        self._calibrating = False
        if self.allows(level, playing_level):
            return
        # Up quickly, down slowly: the coupling follows the echo's peaks, not its average
        # (peaks are what would cut os1 off).
        rate = 0.15 if ratio > self.coupling else 0.02
        self.coupling += rate * (ratio - self.coupling)
