"""Actions in conversation: a turn that asks for one is answered by doing it.

    the user's words ─► a yes/no to a waiting proposal?  ─► run it, or drop it
                    ─► an answer to os1's question?      ─► plan the first request with it
                    ─► cued? ─► plan ─► check the arguments against the words ─► call

The reply to such a turn is written by the program from what happened (the model only chose
the action): it is exact, it costs no second model call, and it joins the conversation like
any reply, so later turns read it. A crisis turn never reaches here (the guard comes first).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from os1.events import ActionStatus
from os1.llm.base import ChatModel
from os1.skills.actions import (
    ActionContext,
    ActionError,
    Actions,
    ActionSpec,
    NeedsClarification,
    Outcome,
    Proposal,
)
from os1.skills.planner import Clarify, NoAction, Planned, Planner
from os1.store.base import User

log = logging.getLogger(__name__)

_YES = re.compile(r"^\s*(?:yes|yeah|yep|yup|sure|ok(?:ay)?|go ahead|do it|please do|please|"
                  r"send it|confirm(?:ed)?|y)\b", re.IGNORECASE)
_NO = re.compile(r"^\s*(?:no|nope|nah|don'?t|do not|cancel|stop|never ?mind|wait|n)\b",
                 re.IGNORECASE)
# A yes with any of these in it ("please don't", "sure, but not to Amy") is not a yes: an
# action outside os1 runs only on a plain one.
_QUALIFIED = re.compile(r"\b(?:no|not|don'?t|never|stop|cancel|wait|nope|nah|but|except|"
                        r"instead|change)\b", re.IGNORECASE)
_SHORT_ANSWER_WORDS = 8
_WORD = re.compile(r"[0-9]+|[^\W\d_]+", re.UNICODE)
_NUMBERS = {w: str(i) for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve"))}
_SMALL_WORDS = frozenset(("a", "an", "the", "at", "on", "in", "to", "of", "for", "my", "me",
                          "and", "or", "by", "with", "from"))
# "Snooze that", "proofread it": the model may name what was pointed at with another of these.
_POINTING = frozenset(("it", "that", "this", "latest", "last", "one", "them", "those"))


@dataclass
class SkillState:
    """Per conversation: an external action waiting for a yes, or a question os1 asked."""

    proposal: Proposal | None = None
    asked: tuple[str, tuple[str, ...]] | None = None  # (the request, its skills)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionReply:
    """What the turn says and shows instead of a model reply."""

    action: str
    status: ActionStatus
    text: str
    detail: str = ""


def says_yes(text: str) -> bool:
    """A plain, short yes to a proposal: nothing qualified, nothing more to it."""
    return (bool(_YES.match(text)) and not _QUALIFIED.search(text)
            and len(text.split()) <= _SHORT_ANSWER_WORDS)


def words(text: str) -> set[str]:
    return {_NUMBERS.get(w, w) for w in (m.lower() for m in _WORD.findall(text))}


def ungrounded(spec: ActionSpec, arguments: dict[str, Any], request: str) -> list[str]:
    """The required text arguments the user did not give: empty, or most of their words not
    in the request. A small model fills a time it was not given ("now"); a reminder set for
    a moment nobody named is worse than a question."""
    required = set(spec.parameters.get("required", ()))
    return [name for name in _unsaid(arguments, request) if name in required]


def grounded(spec: ActionSpec, arguments: dict[str, Any], request: str) -> dict[str, Any]:
    """The arguments without optional ones the user never said (their defaults apply)."""
    required = set(spec.parameters.get("required", ()))
    unsaid = set(_unsaid(arguments, request)) - required
    return {name: value for name, value in arguments.items() if name not in unsaid}


def _unsaid(arguments: dict[str, Any], request: str) -> list[str]:
    said = words(request)
    unsaid = []
    for name, value in arguments.items():
        if not isinstance(value, str):
            continue
        own = words(value) - _SMALL_WORDS
        if not value.strip() or (own and len(own & said) < max(1, (len(own) + 1) // 2)
                                 and not (own <= _POINTING and said & _POINTING)):
            unsaid.append(name)
    return unsaid


class Skills:
    """The actions os1 can take, answered in conversation."""

    def __init__(self, model: ChatModel, actions: Actions) -> None:
        self.actions = actions
        self.planner = Planner(model, list(actions.specs.values()))

    async def respond(self, user: User, state: SkillState, text: str, now: datetime,
                      progress: Callable[[str], None] | None = None) -> ActionReply | None:
        """The reply when ``text`` is about an action; None when it is conversation.
        ``progress``: told how a long action is going."""
        context = (ActionContext(user, now, "chat") if progress is None
                   else ActionContext(user, now, "chat", progress=progress))
        proposal, state.proposal = state.proposal, None
        if proposal is not None:
            if says_yes(text):
                return await self._confirmed(context, proposal)
            await self.actions.confirm(context, proposal, yes=False)
            if _NO.match(text) or _YES.match(text):  # a no, or a yes with a but
                return ActionReply(proposal.spec.name, "declined", "Okay, I won't.")
            # Anything else: the proposal lapses (declined) and the words are read afresh.
        asked, state.asked = state.asked, None
        if asked is not None:
            request, skills = asked
            combined = f"{request} — {text}"
            reply = await self._plan(context, state, combined, skills)
            if reply is not None:
                return reply
        skills = tuple(self.planner.cued(text))
        if not skills:
            return None
        return await self._plan(context, state, text, skills)

    async def _plan(self, context: ActionContext, state: SkillState, text: str,
                    skills: tuple[str, ...]) -> ActionReply | None:
        plan = await self.planner.plan(text, skills)
        if isinstance(plan, NoAction):
            return None
        if isinstance(plan, Clarify):
            state.asked = (text, skills)
            return ActionReply("", "clarify", plan.question)
        assert isinstance(plan, Planned)
        spec = self.actions.specs[plan.action]
        gaps = ungrounded(spec, plan.arguments, text)
        if gaps:
            state.asked = (text, skills)
            return ActionReply(spec.name, "clarify", _question(spec, gaps[0]))
        try:
            result = await self.actions.call(context, plan.action,
                                             grounded(spec, plan.arguments, text))
        except NeedsClarification as question:
            state.asked = (text, skills)
            return ActionReply(spec.name, "clarify", str(question))
        except ActionError as exc:
            return ActionReply(spec.name, "failed", str(exc))
        if isinstance(result, Proposal):
            state.proposal = result
            return ActionReply(spec.name, "proposed",
                               f"Shall I {result.description}? Say yes or no.")
        return _done(spec.name, result)

    async def _confirmed(self, context: ActionContext, proposal: Proposal) -> ActionReply:
        try:
            outcome = await self.actions.confirm(context, proposal, yes=True)
        except ActionError as exc:
            return ActionReply(proposal.spec.name, "failed", str(exc))
        assert outcome is not None
        return _done(proposal.spec.name, outcome)


def _done(action: str, outcome: Outcome) -> ActionReply:
    return ActionReply(action, "done", outcome.text, outcome.detail)


def _question(spec: ActionSpec, argument: str) -> str:
    described = spec.parameters.get("properties", {}).get(argument, {}).get("description")
    if argument == "when":
        return "When should that be?"
    if described:
        return f"What should I use for {described.rstrip('.').lower()}?"
    return f"Could you tell me the {argument}?"
