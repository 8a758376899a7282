"""The duplex voice session: listen, decide the turn is over, answer aloud, yield the floor.

    source frames ─► VAD ─► utterance ─► (pause) partial transcript ─► companion.prepare
                                    └──► (end of turn) transcript ─► Companion.turn
    Companion.turn tokens ─► SpeechChunker ─► voice (TTS) ─► sink
    speech while os1 talks ─► echo gate ─► pause the sink ─► a "mhm"? resume : cut off

It knows nothing of where audio comes from or goes (a microphone, a file, a browser socket):
an `AudioSource` and an `AudioSink` are all it is given. One frame loop owns all state; the
reply (model, chunking, synthesis) runs in tasks beside it, so listening never stops while
os1 talks — that is what makes barge-in possible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from os1.affect.engine import Audio
from os1.companion import Companion
from os1.events import AffectRead, Done, Token, TurnError
from os1.store.base import User
from os1.voice.audio import FRAME_S, RATE, AudioSink, AudioSource, resample, rms
from os1.voice.chunks import SpeechChunker
from os1.voice.expression import prosody_for
from os1.voice.stt import Transcriber, Transcript
from os1.voice.tts import Prosody, SpeechVoice
from os1.voice.turn_taking import (
    EchoGate,
    TurnTaking,
    is_backchannel,
    looks_finished,
    words,
)
from os1.voice.vad import VoiceActivity

log = logging.getLogger(__name__)
Clock = Callable[[], float]


# -- what the session reports ---------------------------------------------------------


@dataclass
class TurnTimings:
    """Monotonic clock readings for one exchange, for the benchmark's breakdown."""

    speech_end: float = 0.0  # the end of the user's last voiced frame
    decided: float = 0.0  # the turn was judged over
    transcribed: float = 0.0  # its transcript was ready
    partial_reused: bool = False  # the pause's transcript was the final one
    first_token: float = 0.0
    first_chunk: float = 0.0  # the first piece of text to speak was complete
    first_audio: float = 0.0  # its audio was handed to the sink

    def breakdown_ms(self) -> dict[str, float]:
        def ms(a: float, b: float) -> float:
            return round((b - a) * 1000, 1) if a and b else float("nan")

        return {
            "end_of_turn": ms(self.speech_end, self.decided),
            "stt": ms(self.decided, self.transcribed),
            "first_token": ms(self.transcribed, self.first_token),
            "first_sentence": ms(self.first_token, self.first_chunk),
            "tts_first_audio": ms(self.first_chunk, self.first_audio),
            "voice_to_voice": ms(self.speech_end, self.first_audio),
        }


@dataclass(frozen=True)
class UserSaid:
    text: str
    timings: TurnTimings


@dataclass(frozen=True)
class Speaking:
    text: str  # a piece of the reply, handed to the voice


@dataclass(frozen=True)
class CutOff:
    """The user spoke during os1's reply: it was paused `stop_ms` after their speech began.

    `sounding` is False when the speech began in a gap between two phrases (os1 was
    still composing the next one): the reply is paused all the same, but there was no
    voice to stop, so `stop_ms` says nothing about how fast os1 falls silent.
    """

    stop_ms: float
    resumed: bool  # it was only a "mhm": os1 went on
    sounding: bool = True


@dataclass(frozen=True)
class Replied:
    text: str  # what the conversation keeps: what was heard
    interrupted: bool
    timings: TurnTimings


@dataclass(frozen=True)
class Ignored:
    text: str  # a backchannel or noise that was not taken as a turn
    why: str


@dataclass(frozen=True)
class Problem:
    message: str


@dataclass(frozen=True)
class Greeted:
    text: str  # the session's opening, in which os1 says it is an AI


@dataclass(frozen=True)
class SaidFirst:
    text: str  # a check-in or a reminder os1 said without being asked


VoiceEvent = Greeted | SaidFirst | UserSaid | Speaking | CutOff | Replied | Ignored | Problem
Outreach = Callable[[], Awaitable[list[str]]]


# -- the reply in progress ---------------------------------------------------------------


@dataclass
class _Piece:
    text: str
    start: int  # heard-sample positions in the sink
    end: int


