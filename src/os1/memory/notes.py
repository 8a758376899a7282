"""What the model is told it remembers: a profile block and the memories recalled for a turn.

Both go into the turn's context note (os1.llm.prompt), which is stored with the turn so the
prompt's cached prefix stays byte-identical later. Kept short on purpose: every token here is
read before the first word of the reply (~70 ms a token on the reference 2-core machine).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from os1.memory.engine import MemoryEngine
from os1.memory.records import Memory, Recalled
from os1.store.base import User

_PROFILE_KINDS = ("fact", "preference")


def profile_block(facts: Sequence[Memory], budget_chars: int) -> tuple[str, tuple[int, ...]]:
    """Who the user is and the key people: the most important, most repeated current facts;
    and the ids shown."""
    ranked = sorted((m for m in facts if m.kind in _PROFILE_KINDS and m.current),
                    key=lambda m: (m.importance * (1 + min(m.mentions, 5) / 5), m.id),
                    reverse=True)
    lines: list[str] = []
    shown: list[int] = []
    used = 0
    for memory in ranked:
        line = f"- {memory.text}"
        if used + len(line) > budget_chars:
            break
        lines.append(line)
        shown.append(memory.id)
        used += len(line) + 1
    if not lines:
        return "", ()
    return ("What you know about the user (call people by their names):\n"
            + "\n".join(lines)), tuple(shown)


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
    return ("You remember this from earlier conversations. Use it the way a friend would: "
            "mention names and details when they fit, never as a list.\n"
            + "\n".join(lines)), tuple(used_ids)


def people_named(text: str, facts: Sequence[Memory]) -> list[tuple[str, Memory]]:
    """"my sister" in the message, and a current fact says who the sister is: say her name.
    The small model rarely makes that link from a list of memories on its own."""
    lowered = text.casefold()
    lines: list[tuple[str, Memory]] = []
    for fact in facts:
        if (not fact.current or not fact.relation or fact.subject in ("user", "companion")
                or not fact.subject):
            continue
        relation = fact.relation.casefold()
        if re.search(rf"\bmy {re.escape(relation)}s?\b", lowered):
            line = f"- The user's {relation} is {fact.subject}."
            if line not in (known for known, _ in lines):
                lines.append((line, fact))
    return lines


@dataclass(frozen=True)
class MemoryNote:
    text: str
    used: tuple[Memory, ...]


@dataclass(frozen=True)
class NoteBudget:
    recall_count: int
    recall_chars: int
    profile_chars: int
    # Below this cosine a memory is only loosely related: leave it out. Every note token is
    # read before the reply's first word (~70 ms each on the reference machine), so a note
    # must earn its place. ("I'm seeing my sister tonight" ~ "My sister Maria is flying in":
    # 0.52; "Long day at work." ~ the same memory: 0.20.)
    min_similarity: float = 0.3


def compose_note(engine: MemoryEngine, user: User, conversation_id: int, text: str, *,
                 first_turn: bool, now: datetime, user_label: str, companion_label: str,
                 budget: NoteBudget) -> MemoryNote:
    """What memory adds to a turn: the profile (first turn of a conversation), who the people
    the message names are, and memories from earlier conversations."""
    facts = engine.store.records(user, kinds=("fact", "preference"), limit=200)
    parts: list[str] = []
    in_profile: set[int] = set()
    if first_turn:
        profile, shown = profile_block(facts, budget.profile_chars)
        parts.append(profile)
        in_profile = set(shown)
    result = engine.recall(user, text, budget.recall_count * 3, now)
    # From earlier conversations only (this one is in the prompt already), not the companion's
    # own old replies (shown those, the model repeats them word for word), each text once.
    earlier: list[Recalled] = []
    seen: set[str] = set()
    for hit in result.hits:
        memory = hit.memory
        key = " ".join(memory.text.casefold().split())
        if (memory.conversation_id == conversation_id or memory.id in in_profile
                or memory.speaker == companion_label or key in seen
                or hit.similarity is None or hit.similarity < budget.min_similarity):
            continue
        seen.add(key)
        earlier.append(hit)
    recalled, ids = recall_note(earlier[: budget.recall_count], user_label, now,
                                budget.recall_chars)
    people = people_named(text, facts)
    if people:
        recalled = ((recalled + "\n" if recalled else "You remember:\n")
                    + "\n".join(line for line, _ in people))
    parts.append(recalled)
    by_id = {hit.memory.id: hit.memory for hit in earlier}
    used = [by_id[i] for i in ids] + [fact for _, fact in people if fact.id not in ids]
    return MemoryNote("\n\n".join(p for p in parts if p), tuple(used))
