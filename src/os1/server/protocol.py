"""What the WebSockets carry: a turn's events as JSON objects, one per text frame.

Every event becomes ``{"type": <its kind>, ...its fields}``; the kinds are the event classes'
names in snake case (``Token`` → ``token``, ``ActionTaken`` → ``action_taken``), so the web
page, the tests and any other client read the same words the terminal renders.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from os1.events import Event, Token

# Frames bigger than this are refused (close code 1009): a turn's text is capped far below it
# (inputs.py) and an audio frame is 32 ms, so only a broken or hostile client sends more.
MAX_TEXT_FRAME = 64 * 1024
MAX_AUDIO_FRAME = 64 * 1024


def kind(event: object) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()


def event_json(event: Event | object) -> dict[str, Any]:
    """One event as a JSON-ready dict (nested dataclasses, e.g. Done's stats, included)."""
    if type(event) is Token:  # most of a turn's events: no need for asdict
        return {"type": "token", "text": event.text}
    if not dataclasses.is_dataclass(event) or isinstance(event, type):
        raise TypeError(f"not an event: {event!r}")
    body = dataclasses.asdict(event)
    stats = body.get("stats")
    if isinstance(stats, dict):
        # The model's own words before the safety guard replaced them, and why, are for
        # benchmarks and logs: the user is shown what os1 said, nothing else.
        stats.pop("model_reply", None)
        stats.pop("replaced", None)
    return {"type": kind(event), **{k: list(v) if isinstance(v, tuple) else v
                                    for k, v in body.items()}}