@dataclass
class _Reply:
    """One spoken reply: the model's turn, the synthesis queue, and what has been heard."""

    timings: TurnTimings
    prosody: Prosody = field(default_factory=Prosody)
    chunker: SpeechChunker = field(default_factory=SpeechChunker)
    texts: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    pieces: list[_Piece] = field(default_factory=list)
    written_done: bool = False
    cut_at: int | None = None  # sink position when the user cut os1 off
    heard_all: asyncio.Event = field(default_factory=asyncio.Event)
    model_task: asyncio.Task[None] | None = None
    voice_task: asyncio.Task[None] | None = None

    def finish_text(self) -> None:
        if not self.written_done:
            self.written_done = True
            for text in self.chunker.flush():
                self.texts.put_nowait(text)
            self.texts.put_nowait(None)

    def heard(self, written: str) -> tuple[str, bool]:
        """What of ``written`` the user heard, and whether that was all of it."""
        if self.cut_at is None:
            return written, True  # the voice task saw it through (or it is still going)
        all_spoken = self.written_done and self.texts.empty()
        if all_spoken and (not self.pieces or self.cut_at >= self.pieces[-1].end):
            return written, True  # cut off just after its last word
        position = self.cut_at
        said: list[str] = []
        for piece in self.pieces:
            if piece.end <= position:
                said.append(piece.text)
            elif piece.start < position:  # cut inside this piece: the words heard so far
                share = (position - piece.start) / max(1, piece.end - piece.start)
                spoken = piece.text.split()
                said.extend(spoken[: int(len(spoken) * share)])
                break
            else:
                break
        text = " ".join(said).strip()
        if text and text[-1] not in ".!?…":
            text += "…"  # the conversation shows where os1 was cut off
        return text, False


class _Delivery:
    """The companion's side of a spoken reply (see `companion.Delivery`)."""

    def __init__(self, reply: _Reply, cut: Callable[[_Reply], None]) -> None:
        self._reply = reply
        self._cut = cut

    async def delivered(self) -> None:
        log.debug("the model finished writing; waiting for the voice")
        self._reply.finish_text()
        await self._reply.heard_all.wait()
        log.debug("the reply was heard (or cut off)")

    def received(self, written: str) -> tuple[str, bool]:
        # Asked once the turn is over. If the voice has not seen it through (a model error,
        # a cancelled turn), it stops here: what is stored is what had sounded by now.
        if not self._reply.heard_all.is_set():
            self._cut(self._reply)
        return self._reply.heard(written)


# -- the session ----------------------------------------------------------------------------


