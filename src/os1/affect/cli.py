"""`os1 mood …`: the mood timeline as a terminal chart or a PNG, as JSON, or erased."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from os1.affect.chart import text_chart, write_png
from os1.affect.timeline import MoodReading, MoodTimeline
from os1.affect.trend import trend_of
from os1.config import Settings
from os1.store.open import open_store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_mood_parser(verbs: Any) -> None:
    mood = verbs.add_parser("mood", help="your mood over the last weeks, as os1 has read it")
    mood.add_argument("--user", dest="user_name", help="whose timeline (default: you)")
    mood.add_argument("--weeks", type=int, default=4, help="how many weeks back (default 4)")
    mood.add_argument("--png", type=Path, metavar="FILE", help="also draw it into FILE (PNG)")
    mood.add_argument("--json", action="store_true", help="days and weeks as JSON")
    mood.add_argument("--readings", action="store_true",
                      help="with --json: every reading too (time, turn, labels, strategy)")
    mood.add_argument("action", nargs="?", choices=["forget"],
                      help="forget: erase the whole timeline and voice baseline")
    mood.add_argument("--yes", action="store_true", help="do not ask before forgetting")


def run_mood(settings: Settings, args: argparse.Namespace, console: Console,
             errors: Console, today: date | None = None) -> int:
    if args.weeks < 1 or args.weeks > 520:
        errors.print("[red]--weeks must be between 1 and 520.[/red]")
        return EXIT_USAGE
    store = open_store(settings)
    try:
        timeline = MoodTimeline(store)
        user = store.user(settings.user_name)
        if args.action == "forget":
            if not args.yes:
                if not sys.stdin.isatty():
                    errors.print("[red]Forgetting cannot be undone: add --yes to confirm.[/red]")
                    return EXIT_USAGE
                if input("Erase your whole mood timeline? [y/N] ").strip().lower() not in {
                        "y", "yes"}:
                    return EXIT_OK
            from os1.app import forget_mood

            gone = forget_mood(settings, store, user)
            console.print(f"Erased {gone} mood reading(s), the voice baseline and what os1 "
                          "had noted about your feelings in past turns.")
            return EXIT_OK
        today = today or datetime.now().astimezone().date()
        start = today - timedelta(days=7 * args.weeks - 1)
        days = timeline.days(user, start, today)
        weeks = timeline.weeks(user, start, today)
        trend = trend_of(days, today)
        if args.json:
            console.print_json(json.dumps({
                "from": start.isoformat(), "to": today.isoformat(),
                "days": [{"day": d.day.isoformat(), "valence": round(d.valence, 3),
                          "arousal": round(d.arousal, 3), "readings": d.readings,
                          "lowest": round(d.lowest, 3)} for d in days],
                "weeks": [{"start": w.start.isoformat(), "valence": round(w.valence, 3),
                           "arousal": round(w.arousal, 3), "readings": w.readings,
                           "days": w.days} for w in weeks],
                "trend": trend.describe(),
                **({"readings": [_reading_json(r) for r in timeline.readings(user, start)]}
                   if args.readings else {})}))
        elif not days:
            console.print("No mood readings in this period." + (
                "" if settings.affect else " Emotion reading is off "
                "(os1 config set affect on turns it on)."))
        else:
            console.print(escape(text_chart(days, weeks, start, today)))
            if trend.describe():
                console.print(f"\nLately: {trend.describe()}.")
        if args.png is not None:
            try:
                write_png(args.png, days, start, today)
            except OSError as error:
                errors.print(f"[red]Could not write {args.png}: {error.strerror or error}[/red]")
                return EXIT_FAILED
            if not args.json:
                console.print(f"Wrote {args.png}")
        return EXIT_OK
    finally:
        store.close()


def _reading_json(reading: MoodReading) -> dict[str, Any]:
    return {"at": reading.at.isoformat(), "turn_id": reading.turn_id,
            "valence": round(reading.valence, 3), "arousal": round(reading.arousal, 3),
            "confidence": round(reading.confidence, 3), "labels": list(reading.labels),
            "source": reading.source, "strategy": reading.strategy}
