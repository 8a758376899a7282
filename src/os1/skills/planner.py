"""From a user's words to one action call: a cheap gate, then a grammar-constrained reply.

Most turns are conversation, so the model is asked to plan only when the user's words match
some action's ``cues`` (a regex: "remind", "inbox", "letter"…); then it sees only the
actions of the skills that matched — a short prompt, and fewer ways to be wrong. Its reply is
constrained by a JSON schema built from those actions' argument schemas, so it can only name
an action that exists, ask a clarifying question, or say "none".

The planner reads only what the user typed or said (and, after os1 asked a clarifying
question, the request it asked about): never a mail body or any other fetched text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from os1.llm.base import ChatMessage, ChatModel, GenerationOptions, ModelError
from os1.skills.actions import ActionSpec

NONE = "none"
CLARIFY = "clarify"
_OPTIONS = GenerationOptions(max_tokens=160, temperature=0.0, seed=7)
_REQUEST_CHARS = 1200  # a request longer than this is conversation, or pasted text


@dataclass(frozen=True)
class Planned:
    """The model asked for ``action`` with ``arguments`` (not validated yet)."""

    action: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Clarify:
    question: str


@dataclass(frozen=True)
class NoAction:
    pass


Plan = Planned | Clarify | NoAction


def skill_of(action: str) -> str:
    return action.split(".", 1)[0]


def cued_skills(specs: Sequence[ActionSpec], text: str) -> list[str]:
    """The skills whose cues the text matches, in the order the specs are given."""
    skills: list[str] = []
    for spec in specs:
        skill = skill_of(spec.name)
        if (spec.cues and skill not in skills
                and re.search(spec.cues, text, flags=re.IGNORECASE) is not None):
            skills.append(skill)
    return skills


def plan_schema(specs: Sequence[ActionSpec]) -> dict[str, Any]:
    """One object per action (its name as a constant, its own argument schema), plus
    clarify and none: the grammar the model's reply must follow."""
    choices: list[dict[str, Any]] = [
        {"type": "object",
         "properties": {"action": {"const": spec.name}, "arguments": spec.parameters},
         "required": ["action", "arguments"], "additionalProperties": False}
        for spec in specs]
    choices.append({"type": "object",
                    "properties": {"action": {"const": CLARIFY},
                                   "question": {"type": "string", "maxLength": 200}},
                    "required": ["action", "question"], "additionalProperties": False})
    choices.append({"type": "object", "properties": {"action": {"const": NONE}},
                    "required": ["action"], "additionalProperties": False})
    return {"anyOf": choices}


def plan_prompt(specs: Sequence[ActionSpec]) -> str:
    lines = [
        "You turn a person's request into one action call for their assistant, os1.",
        "Choose exactly one of the actions below. Copy the arguments from the person's own "
        "words: keep times and dates as they said them (\"Friday at six\"), never work out a "
        "date yourself.",
        f'If they ask for one of these actions but leave out something it needs, answer '
        f'{{"action": "{CLARIFY}", "question": "..."}} with one short question.',
        f'If the message is not a request for any of these actions (it is conversation, a '
        f'feeling, a question about something else), answer {{"action": "{NONE}"}}.',
        "",
        "Actions:",
    ]
    for spec in specs:
        arguments = ", ".join(spec.parameters.get("properties", {})) or "no arguments"
        lines.append(f"- {spec.name}: {spec.summary} Arguments: {arguments}.")
        for request, example in spec.examples:
            call = json.dumps({"action": spec.name, "arguments": example}, ensure_ascii=False)
            lines.append(f'  "{request}" → {call}')
    return "\n".join(lines)


class Planner:
    """Plans one request against the given actions with the chat model."""

    def __init__(self, model: ChatModel, specs: Sequence[ActionSpec]) -> None:
        self._model = model
        self._specs = list(specs)

    @property
    def specs(self) -> list[ActionSpec]:
        return list(self._specs)

    def cued(self, text: str) -> list[str]:
        if len(text) > _REQUEST_CHARS:
            return []
        return cued_skills(self._specs, text)

    async def plan(self, text: str, skills: Sequence[str] | None = None) -> Plan:
        """Plan ``text`` against the actions of ``skills`` (by default those its words cue).
        No cue, or a reply the program cannot use: no action, and the turn is conversation."""
        chosen = list(skills) if skills is not None else self.cued(text)
        specs = [s for s in self._specs if skill_of(s.name) in chosen]
        if not specs:
            return NoAction()
        messages = [ChatMessage("system", plan_prompt(specs)), ChatMessage("user", text)]
        try:
            reply = await self._model.structured(messages, plan_schema(specs), _OPTIONS)
        except ModelError:
            return NoAction()  # the model could not plan: carry on as conversation
        action = str(reply.get("action", NONE))
        if action == CLARIFY:
            question = str(reply.get("question", "")).strip()
            return Clarify(question) if question else NoAction()
        if action == NONE or action not in {s.name for s in specs}:
            return NoAction()
        arguments = reply.get("arguments")
        return Planned(action, arguments if isinstance(arguments, dict) else {})
