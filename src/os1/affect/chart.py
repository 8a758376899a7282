"""Draws the mood timeline: as text for the terminal, and as a PNG for keeping or sharing.

The terminal chart has one column per day: bars up for pleasant days, down for low ones, a dot
for a day with no readings. Weeks are separated by a gap and summed up underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from os1.affect.timeline import MoodDay, MoodWeek

_HALF = 4  # rows above and below the zero line
_BLOCKS = " ▁▂▃▄▅▆▇█"


def _bar_rows(valence: float) -> tuple[int, int]:
    """(full rows, remainder eighths) for |valence| on a _HALF-row scale."""
    eighths = round(min(1.0, abs(valence)) * _HALF * 8)
    return eighths // 8, eighths % 8


def text_chart(days: Sequence[MoodDay], weeks: Sequence[MoodWeek], start: date,
               end: date) -> str:
    """The days from ``start`` to ``end``; days without readings show as '·'."""
    by_day = {d.day: d for d in days}
    span = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    columns: list[list[str]] = []
    for day in span:
        if day.weekday() == 0 and day != start:
            columns.append([" "] * (2 * _HALF + 1))
        reading = by_day.get(day)
        column = [" "] * (2 * _HALF + 1)
        if reading is None:
            column[_HALF] = "·"
        else:
            full, rest = _bar_rows(reading.valence)
            if reading.valence >= 0:
                for r in range(full):
                    column[_HALF - 1 - r] = "█"
                if rest and full < _HALF:
                    column[_HALF - 1 - full] = _BLOCKS[rest]
                column[_HALF] = "─" if full == 0 and not rest else column[_HALF]
            else:
                for r in range(full):
                    column[_HALF + 1 + r] = "█"
                if rest and full < _HALF:
                    column[_HALF + 1 + full] = "▀" if rest >= 4 else "▔"
            if column[_HALF] == " ":
                column[_HALF] = "┼"
        columns.append(column)
    labels = {0: "pleasant", _HALF: "  steady", 2 * _HALF: "     low"}
    lines = []
    for row in range(2 * _HALF + 1):
        lines.append(f"{labels.get(row, ''):>8} " + "".join(c[row] for c in columns))
    lines.append(f"{'':>8} {start:%d %b}" + f"{end:%d %b}".rjust(max(0, len(columns) - 6)))
    if weeks:
        lines.append("")
        for week in weeks:
            lines.append(f"  week of {week.start:%d %b}: {_word(week.valence):<9} "
                         f"(valence {week.valence:+.2f}, arousal {week.arousal:.2f}, "
                         f"{_count(week.readings, 'message')} on {_count(week.days, 'day')})")
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _word(valence: float) -> str:
    if valence <= -0.35:
        return "low"
    if valence <= -0.1:
        return "a bit low"
    if valence < 0.1:
        return "steady"
    if valence < 0.35:
        return "good"
    return "bright"


def write_png(path: Path, days: Sequence[MoodDay], start: date, end: date) -> None:
    """Valence and arousal per day as a chart image (matplotlib, no window needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 3.6), dpi=110)
    try:
        axis.axhline(0.0, color="#999999", linewidth=0.8)
        xs = [(d.day - start).days for d in days]  # day numbers; dates go on the ticks
        colours = ["#3b7dd8" if d.valence < 0 else "#e0a030" for d in days]
        axis.bar(xs, [d.valence for d in days], color=colours, width=0.8, label="valence")
        axis.plot(xs, [d.arousal * 2 - 1 for d in days], color="#555555", marker="o",
                  markersize=3, linewidth=1, label="arousal (calm → activated)")
        span = (end - start).days
        axis.set_xlim(-1, span + 1)
        ticks = list(range(0, span + 1, 7))
        axis.set_xticks(ticks, [f"{start + timedelta(days=t):%d %b}" for t in ticks])
        axis.set_ylim(-1.05, 1.05)
        axis.set_yticks([-1, 0, 1], ["low", "steady", "pleasant"])
        axis.set_title(f"Mood, {start:%d %b} – {end:%d %b %Y}")
        axis.legend(loc="upper left", fontsize=8, frameon=False)
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
