"""`os1 bench voice`: voice-to-voice latency, word error rate and barge-in, on the real path.

Spoken user turns are synthesised (Piper, slightly slower than os1's own delivery), then
played into a real `VoiceSession` in real time through a file source — VAD, end-of-turn,
Whisper, the companion with memory and emotion reading, Piper, a sink on the wall clock.
Voice-to-voice is measured from the end of the user's voiced audio to the moment the reply's
first audio is handed to the sink (a file sink sounds it at once; a sound card adds its
own output latency, a few tens of milliseconds, on top).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from os1.voice.audio import RATE, resample
from os1.voice.files import FileSink, FileSource
from os1.voice.session import CutOff, Replied, Speaking, UserSaid, VoiceEvent, VoiceSession
from os1.voice.stt import Transcriber
from os1.voice.tts import PiperSpeech, Prosody, SpeechVoice, load_voice

log = logging.getLogger(__name__)

SCRIPT = [
    "Hey, I just got home, it was a long day.",
    "My manager moved the deadline up again.",
    "I think I need a quiet evening tonight.",
    "Do you have any ideas for a simple dinner?",
    "That sounds nice, thank you.",
    "My sister Catherine is visiting this weekend.",
    "I am a little nervous about it, we argued last time.",
    "Okay, I am going to make some tea now.",
]
LONG_REPLY = "Tell me a story about a lighthouse keeper and her cat."
INTERRUPTION = "Wait, sorry, I have to tell you something."


@dataclass
class _Log:
    events: list[tuple[float, VoiceEvent]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, event: VoiceEvent) -> None:
        self.events.append((time.monotonic(), event))
        self.changed.set()

    async def wait_for(self, kind: type, after: int, timeout: float) -> tuple[int, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for index in range(after, len(self.events)):
                if isinstance(self.events[index][1], kind):
                    return index, self.events[index][1]
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind.__name__} within {timeout:.0f} s")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)


async def _answered(record: _Log, mark: int) -> tuple[str, Replied, int]:
    """Wait for a spoken answer to what was said after ``mark``: (all that was heard, the
    answer, how many turns the session made of it)."""
    after = mark
    while True:
        index, replied = await record.wait_for(Replied, after, 180)
        if replied.text and not replied.interrupted:
            said = [event.text for _, event in record.events[mark:index]
                    if isinstance(event, UserSaid)]
            return " ".join(said), replied, len(said)
        after = index + 1  # os1 yielded: the user went on after a pause


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """Word-level Levenshtein distance over the reference's length, summed over turns."""
    errors = total = 0
    for ref, hyp in zip(reference, hypothesis, strict=True):
        r, h = _normal_words(ref), _normal_words(hyp)
        row = list(range(len(h) + 1))
        for i, word in enumerate(r, start=1):
            previous, row[0] = row[0], i
            for j, other in enumerate(h, start=1):
                previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1,
                                               previous + (word != other))
        errors += row[-1]
        total += len(r)
    return errors / max(1, total)


