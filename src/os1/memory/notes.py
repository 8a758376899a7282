"""What the model is told it remembers: a profile block and the memories recalled for a turn.

Both go into the turn's context note (os1.llm.prompt), which is stored with the turn so the
prompt's cached prefix stays byte-identical later. Kept short on purpose: every token here is
read before the first word of the reply (~70 ms a token on the reference 2-core machine).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from os1.memory.records import Memory, Recalled

_PROFILE_KINDS = ("fact", "preference")


def profile_block(facts: Sequence[Memory], budget_chars: int) -> str:
    """Who the user is and the key people: the most important, most repeated current facts."""
    ranked = sorted((m for m in facts if m.kind in _PROFILE_KINDS and m.current),
                    key=lambda m: (m.importance * (1 + min(m.mentions, 5) / 5), m.id),
                    reverse=True)
    lines: list[str] = []
    used = 0
    for memory in ranked:
        line = f"- {memory.text}"
        if used + len(line) > budget_chars:
            break
        lines.append(line)
        used += len(line) + 1
    return "What you know about the user:\n" + "\n".join(lines) if lines else ""


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(now.tzinfo)
    days = (now.date() - local.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 7:
        return local.strftime("%A")
    return local.strftime("%-d %b %Y") if local.year != now.year else local.strftime("%-d %b")


def _line(memory: Memory, user_label: str, now: datetime) -> str:
    when = _when(memory.occurred_at or memory.created_at, now)
    if memory.kind == "episode":
        who = "the user" if memory.speaker == user_label else memory.speaker or "someone"
        return f'- {when}, {who} said: "{memory.text}"'
    return f"- {memory.text}" + (f" ({when})" if memory.kind == "event" and when else "")


def recall_note(hits: Sequence[Recalled], user_label: str, now: datetime,
                budget_chars: int) -> tuple[str, tuple[int, ...]]:
    """The recalled memories as a note, within the budget; and the ids actually included."""
    lines: list[str] = []
    used_ids: list[int] = []
    used = 0
    for hit in hits:
        line = _line(hit.memory, user_label, now)
        if len(line) > budget_chars // 2:
            line = line[: budget_chars // 2 - 1] + "…"
        if used + len(line) > budget_chars:
            break
        lines.append(line)
        used_ids.append(hit.memory.id)
        used += len(line) + 1
    if not lines:
        return "", ()
    return ("From earlier conversations (bring these up only if they matter here, naturally, "
            "never as a list):\n" + "\n".join(lines)), tuple(used_ids)
