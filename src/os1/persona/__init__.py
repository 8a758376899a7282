"""Who the companion is: the constitution and persona that open every prompt."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def default_persona() -> str:
    """The default persona prompt, shipped as `persona/default.md` in the package."""
    return resources.files("os1.persona").joinpath("default.md").read_text(encoding="utf-8").strip()