class VoiceSession:
    def __init__(
        self,
        companion: Companion,
        user: User,
        transcriber: Transcriber,
        voice: SpeechVoice,
        source: AudioSource,
        sink: AudioSink,
        *,
        turn_taking: TurnTaking | None = None,
        on_event: Callable[[VoiceEvent], None] | None = None,
        clock: Clock = time.monotonic,
        wake: WakeGate | None = None,
        greet_aloud: bool = True,
        outreach: Outreach | None = None,
        outreach_every_s: float = 30.0,
    ) -> None:
        """``greet_aloud`` False: the opening is only reported (a recording played in cannot
        wait for os1 to finish saying it). ``outreach``: what os1 should say first now (due
        check-ins and reminders, which join the conversation as it says them); asked every
        ``outreach_every_s`` while nobody is speaking, and said aloud."""
        self.companion = companion
        self.user = user
        self.transcriber = transcriber
        self.voice = voice
        self.source = source
        self.sink = sink
        self.rules = turn_taking or TurnTaking()
        self._emit = on_event or (lambda _event: None)
        self._clock = clock
        self._wake = wake
        self._greet_aloud = greet_aloud
        self._outreach = outreach
        self._outreach_every_s = outreach_every_s
        self._outreach_task: asyncio.Task[None] | None = None
        self._looked_at: float | None = None
        self._vad = VoiceActivity()
        self._echo = EchoGate(self.rules.echo_margin)
        self._reply: _Reply | None = None
        self._stopping = False
        self._paused = False  # the sink is paused (speech over os1, not yet decided)
        self._last_position = 0

    def stop(self) -> None:
        """End the session after the current frame (Ctrl-C, a closed socket)."""
        self._stopping = True

    @property
    def busy(self) -> bool:
        """Is os1 thinking or speaking?"""
        return self._reply is not None

    async def run(self, until_idle: Callable[[], bool] | None = None) -> None:
        """Listen and answer until the source ends, `stop()`, or ``until_idle()`` is true
        while nothing is being said or answered (a file that has been played out)."""
        await self.companion.history(self.user)  # load the conversation before it's needed
        await self._greet()
        listener = _Listener(self)
        try:
            async for frame in self.source.frames():
                await listener.hear(frame)
                if self._stopping:
                    break
                if listener.idle and not self.busy:
                    self._maybe_reach_out()
                if (until_idle is not None and until_idle() and listener.idle and not self.busy
                        and not self._reaching_out):
                    break
        finally:
            if self._outreach_task is not None and not self._outreach_task.done():
                self._outreach_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._outreach_task
            await self._end_reply(cut=True)

    async def _greet(self) -> None:
        """Say the session's opening (that os1 is an AI) before listening for the first turn."""
        opening = await self.companion.greet(self.user)
        if not opening:
            return
        self._emit(Greeted(opening))
        if not self._greet_aloud:
            return
        try:
            self.sink.play(await asyncio.to_thread(self._synthesise, opening, Prosody()))
        except Exception as exc:  # a voice that fails is reported; the conversation goes on
            log.exception("speaking the opening failed")
            self._emit(Problem(f"os1 could not speak: {exc}"))

    @property
    def _reaching_out(self) -> bool:
        return self._outreach_task is not None and not self._outreach_task.done()

    def _maybe_reach_out(self) -> None:
        """Between turns, now and then: say what is due (a reminder at its time)."""
        now = self._clock()
        if (self._outreach is None or self._reaching_out or (
                self._looked_at is not None
                and now - self._looked_at < self._outreach_every_s)):
            return
        self._looked_at = now
        self._outreach_task = asyncio.create_task(self._reach_out(self._outreach))

    async def _reach_out(self, outreach: Outreach) -> None:
        try:
            said = await outreach()
        except Exception as exc:  # a locked database: the next look tries again
            log.warning("check-ins could not be read: %s", exc)
            return
        for text in said:
            self._emit(SaidFirst(text))
            try:
                self.sink.play(await asyncio.to_thread(self._synthesise, text, Prosody()))
            except Exception as exc:
                log.exception("speaking a check-in failed")
                self._emit(Problem(f"os1 could not speak: {exc}"))

    # -- replies ---------------------------------------------------------------------

    async def _answer(self, transcript: Transcript, audio: np.ndarray,
                      timings: TurnTimings) -> None:
        await self._end_reply(cut=True)  # one reply at a time
        if self._paused:  # paused for a reply that has ended since: play the next at once
            self._discard()
        reply = _Reply(timings)
        self._reply = reply
        reply.voice_task = asyncio.create_task(self._speak(reply))
        reply.model_task = asyncio.create_task(self._think(reply, transcript.text, audio))
        await asyncio.sleep(0)  # let the turn begin (store the words) before anything cuts it

    async def _think(self, reply: _Reply, text: str, audio: np.ndarray) -> None:
        final = written = ""
        interrupted = True
        try:
            async for event in self.companion.turn(self.user, text, Audio(audio, RATE),
                                                   _Delivery(reply, self._cut)):
                if isinstance(event, AffectRead):
                    reply.prosody = prosody_for(event.emotions, event.valence, event.arousal)
                elif isinstance(event, Token):
                    written += event.text
                    if not reply.timings.first_token:
                        reply.timings.first_token = self._clock()
                    for piece in reply.chunker.feed(event.text):
                        if not reply.timings.first_chunk:
                            reply.timings.first_chunk = self._clock()
                        reply.texts.put_nowait(piece)
                elif isinstance(event, TurnError):
                    self._emit(Problem(event.message))
                elif isinstance(event, Done):
                    final, interrupted = event.reply, False
        finally:
            reply.finish_text()
            if interrupted:  # no Done: cut off, or an error; what was heard is stored
                self._cut(reply)
                if reply.voice_task is not None and not reply.voice_task.done():
                    reply.voice_task.cancel()
                final, _ = reply.heard(written.strip())
            self._emit(Replied(final, interrupted, reply.timings))
            if self._reply is reply:
                self._reply = None

    async def _speak(self, reply: _Reply) -> None:
        """Synthesise each piece as it comes and queue it on the sink; then wait until the
        last of it has been heard."""
        first = True
        try:
            while True:
                text = await reply.texts.get()
                if text is None:
                    break
                self._emit(Speaking(text))
                audio = await asyncio.to_thread(self._synthesise, text, reply.prosody)
                if reply.cut_at is not None:
                    return
                start = self.sink.queued_until()
                self.sink.play(audio)
                reply.pieces.append(_Piece(text, start, start + len(audio)))
                if first:
                    reply.timings.first_audio = self._clock()
                    first = False
            log.debug("all text synthesised; %d samples left to sound",
                      reply.pieces[-1].end - self.sink.position() if reply.pieces else 0)
            # Until the last piece has sounded, or the sink has nothing left (a sink whose
            # count drifts by a sample must not keep the turn open).
            while (reply.pieces and self.sink.position() < reply.pieces[-1].end
                   and (self._paused or self.sink.queued_until() > self.sink.position())):
                await asyncio.sleep(0.02)
                if reply.cut_at is not None:
                    return
        except Exception as exc:  # a voice that fails must not take the conversation down
            log.exception("speaking failed")
            self._emit(Problem(f"os1 could not speak: {exc}"))
            self._cut(reply)  # what was not heard is not stored
        finally:
            reply.heard_all.set()

    def _synthesise(self, text: str, prosody: Prosody) -> np.ndarray:
        parts = list(self.voice.speak(text, prosody))
        audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        return resample(audio, self.voice.sample_rate, self.sink.rate)

    def _pause_reply(self) -> bool:
        reply = self._reply
        if reply is None or self._paused:
            return False
        self._paused = True
        self.sink.pause()
        log.debug("os1's voice paused: the user is speaking")
        return True

    def _resume_reply(self) -> None:
        if not self._paused:
            return
        reply = self._reply
        if reply is not None and reply.cut_at is None:
            self._paused = False
            self.sink.resume()
            log.debug("os1's voice resumed")
        else:  # the reply it was paused for has ended meanwhile
            self._discard()

    def _position(self) -> int:
        """The sink's position, or the last one known if the device has gone."""
        with contextlib.suppress(Exception):
            self._last_position = self.sink.position()
        return self._last_position

    def _discard(self) -> None:
        with contextlib.suppress(Exception):  # a vanished device has nothing left to drop
            self.sink.discard()
        self._paused = False

    def _cut(self, reply: _Reply) -> None:
        """Stop the reply's voice where it is; what sounded until now is what was heard."""
        if reply.cut_at is None:
            reply.cut_at = self._position()
            self._discard()

    async def _end_reply(self, *, cut: bool) -> None:
        """Cut the current reply off where the user stopped hearing it, and wait for it to
        be stored."""
        reply = self._reply
        if reply is None:
            return
        if cut:
            self._cut(reply)
        reply.heard_all.set()
        for task in (reply.model_task, reply.voice_task):
            if task is not None and not task.done():
                task.cancel()
        for task in (reply.model_task, reply.voice_task):
            if task is None:
                continue
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # we are being cancelled ourselves (Ctrl-C): let it through
            except Exception:
                log.exception("a reply task failed")
        if self._reply is reply:
            self._reply = None

    def sounding(self) -> bool:
        reply = self._reply
        return (reply is not None and not self._paused
                and self.sink.position() < self.sink.queued_until())


