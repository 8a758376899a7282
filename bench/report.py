"""Writing a benchmark's results into docs/benchmarks.md between its own markers, so each
benchmark rewrites only its sections and the notes around them are kept."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    return f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(path: Path, bench: str, key: str, text: str) -> None:
    begin, end = f"<!-- bench:{bench}:begin:{key} -->", f"<!-- bench:{bench}:end:{key} -->"
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        _, tail = rest.split(end, 1)
        new = f"{head}{begin}\n{text}\n{end}{tail}"
    else:
        new = f"{old.rstrip()}\n\n{begin}\n{text}\n{end}\n"
    path.write_text(new)
