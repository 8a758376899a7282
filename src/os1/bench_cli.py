"""`os1 bench …`: the benchmarks users and CI can run with one command each."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console


def add_bench_parser(verbs: Any) -> None:
    bench = verbs.add_parser("bench", help="measure os1 on public data sets")
    kinds = bench.add_subparsers(dest="bench", metavar="BENCH", required=True)
    memory = kinds.add_parser("memory", help="memory recall (LoCoMo) and scale")
    memory.add_argument("--locomo", type=Path, metavar="PATH",
                        help="a LoCoMo JSON file (format of locomo10.json)")
    memory.add_argument("--scale", metavar="N[,N…]",
                        help="synthetic memories for one user, e.g. 10000,100000,1000000")
    memory.add_argument("--queries", type=int, default=200, help="scale: queries per size")
    memory.add_argument("--json", action="store_true", help="print JSON only")
    affect = kinds.add_parser("affect", help="emotion reading (GoEmotions, DailyDialog) and "
                              "support strategy (ESConv)")
    affect.add_argument("--goemotions", type=Path, metavar="DIR",
                        help="GoEmotions split folder: DIR/{original,ekman,group}/*.tsv")
    affect.add_argument("--dailydialog", type=Path, metavar="DIR",
                        help="DailyDialog folder (dialogues_test.txt, dialogues_emotion_test.txt)")
    affect.add_argument("--esconv", type=Path, metavar="DIR",
                        help="ESConv folder with test.jsonl (and train.jsonl for the baseline)")
    affect.add_argument("--json", action="store_true", help="print JSON only")
    voice = kinds.add_parser("voice", help="voice-to-voice latency, word error rate and "
                             "barge-in, with synthesised speech played in real time")
    voice.add_argument("--model", default="default", help="default, fast, or a .gguf path")
    voice.add_argument("--turns", type=int, default=8, help="turns before the barge-in (1-8)")
    voice.add_argument("--json", action="store_true", help="print JSON only")


def run_bench(args: argparse.Namespace, console: Console, errors: Console) -> int:
    if args.bench == "affect":
        return _run_affect(args, console, errors)
    if args.bench == "voice":
        return _run_voice(args, console, errors)
    return _run_memory(args, console, errors)


def _run_affect(args: argparse.Namespace, console: Console, errors: Console) -> int:
    from os1.affect.errors import AffectError
    from os1.affect.evaluate import run_affect

    if args.goemotions is None and args.dailydialog is None and args.esconv is None:
        errors.print("[red]Say what to measure: --goemotions DIR, --dailydialog DIR and/or "
                     "--esconv DIR[/red]")
        return 2
    for flag, path in (("--goemotions", args.goemotions), ("--dailydialog", args.dailydialog),
                       ("--esconv", args.esconv)):
        if path is not None and not path.is_dir():
            errors.print(f"[red]{flag}: no folder at {path}[/red]")
            return 2
    say = (lambda text: errors.print(f"[dim]{text}[/dim]")) if args.json else console.print
    try:
        results = run_affect(args.goemotions, args.dailydialog, args.esconv, say)
    except AffectError as exc:
        errors.print(f"[red]{exc}[/red]")
        return 2
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        console.print_json(json.dumps(results))
    return 0


def _run_voice(args: argparse.Namespace, console: Console, errors: Console) -> int:
    import asyncio

    from os1.voice.benchmark import SCRIPT, run_voice_bench

    if not 1 <= args.turns <= len(SCRIPT):
        errors.print(f"[red]--turns must be between 1 and {len(SCRIPT)}[/red]")
        return 2
    say = (lambda text: errors.print(f"[dim]{text}[/dim]")) if args.json else console.print
    results = asyncio.run(run_voice_bench(args.model, args.turns, say))
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        console.print_json(json.dumps({k: v for k, v in results.items() if k != "rows"}))
    return 0


def _run_memory(args: argparse.Namespace, console: Console, errors: Console) -> int:
    if args.locomo is None and args.scale is None:
        errors.print("[red]Say what to measure: --locomo PATH and/or --scale 10000,100000[/red]")
        return 2
    say = (lambda text: errors.print(f"[dim]{text}[/dim]")) if args.json else console.print
    results: dict[str, Any] = {}
    if args.locomo is not None:
        from os1.memory.locomo import LocomoFormatError, run_locomo

        if not args.locomo.is_file():
            errors.print(f"[red]No LoCoMo file at {args.locomo}[/red]")
            return 2
        try:
            report = run_locomo(args.locomo, progress=say)
        except LocomoFormatError as exc:
            errors.print(f"[red]{exc}[/red]")
            return 2
        results["locomo"] = report.as_json()
    if args.scale is not None:
        from os1.memory.scale import run_scale

        try:
            sizes = [int(s.replace("_", "")) for s in args.scale.split(",") if s.strip()]
        except ValueError:
            errors.print("[red]--scale takes sizes like 10000,100000[/red]")
            return 2
        results["scale"] = [run_scale(n, queries=args.queries, progress=say) for n in sizes]
    if args.json:
        # The LoCoMo keys sit at the top level, as the consumers expect.
        flat = {**results.get("locomo", {}), **({"scale": results["scale"]}
                                                if "scale" in results else {})}
        json.dump(flat, sys.stdout, indent=2)
        print()
    else:
        console.print_json(json.dumps(results))
    return 0
