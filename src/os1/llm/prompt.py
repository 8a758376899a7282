"""Prompt layout: most stable first, so llama.cpp reuses its cached prefix across turns.

    system: constitution and persona with example exchanges   (changes almost never)
    past turns, each user turn with the context note it had   (grows by appending)
    this turn's context note, then this turn's words          (new each turn)

Two rules keep the reused prefix byte-identical from one turn to the next:
- a past turn is rendered exactly as it was when it was new (its context note is stored
  with it), and
- the history window's start moves in steps of half its size, not one turn at a time, so
  the prefix breaks once every few turns instead of on every turn once the bound is hit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from os1.llm.base import ChatMessage, Role


@dataclass(frozen=True)
class PromptTurn:
    role: Role
    content: str
    context: str = ""  # a note sent just before it (later: recalled memories, mood)


@dataclass(frozen=True)
class HistoryBound:
    max_turns: int  # past exchanges (a user turn and a reply each)
    max_chars: int


def window_start(turns: Sequence[PromptTurn], bound: HistoryBound) -> int:
    """Index of the first past turn to send."""
    limit = max(2, bound.max_turns * 2)
    step = max(2, limit // 2)
    start = 0
    if len(turns) > limit:
        # Smallest multiple of `step` that leaves at most `limit` turns.
        overflow = len(turns) - limit
        start = -(-overflow // step) * step
    # Over the character budget (long messages), move on in smaller steps.
    char_step = max(2, limit // 8)
    while start < len(turns) and _chars(turns[start:]) > bound.max_chars:
        start += char_step
    start = min(start, len(turns))
    # Never open on a reply whose question was cut off.
    while start < len(turns) and turns[start].role != "user":
        start += 1
    return start


def _chars(turns: Sequence[PromptTurn]) -> int:
    return sum(len(t.content) + len(t.context) for t in turns)


def render_turn(turn: PromptTurn) -> list[ChatMessage]:
    messages = []
    if turn.context:
        messages.append(ChatMessage("system", turn.context))
    messages.append(ChatMessage(turn.role, turn.content))
    return messages


def build_messages(
    system_prompt: str,
    history: Sequence[PromptTurn],
    current: PromptTurn,
    bound: HistoryBound,
) -> list[ChatMessage]:
    messages = [ChatMessage("system", system_prompt)]
    # The window depends on the history alone, not on the new message: otherwise its start
    # would move back and forth with message lengths and break the cached prefix (and the
    # anticipated next prompt would not match the real one). The defaults keep the longest
    # message plus the history budget inside the context window.
    for turn in history[window_start(history, bound):]:
        messages.extend(render_turn(turn))
    messages.extend(render_turn(current))
    return messages
