"""Action accuracy: does a request become the right action with the right arguments, or a
clarifying question when something is missing, or no action when it is conversation?

Runs the real path a chat turn takes up to the moment an action would run: the cue gate, the
planner with the real model (grammar-constrained reply over every skill's real action specs)
and the check that the arguments came from the user's words (skills/conversation.py). Nothing
is executed. The labelled set is bench/data/action_requests.jsonl (100 requests written for
this benchmark: 80 actions across reminders, mail and letters, 10 that must be asked about,
10 that are conversation even though they mention a reminder, a letter or mail).

    python bench/actions.py --models default,fast --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from os1.config import Settings
from os1.llm.embedded import EmbeddedModel
from os1.llm.model_files import resolve_model_path
from os1.skills.catalog import action_specs
from os1.skills.conversation import grounded, ungrounded, words
from os1.skills.planner import Clarify, Planned, Planner
from os1.store.sqlite import SQLiteStore
from report import machine, write_section

DATA = Path(__file__).resolve().parent / "data" / "action_requests.jsonl"


@dataclass(frozen=True)
class Case:
    text: str
    action: str  # an action's name, "clarify" or "none"
    args: dict[str, list[str]]  # argument → words its value must contain


@dataclass(frozen=True)
class Result:
    case: Case
    got: str
    arguments: dict[str, Any]
    action_right: bool
    args_right: bool
    seconds: float
    planned: bool  # the gate let it reach the model


def load(path: Path) -> list[Case]:
    cases = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append(Case(row["text"], row["action"], row.get("args", {})))
    return cases


def arguments_match(expected: dict[str, list[str]], got: dict[str, Any]) -> bool:
    for name, needed in expected.items():
        value = got.get(name)
        if not isinstance(value, str) or not set(words(" ".join(needed))) <= words(value):
            return False
    return True


async def run_model(model_name: str, cases: list[Case], cache: Path) -> list[Result]:
    path = resolve_model_path(model_name, cache)
    model = EmbeddedModel(path, threads=1, batch_threads=1, context_tokens=4096)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), cache_dir=cache)
        store = SQLiteStore(settings.database_path)
        specs = action_specs(store, settings, model, None)
        planner = Planner(model, specs)
        by_name = {s.name: s for s in specs}
        results = []
        try:
            await planner.plan("remind me to warm up at noon")  # load; not measured
            for number, case in enumerate(cases, 1):
                started = time.perf_counter()
                skills = planner.cued(case.text)
                plan = await planner.plan(case.text, skills)
                seconds = time.perf_counter() - started
                got, arguments = "none", {}
                if isinstance(plan, Clarify):
                    got = "clarify"
                elif isinstance(plan, Planned):
                    spec = by_name[plan.action]
                    got = plan.action
                    arguments = grounded(spec, plan.arguments, case.text)
                    if ungrounded(spec, plan.arguments, case.text):
                        got = "clarify"  # the user is asked, as in a chat turn
                right = got == case.action
                args_right = right and arguments_match(case.args, arguments)
                results.append(Result(case, got, arguments, right, args_right, seconds,
                                      bool(skills)))
                mark = "ok" if args_right else "XX"
                print(f"[{model_name} {number:3}/{len(cases)}] {mark} {seconds:5.1f}s "
                      f"{case.text[:50]!r} → {got} {json.dumps(arguments)[:60]}", flush=True)
        finally:
            await model.aclose()
            store.close()
    return results


def summary(model_name: str, results: list[Result]) -> dict[str, Any]:
    def share(items: list[Result], ok: str = "args_right") -> float:
        return sum(getattr(r, ok) for r in items) / len(items) if items else 0.0

    acts = [r for r in results if r.case.action not in ("clarify", "none")]
    clarify = [r for r in results if r.case.action == "clarify"]
    none = [r for r in results if r.case.action == "none"]
    planned = [r.seconds for r in results if r.planned]
    return {
        "model": model_name,
        "overall": share(results),
        "action_only": share(results, "action_right"),
        "actions": share(acts), "actions_n": len(acts),
        "clarify": share(clarify), "clarify_n": len(clarify),
        "none": share(none), "none_n": len(none),
        # The worst mistake: an action taken on words that asked for none.
        "wrongly_acted": sum(r.got not in ("none", "clarify") for r in none),
        "p50_s": statistics.median(planned) if planned else 0.0,
        "p90_s": sorted(planned)[int(0.9 * (len(planned) - 1))] if planned else 0.0,
        "gated": sum(not r.planned for r in results),
        "confusions": Counter(f"{r.case.action} → {r.got}" for r in results
                              if not r.action_right).most_common(8),
        "failures": [(r.case.text, r.case.action, r.got, r.arguments) for r in results
                     if not r.args_right],
    }


def table(rows: list[dict[str, Any]], command: str) -> str:
    lines = [
        f"Measured {date.today().isoformat()} on {machine()}, llama.cpp with 1 thread.",
        f"Command: `{command}`",
        "",
        "| model | overall (action + arguments) | action only | actions (n) | clarify (n) | "
        "conversation left alone (n) | acted on conversation | planner p50 / p90 | "
        "skipped by the cue gate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | **{r['overall']:.2f}** | {r['action_only']:.2f} | "
            f"{r['actions']:.2f} ({r['actions_n']}) | {r['clarify']:.2f} ({r['clarify_n']}) | "
            f"{r['none']:.2f} ({r['none_n']}) | {r['wrongly_acted']} | "
            f"{r['p50_s']:.1f} s / {r['p90_s']:.1f} s | {r['gated']} |")
    for r in rows:
        if r["confusions"]:
            lines.append("")
            lines.append(f"{r['model']}: most frequent confusions: " + "; ".join(
                f"{what} ×{n}" for what, n in r["confusions"]))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="default,fast",
                        help="comma-separated: default, fast, or paths to .gguf files")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--write", type=Path, help="docs/benchmarks.md")
    args = parser.parse_args()
    import platformdirs

    cache = args.cache or Path(platformdirs.user_cache_dir("os1"))
    cases = load(args.data)
    if args.limit:
        cases = cases[:args.limit]
    rows = []
    for name in args.models.split(","):
        results = asyncio.run(run_model(name.strip(), cases, cache))
        rows.append(summary(name.strip(), results))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "failures"}, indent=1))
        for text, want, got, arguments in rows[-1]["failures"]:
            print(f"  wanted {want}, got {got} {json.dumps(arguments)}: {text!r}")
    command = "python bench/actions.py " + " ".join(sys.argv[1:])
    report = table(rows, command)
    print(report)
    if args.write:
        write_section(args.write, "actions", "results", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
