"""Progress shown while the model is first joined, checked and loaded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from os1.llm.model_files import Progress as ProgressCallback


@contextmanager
def byte_progress(console: Console) -> Iterator[ProgressCallback]:
    """A progress bar for long byte-level work (joining, hashing); silent if it never runs."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(done: int, total: int, what: str) -> None:
        if what not in tasks:
            if not tasks:
                bar.start()
            tasks[what] = bar.add_task(what, total=total)
        bar.update(tasks[what], completed=done)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()