_NUMBERS = {"six": "6", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5"}


def _normal_words(text: str) -> list[str]:
    found = re.findall(r"[a-z0-9']+", text.lower().replace("'m", " am").replace("’m", " am"))
    return [_NUMBERS.get(w, w) for w in found]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


async def run_voice_bench(model: str = "default", turns: int = len(SCRIPT),
                          say: Callable[[str], None] = print,
                          voice_name: str = "joe") -> dict[str, Any]:
    from os1.app import close_companion, open_companion
    from os1.config import load_settings
    from os1.llm.select import prepare_model_file

    data_dir = Path(tempfile.mkdtemp(prefix="os1-bench-voice-"))
    settings = load_settings(overrides={"model": model, "data_dir": str(data_dir),
                                        "max_reply_tokens": 60}).settings
    say(f"preparing the {model} model, Whisper and the voice…")
    model_file = prepare_model_file(settings)
    companion = open_companion(settings, model_file)
    transcriber = Transcriber()
    voice: SpeechVoice = load_voice(voice_name)
    speaker = PiperSpeech()  # the user's voice, a little slower than os1's
    try:
        await companion.warm()
        await asyncio.to_thread(transcriber.warm)
        await asyncio.to_thread(voice.warm)
        lines = [*SCRIPT[:turns], LONG_REPLY, INTERRUPTION]
        clips = {text: await asyncio.to_thread(_synthesise, speaker, text) for text in lines}
        user = companion.store.user("bench")
        return await _converse(companion, user, transcriber, voice, clips, turns, say,
                               model_file.name if model_file else settings.llm_url)
    finally:
        await close_companion(companion)


def _synthesise(voice: SpeechVoice, text: str) -> np.ndarray:
    audio = np.concatenate(list(voice.speak(text, Prosody(rate=0.95))))
    return resample(audio, voice.sample_rate, RATE) * 0.8


async def _converse(companion: Any, user: Any, transcriber: Transcriber, voice: SpeechVoice,
                    clips: dict[str, np.ndarray], turns: int, say: Callable[[str], None],
                    model_name: str) -> dict[str, Any]:
    source = FileSource()
    sink = FileSink(rate=voice.sample_rate)
    source.on_start = sink.start
    record = _Log()
    session = VoiceSession(companion, user, transcriber, voice, source, sink,
                           on_event=record.add)
    running = asyncio.create_task(session.run())
    heard: list[str] = []
    spoken: list[str] = []
    rows: list[dict[str, Any]] = []
    splits = 0
    try:
        await asyncio.sleep(0.5)
        while sink.position() < sink.queued_until():  # os1's spoken opening ("I'm an AI…")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        for text in SCRIPT[:turns]:
            mark = len(record.events)
            source.say(clips[text])
            said, replied, parts = await _answered(record, mark)
            splits += parts - 1
            spoken.append(text)
            heard.append(said)
            row = {"said": text, "heard": said, "reply": replied.text,
                   "split_in": parts, "partial_reused": replied.timings.partial_reused,
                   **replied.timings.breakdown_ms()}
            rows.append(row)
            say(f"  v2v {row['voice_to_voice']:.0f} ms (end of turn {row['end_of_turn']:.0f}, "
                f"stt {row['stt']:.0f}, first token {row['first_token']:.0f}, first phrase "
                f"{row['first_sentence']:.0f}, tts {row['tts_first_audio']:.0f}) ← {text!r}")
            await asyncio.sleep(0.8)  # the person takes in the reply
        # Barge-in: ask for something long, then talk over it a second into its voice.
        mark = len(record.events)
        source.say(clips[LONG_REPLY])
        _, said = await record.wait_for(UserSaid, mark, 60)
        spoken.append(LONG_REPLY)
        heard.append(said.text)
        await record.wait_for(Speaking, mark, 120)
        begun = sink.position()
        while sink.position() < begun + sink.rate * 1.5:  # 1.5 s of os1's voice sounded
            await asyncio.sleep(0.02)
        barge_mark = len(record.events)
        source.say(clips[INTERRUPTION])
        _, cut = await record.wait_for(CutOff, barge_mark, 30)
        _, cut_reply = await record.wait_for(Replied, barge_mark, 60)
        said_at, said = await record.wait_for(UserSaid, barge_mark, 60)
        spoken.append(INTERRUPTION)
        heard.append(said.text)
        await record.wait_for(Replied, said_at, 180)
    finally:
        session.stop()
        source.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 30)
    v2v = [r["voice_to_voice"] for r in rows]

    def median(key: str) -> float:
        return round(float(statistics.median(float(r[key]) for r in rows)), 1)

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "model": model_name,
        "turns": len(rows),
        "v2v_p50_ms": round(statistics.median(v2v), 1),
        "v2v_p90_ms": round(_percentile(v2v, 0.9), 1),
        "wer": round(word_error_rate(spoken, heard), 4),
        # Only a cut-in over os1's sounding voice measures how fast it falls silent.
        "bargein_stop_ms": cut.stop_ms if cut.sounding else float("nan"),
        "bargein_stored_reply": cut_reply.text,
        "bargein_reply_interrupted": cut_reply.interrupted,
        "breakdown_p50_ms": {key: median(key) for key in (
            "end_of_turn", "stt", "first_token", "first_sentence", "tts_first_audio")},
        "partial_transcript_reused": sum(1 for r in rows if r["partial_reused"]),
        # A turn taken as over at a mid-sentence pause: os1 yielded when the user went on,
        # and answered the rest; the latency counted is the answered part's.
        "turns_split_at_a_pause": splits,
        "rows": rows,
    }
