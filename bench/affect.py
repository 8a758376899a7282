"""Affect benchmarks: GoEmotions, DailyDialog and ESConv, written into docs/benchmarks.md.

    OPENBLAS_NUM_THREADS=1 python bench/affect.py --goemotions DIR --dailydialog DIR \
        --esconv DIR --write docs/benchmarks.md

The measuring itself is `os1 bench affect` (os1.affect.evaluate); this script adds the date, the
machine and the exact command, and rewrites its section of the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from os1.affect.evaluate import run_affect
from report import machine, write_section

TARGET_28, TARGET_EKMAN, TARGET_MS = 0.46, 0.58, 20.0


def section(result: dict[str, Any], command: str) -> str:
    lines = ["### Emotion reading and support strategy — measured", "",
             f"{date.today().isoformat()} · {machine()} · `{command}`", ""]
    if "macro_f1_28" in result:
        def mark(value: float, target: float) -> str:
            return "meets" if value >= target else "**misses**"

        lines += [
            f"GoEmotions {result['split']} ({result['texts']:,} comments, never used for a "
            "training decision), one text at a time as in chat:",
            "",
            "| | macro-F1 | target | |",
            "|---|---|---|---|",
            f"| 28 labels | **{result['macro_f1_28']:.3f}** | ≥ {TARGET_28} | "
            f"{mark(result['macro_f1_28'], TARGET_28)} |",
            f"| Ekman 7 | **{result['macro_f1_ekman']:.3f}** | ≥ {TARGET_EKMAN} | "
            f"{mark(result['macro_f1_ekman'], TARGET_EKMAN)} |",
            f"| sentiment 4 | {result['macro_f1_sentiment']:.3f} | | |",
            "",
            f"Time per text: mean **{result['ms_per_text']} ms**, p95 "
            f"{result['p95_ms_per_text']} ms: "
            + ("meets" if result["ms_per_text"] < TARGET_MS else "**misses**")
            + f" the < {TARGET_MS:.0f} ms target on this machine (tokenising, six encoder "
            "layers, heads; one thread). Anchors: GoEmotions paper BERT-base 0.46 (28); a MiniLM "
            "linear head ~0.40 (28) / 0.52 (Ekman).",
            "",
            f"The whole affect step of a chat turn (language check, reader, strategy, the mood "
            f"trend's query over a month of readings in SQLite): mean {result['turn_ms_mean']} "
            f"ms, p95 {result['turn_ms_p95']} ms.",
        ]
    if "dailydialog" in result:
        dd = result["dailydialog"]
        lines += [
            "",
            f"DailyDialog {dd['split']} ({dd['utterances']:,} utterances, 7 classes incl. none): "
            f"macro-F1 **{dd['macro_f1']:.3f}** with the chat gate; "
            f"{dd['macro_f1_reddit_thresholds']:.3f} with GoEmotions' own thresholds. "
            f"Predicted none {dd['predicted_none']:.1%} of utterances (actual "
            f"{dd['actual_none']:.1%}).",
        ]
    if "esconv" in result:
        es = result["esconv"]
        lines += [
            "",
            f"ESConv test ({es['turns']:,} supporter turns, 8 strategies): accuracy "
            f"**{es['accuracy']:.3f}**, macro-F1 {es['macro_f1']:.3f}; majority-class "
            f"baseline ({es['majority_strategy']!r}, from {es['majority_from']}) "
            f"{es['majority_accuracy']:.3f}.",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--goemotions", type=Path)
    parser.add_argument("--dailydialog", type=Path)
    parser.add_argument("--esconv", type=Path)
    parser.add_argument("--write", type=Path, help="rewrite this file's affect section")
    args = parser.parse_args()
    command = "python " + " ".join(sys.argv)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    result = run_affect(args.goemotions, args.dailydialog, args.esconv, say)
    if args.write:
        write_section(args.write, "affect", "scores", section(result, command))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
