"""Memory benchmarks: LoCoMo recall and scale, written into docs/benchmarks.md.

    python bench/memory.py --locomo PATH/locomo_dev.json --scale 10000,100000,1000000 \
        --write docs/benchmarks.md

The measuring itself is `os1 bench memory` (os1.memory.locomo, os1.memory.scale); this script
adds the date, the machine and the exact command, and rewrites its sections of the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from os1.memory.locomo import KS, run_locomo
from os1.memory.scale import run_scale
from report import machine, write_section


def locomo_section(result: dict, command: str) -> str:
    lines = [
        "### LoCoMo recall — measured",
        "",
        f"{date.today().isoformat()} · {machine()} · `{command}`",
        "",
        f"{result['questions']} questions (categories 1–4) over {result['turns']} turns; "
        "retrieval only, no LLM in the loop. Query latency includes embedding the question.",
        "",
        "| | " + " | ".join(f"recall@{k}" for k in KS) + " |",
        "|---|" + "---|" * len(KS),
        "| **all** | " + " | ".join(f"**{result[f'recall@{k}']:.3f}**" for k in KS) + " |",
    ]
    for name, values in result["per_category"].items():
        lines.append(f"| {name} | " + " | ".join(f"{values[f'recall@{k}']:.3f}" for k in KS)
                     + " |")
    for name, values in result["per_conversation"].items():
        lines.append(f"| {name} | " + " | ".join(f"{values[f'recall@{k}']:.3f}" for k in KS)
                     + " |")
    lines += ["", f"Query latency p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms; "
              f"ingestion (embedding every turn) {result['ingest_s']} s."]
    return "\n".join(lines)


def scale_section(results: list[dict], command: str) -> str:
    lines = [
        "### Scale — measured",
        "",
        f"{date.today().isoformat()} · {machine()} · `{command}`",
        "",
        "| records | ingest/s | index build | vector index | query p50 | query p95 | "
        "keyword p95 | RSS | database |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['records']:,} | {r['ingest_per_s']:,.0f} | {r['index_build_s']} s | "
            f"{r['vector_index']} | {r['query_p50_ms']} ms | **{r['query_p95_ms']} ms** | "
            f"{r['keyword_p95_ms']} ms | {r['rss_mb']} MB | {r['db_mb']} MB |")
    lines += ["", f"Embedding speed (one thread): {results[0]['embed_texts_per_s']} texts/s."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locomo", type=Path, help="a LoCoMo JSON file")
    parser.add_argument("--scale", help="sizes, e.g. 10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--write", type=Path, help="rewrite this file's memory sections")
    args = parser.parse_args()
    command = "python " + " ".join(sys.argv)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    out: dict = {}
    if args.locomo:
        out["locomo"] = run_locomo(args.locomo, progress=say).as_json()
        if args.write:
            write_section(args.write, "memory", "locomo", locomo_section(out["locomo"], command))
    if args.scale:
        sizes = [int(s) for s in args.scale.split(",")]
        out["scale"] = []
        for size in sizes:
            out["scale"].append(run_scale(size, queries=args.queries, progress=say))
            if args.write:  # after each size, so a long run leaves what it measured
                write_section(args.write, "memory", "scale", scale_section(out["scale"], command))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
