"""`os1 voice`: talk with os1 through the microphone and speakers, or headless on files.

    os1 voice                         microphone and speakers (PortAudio)
    os1 voice --push-to-talk          Enter starts and ends each thing you say
    os1 voice --wake-word okay_nabu   listens only after the wake phrase
    os1 voice --in talk.wav --out reply.wav   the same session on files, in real time
    os1 voice --devices               list microphones and speakers
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from os1.config import Settings
from os1.voice.audio import AudioFormatError, read_wav, to_session, write_wav
from os1.voice.session import (
    CutOff,
    Greeted,
    Ignored,
    Problem,
    Replied,
    SaidFirst,
    UserSaid,
    VoiceEvent,
    VoiceSession,
)
from os1.voice.stt import Transcriber
from os1.voice.tts import SpeechVoice
from os1.voice.wakeword import PHRASES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_LONGEST_INPUT_S = 3600  # an hour of audio is read; more is almost surely a mistake


def add_voice_parser(verbs: Any) -> None:
    voice = verbs.add_parser("voice", help="talk with os1 by voice (microphone, or WAV files)")
    voice.add_argument("--in", dest="input", type=Path, metavar="FILE.wav",
                       help="play this recording to os1 in real time instead of a microphone")
    voice.add_argument("--out", dest="output", type=Path, metavar="FILE.wav",
                       help="write os1's voice here (with --in), on the recording's timeline")
    voice.add_argument("--voice", help="joe (default), slt or espeak (setting: voice)")
    voice.add_argument("--wake-word", choices=PHRASES, metavar="PHRASE",
                       help=f"listen only after a wake phrase: {', '.join(PHRASES)}")
    voice.add_argument("--push-to-talk", action="store_true",
                       help="press Enter to start talking and Enter again when done")
    voice.add_argument("--devices", action="store_true", help="list audio devices and exit")
    voice.add_argument("--model", help="default, fast, or a path to a .gguf file")
    voice.add_argument("--user", dest="user_name", help="whose conversation to continue")
    voice.add_argument("--new", action="store_true", help="start a new conversation")


def run_voice(settings: Settings, args: argparse.Namespace, console: Console,
              errors: Console) -> int:
    if args.devices:
        from os1.voice.devices import list_devices

        console.print(list_devices(), markup=False)
        return EXIT_OK
    if (args.input is None) != (args.output is None):
        errors.print("[red]--in and --out go together: os1 voice --in talk.wav --out "
                     "reply.wav[/red]")
        return EXIT_USAGE
    samples = None
    if args.input is not None:
        try:
            clip = read_wav(args.input)
        except AudioFormatError as exc:
            errors.print(f"[red]{exc}[/red]")
            return EXIT_USAGE
        if clip.seconds == 0:
            errors.print(f"[red]{args.input} holds no audio.[/red]")
            return EXIT_USAGE
        if clip.seconds > _LONGEST_INPUT_S:
            errors.print(f"[red]{args.input} is {clip.seconds / 60:.0f} minutes long; os1 "
                         f"voice reads at most {_LONGEST_INPUT_S // 60} minutes.[/red]")
            return EXIT_USAGE
        samples = to_session(clip.samples, clip.rate)
    return asyncio.run(_talk(settings, args, samples, console, errors))


async def _talk(settings: Settings, args: argparse.Namespace, samples: Any,
                console: Console, errors: Console) -> int:
    from os1.app import close_companion
    from os1.cli import _prepare
    from os1.system_packages import MissingSystemPackage
    from os1.voice.devices import NoAudioDevice
    from os1.voice.stt import SpeechToTextError
    from os1.voice.tts import SpeechError, load_voice

    try:
        voice = load_voice(args.voice or settings.voice)
        source, sink, wake = _devices(args, samples, voice.sample_rate)
    except (SpeechError, NoAudioDevice, MissingSystemPackage, ValueError) as exc:
        errors.print(f"[red]{exc}[/red]")
        return EXIT_FAILED
    rig = _Rig(Transcriber(), voice, source, sink, wake)
    companion = await _prepare(settings, errors)
    try:
        return await _converse(companion, settings, args, rig, console, errors)
    except (NoAudioDevice, SpeechToTextError, SpeechError, MissingSystemPackage) as exc:
        errors.print(f"[red]{exc}[/red]")
        return EXIT_FAILED
    finally:
        if args.output is not None:  # even after Ctrl-C: what was said so far is kept
            _write_output(sink, args.output, errors)
        with contextlib.suppress(Exception):
            close = getattr(sink, "close", None)
            if close is not None:
                close()
        await close_companion(companion)


@dataclass(frozen=True)
class _Rig:
    """What the session hears and speaks with."""

    transcriber: Transcriber
    voice: SpeechVoice
    source: Any  # AudioSource
    sink: Any  # AudioSink
    wake: Any  # WakeWordGate | None


async def _converse(companion: Any, settings: Settings, args: argparse.Namespace, rig: _Rig,
                    console: Console, errors: Console) -> int:
    from os1.terminal.chat import AFFECT_DISCLOSURE

    source = rig.source
    with errors.status("Loading speech recognition and the voice…"):
        await asyncio.to_thread(rig.transcriber.warm)
        await asyncio.to_thread(rig.voice.warm)
    user = await asyncio.to_thread(companion.store.user, settings.user_name)
    if args.new:
        await companion.new_conversation(user)
    if settings.affect:
        errors.print(f"[dim]{AFFECT_DISCLOSURE}[/dim]")
    session = VoiceSession(companion, user, rig.transcriber, rig.voice, source, rig.sink,
                           on_event=lambda event: _show(event, console, errors),
                           wake=rig.wake, greet_aloud=args.input is None,
                           # A recording played in is one conversation, not a day: nothing
                           # falls due in it, and os1 must not talk over it.
                           outreach=_outreach(companion, settings, user)
                           if args.input is None else None)
    if args.input is None:
        errors.print("[dim]Listening… speak any time; talk over os1 to interrupt it. "
                     "Ctrl-C ends.[/dim]")
    toggler = await _start_push_to_talk(source, errors) if args.push_to_talk else None
    try:
        headless = getattr(source, "exhausted", None) is not None
        await session.run(until_idle=(lambda: bool(source.exhausted)) if headless else None)
    finally:
        if toggler is not None:
            toggler.cancel()
    return EXIT_OK


def _outreach(companion: Any, settings: Settings, user: Any) -> Any:
    """Check-ins and reminders, said aloud when due (the same ones the chat shows)."""
    from os1.checkins.outreach import Outreach
    from os1.checkins.scheduler import CheckIns

    outreach = Outreach(companion, CheckIns(companion.store, settings))

    async def take() -> list[str]:
        return [checkin.text for checkin in await outreach.take(user)]

    return take


def _write_output(sink: Any, path: Path, errors: Console) -> None:
    from os1.voice.files import FileSink

    if isinstance(sink, FileSink):
        write_wav(path, sink.timeline(), sink.rate)
        errors.print(f"[dim]os1's voice written to {path}[/dim]")


def _devices(args: argparse.Namespace, samples: Any, rate: int) -> tuple[Any, Any, Any]:
    from os1.voice.files import FileSink, FileSource

    wake = None
    if args.wake_word:
        from os1.voice.wakeword import WakeWordGate

        wake = WakeWordGate(args.wake_word)
    if samples is not None:
        recording, file_sink = FileSource(samples), FileSink(rate=rate)
        recording.on_start = file_sink.start
        return recording, file_sink, wake
    from os1.voice.devices import MicrophoneSource, SpeakerSink
    from os1.voice.push_to_talk import PushToTalk

    microphone: Any = MicrophoneSource()
    if args.push_to_talk:
        microphone = PushToTalk(microphone)
    return microphone, SpeakerSink(), wake


async def _start_push_to_talk(source: Any, errors: Console) -> asyncio.Task[None] | None:
    from os1.voice.push_to_talk import PushToTalk, toggle_on_enter

    if not isinstance(source, PushToTalk):
        return None
    errors.print("[dim]Push to talk: press Enter, speak, press Enter again.[/dim]")
    return asyncio.create_task(toggle_on_enter(source))


def _show(event: VoiceEvent, console: Console, errors: Console) -> None:
    if isinstance(event, Greeted | SaidFirst):
        console.print(f"[bold magenta]os1:[/bold magenta] {event.text}", highlight=False)
    elif isinstance(event, UserSaid):
        console.print(f"[bold]You:[/bold] {event.text}", highlight=False)
    elif isinstance(event, Replied):
        if event.text:
            cut = " [dim](cut off)[/dim]" if event.interrupted else ""
            console.print(f"[bold magenta]os1:[/bold magenta] {event.text}{cut}",
                          highlight=False)
    elif isinstance(event, CutOff) and not event.resumed and event.sounding:
        errors.print(f"[dim]· you cut in; os1 stopped after {event.stop_ms:.0f} ms[/dim]")
    elif isinstance(event, Ignored) and event.why.startswith("wake"):
        errors.print("[dim]· listening[/dim]")
    elif isinstance(event, Problem):
        errors.print(f"[red]{event.message}[/red]")