class WakeGate(Protocol):
    """A wake-word detector (`wakeword.WakeWordGate`): true once the phrase was heard."""

    def heard(self, frame: np.ndarray) -> bool: ...

    def reset(self) -> None: ...


# -- listening ------------------------------------------------------------------------------


class _Listener:
    """The frame loop's state: the utterance being heard, its transcripts, barge-in."""

    def __init__(self, session: VoiceSession) -> None:
        self.s = session
        rules = session.rules
        self.preroll: deque[np.ndarray] = deque(maxlen=rules.frames(rules.preroll_s))
        self.onset = 0  # speech-like frames in a row before an utterance starts
        self.utterance: list[np.ndarray] | None = None
        self.voiced = 0  # voiced frames in the utterance
        self.silence = 0  # silent frames since the last voiced one
        self.partial: Transcript | None = None
        self.partial_frames = 0  # utterance frames the partial covered
        self.partial_task: asyncio.Task[Transcript] | None = None
        self.prepared = ""
        self.preparing: asyncio.Task[None] | None = None
        self.frames_seen = 0
        self.barge_started: float | None = None  # when speech began over os1's voice
        self.awake_until = 0.0
        self.speech_end = 0.0
        self.playing_levels: deque[float] = deque(maxlen=4)
        self.playing_frames = 0  # frames os1 has been sounding without a break

    @property
    def idle(self) -> bool:
        return self.utterance is None

    def _now_audio(self) -> float:
        """The moment the latest frame's last sample was spoken."""
        started = getattr(self.s.source, "started_at", None)
        if started is None:
            return self.s._clock()
        return float(started) + self.frames_seen * FRAME_S

    async def hear(self, frame: np.ndarray) -> None:
        s, rules = self.s, self.s.rules
        self.frames_seen += 1
        if s._wake is not None and not self._awake(frame):
            return
        probability = s._vad.probability(frame)
        level = rms(frame)
        playing = s.sounding()
        # The loudest of os1's voice over the last ~130 ms: a room's echo lingers.
        self.playing_levels.append(s.sink.playing_level() if playing else 0.0)
        playing_level = max(self.playing_levels)
        self.playing_frames = self.playing_frames + 1 if playing else 0
        if self.utterance is None:
            self.preroll.append(frame)
            if playing:
                calibrating = self.playing_frames <= EchoGate.calibration_frames
                s._echo.observe(level, playing_level, calibrating=calibrating)
                starts = (not calibrating and probability >= rules.barge_prob
                          and s._echo.allows(level, playing_level))
                needed = rules.barge_frames
            else:
                starts, needed = probability >= rules.start_prob, rules.start_frames
            self.onset = self.onset + 1 if starts else 0
            if self.onset >= needed:
                self._begin(playing, needed)
            return
        self.utterance.append(frame)
        if probability >= rules.stay_prob:
            self.voiced += 1
            self.silence = 0
            self.speech_end = self._now_audio()
        else:
            self.silence += 1
        await self._follow()

    def _awake(self, frame: np.ndarray) -> bool:
        s = self.s
        assert s._wake is not None
        now = s._clock()
        if now < self.awake_until or s.busy or self.utterance is not None:
            self.awake_until = max(self.awake_until, now + 20.0)  # a conversation keeps it up
            return True
        if s._wake.heard(frame):
            s._wake.reset()
            self.awake_until = now + 20.0
            s._emit(Ignored("", "wake word heard: listening"))
        return False

    def _begin(self, playing: bool, onset_frames: int) -> None:
        s = self.s
        log.debug("speech began (os1 %s)", "speaking" if playing else
                  "thinking" if s.busy else "listening")
        self.utterance = list(self.preroll)
        self.voiced = self.onset
        self.silence = 0
        self.onset = 0
        self.partial, self.partial_frames, self.prepared = None, 0, ""
        self.speech_end = self._now_audio()
        if s.busy:
            # Speech over os1 (or while it thinks): pause its voice at once; whether this
            # is an interruption or a "mhm" is decided as the speech goes on.
            self.barge_started = self._now_audio() - onset_frames * FRAME_S
            if s._pause_reply():
                stop_ms = (s._clock() - self.barge_started) * 1000
                s._emit(CutOff(round(stop_ms, 1), resumed=False, sounding=playing))

    async def _follow(self) -> None:
        s, rules = self.s, self.s.rules
        assert self.utterance is not None
        if self.barge_started is not None and self.voiced * FRAME_S >= rules.commit_s:
            self.barge_started = None
            await s._end_reply(cut=True)  # a real interruption: os1 yields the floor
        if self.partial_task is not None and self.partial_task.done():
            self.partial = self._collect(self.partial_task)
            self.partial_task = None
            if self.partial is not None:
                log.debug("partial transcript of %d frames in %.0f ms: %r", self.partial_frames,
                          self.partial.elapsed_s * 1000, self.partial.text)
            await self._maybe_prepare()
        silence_s = self.silence * FRAME_S
        spoken_frames = len(self.utterance) - self.silence
        covered = self.partial is not None and self.partial_frames >= spoken_frames
        # Transcribe what there is at each pause, and every `partial_every_s` of speech
        # while it goes on: each partial lets the model read the words so far (`prepare`),
        # so at the end of the turn little is left for it to read.
        new_speech_s = (spoken_frames - self.partial_frames) * FRAME_S
        if self.partial_task is None and not covered and (
                silence_s >= rules.pause_s or new_speech_s >= rules.partial_every_s):
            audio = np.concatenate(self.utterance)
            self.partial_frames = len(self.utterance)
            self.partial_task = asyncio.create_task(
                asyncio.to_thread(s.transcriber.transcribe, audio))
        finished = (covered and self.partial is not None and looks_finished(self.partial.text)
                    and not is_backchannel(self.partial.text))
        long_turn = len(self.utterance) * FRAME_S >= rules.max_turn_s
        if (silence_s >= rules.finished_s and finished) or silence_s >= rules.unfinished_s \
                or long_turn:
            await self._end_turn()

    def _collect(self, task: asyncio.Task[Transcript]) -> Transcript | None:
        try:
            return task.result()
        except Exception as exc:
            log.exception("transcribing failed")
            self.s._emit(Problem(f"os1 could not transcribe that: {exc}"))
            return None

    async def _maybe_prepare(self) -> None:
        s = self.s
        partial = self.partial
        if (partial is None or partial.empty or s.busy or partial.text == self.prepared
                or is_backchannel(partial.text)
                or (self.preparing is not None and not self.preparing.done())):
            return
        self.prepared = partial.text
        # Beside the frame loop: composing the draft's note takes a few tens of ms.
        self.preparing = asyncio.create_task(self._prepare(partial.text))

    async def _prepare(self, text: str) -> None:
        try:
            await self.s.companion.prepare(self.s.user, text)
        except Exception:  # only ever an optimisation
            log.debug("preparing the prompt failed", exc_info=True)

    async def _end_turn(self) -> None:
        s = self.s
        assert self.utterance is not None
        timings = TurnTimings(speech_end=self.speech_end, decided=s._clock())
        voiced = self.utterance[: len(self.utterance) - max(0, self.silence - 3)]
        audio = np.concatenate(voiced)
        covered = self.partial is not None and self.partial_frames >= len(voiced)
        if self.partial_task is not None:  # a transcript of (nearly) all of it is coming
            await asyncio.wait([self.partial_task])
            self.partial = self._collect(self.partial_task)
            self.partial_task = None
            covered = self.partial is not None and self.partial_frames >= len(voiced)
        log.debug("end of turn after %d silent frames; partial covers %d of %d frames",
                  self.silence, self.partial_frames, len(voiced))
        if covered and self.partial is not None:
            transcript, timings.partial_reused = self.partial, True
        else:
            try:
                transcript = await asyncio.to_thread(s.transcriber.transcribe, audio)
            except Exception as exc:
                log.exception("transcribing failed")
                s._emit(Problem(f"os1 could not transcribe that: {exc}"))
                transcript = Transcript("", 1.0, len(audio) / RATE, 0.0)
        timings.transcribed = s._clock()
        barge = self.barge_started is not None
        self.utterance, self.partial, self.partial_task = None, None, None
        self.barge_started = None
        backchannel = barge and s.busy and is_backchannel(transcript.text)
        if transcript.empty or backchannel or not words(transcript.text):
            # Noise, or a "mhm" while os1 was talking: os1 goes on where it paused.
            s._emit(Ignored(transcript.text, "backchannel" if backchannel else "noise"))
            if barge:
                s._resume_reply()
                s._emit(CutOff(0.0, resumed=True))
            return
        s._emit(UserSaid(transcript.text, timings))
        await s._answer(transcript, audio, timings)

