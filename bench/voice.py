"""Voice-to-voice latency, STT word error rate and barge-in stop time, on the real path.

    python bench/voice.py [--model default|fast] [--turns 8] [--write docs/benchmarks.md]

Runs `os1.voice.benchmark` (what `os1 bench voice` runs): synthesised user turns are played
in real time into a VoiceSession with Whisper tiny.en, the companion (memory and emotion
reading on) and Piper. Targets on a 2-core CPU: median ≤ 1,500 ms with the default 1.5B
model, ≤ 1,000 ms with `--model fast`; barge-in stop ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from os1.voice.benchmark import SCRIPT, run_voice_bench
from report import machine, write_section

STAGES = {
    "end_of_turn": "end of turn (silence until the turn is judged over)",
    "stt": "speech to text after that (0 when the pause's partial was final)",
    "first_token": "model's first token",
    "first_sentence": "first phrase complete",
    "tts_first_audio": "its first audio synthesised",
}


def markdown(result: dict[str, Any], command: str) -> str:
    lines = [
        f"### Voice — {result['model']}",
        "",
        f"- Date: {result['date']}",
        f"- Machine: {machine()}",
        f"- Command: `{command}`",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| voice-to-voice, median | {result['v2v_p50_ms']:.0f} ms | ≤ 1,500 (default) / "
        "≤ 1,000 (fast) |",
        f"| voice-to-voice, p90 | {result['v2v_p90_ms']:.0f} ms | |",
        f"| barge-in: os1's voice paused after the user began | "
        f"{result['bargein_stop_ms']:.0f} ms | ≤ 200 |",
        f"| word error rate (Whisper tiny.en, {result['turns'] + 2} turns) | "
        f"{result['wer']:.3f} | |",
        f"| turns whose pause transcript was the final one | "
        f"{result['partial_transcript_reused']} of {result['turns']} | |",
        f"| turns taken as over at a mid-sentence pause (os1 yielded, then answered) | "
        f"{result['turns_split_at_a_pause']} | |",
        "",
        "Where the time goes (median per stage, ms):",
        "",
        "| stage | ms |",
        "|---|---|",
        *[f"| {label} | {result['breakdown_p50_ms'][key]:.0f} |"
          for key, label in STAGES.items()],
        "",
        f"After the barge-in the conversation kept: “{result['bargein_stored_reply']}”",
        "",
        "Per turn (voice-to-voice ms ← what was said / what Whisper heard):",
        "",
        *[f"- {row['voice_to_voice']:.0f} ← “{row['said']}” / “{row['heard']}”"
          for row in result["rows"]],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="default, fast, or a .gguf path")
    parser.add_argument("--turns", type=int, default=len(SCRIPT),
                        help=f"conversation turns before the barge-in (at most {len(SCRIPT)})")
    parser.add_argument("--write", type=Path, help="update this Markdown file")
    args = parser.parse_args()
    result = asyncio.run(run_voice_bench(args.model, args.turns,
                                         say=lambda text: print(text, file=sys.stderr)))
    command = "python bench/voice.py " + " ".join(sys.argv[1:])
    text = markdown(result, command.strip())
    print(text)
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    if args.write:
        write_section(args.write, "voice", Path(str(result["model"])).stem, text)


if __name__ == "__main__":
    main()
