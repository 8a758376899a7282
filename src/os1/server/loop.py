"""The event loop a server runs on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop where it is installed (Linux and macOS; pinned there): a server's time goes to
    socket reads and writes, which uvloop does in C (docs/benchmarks.md, server section).
    Elsewhere asyncio's own loop serves the same."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop
