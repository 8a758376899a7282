"""Removing user files so that their bytes are gone, not just their names."""

from __future__ import annotations

from pathlib import Path


def shred(path: Path) -> None:
    """Overwrite a file with zeros before unlinking it: unlinking alone leaves the bytes."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
    path.unlink()
