"""Actions: what a skill can do for the user, as typed, validated, logged calls.

A skill describes each of its actions as an `ActionSpec`: a name, when to use it, a JSON schema
for its arguments and its `Effect`. The model never runs anything: it can only *ask* for an
action through a reply constrained to the specs' schemas (`skills/planner.py`); the program
validates the arguments here and dispatches. Actions that send, delete or change anything
outside os1 (effect ``external``) run only after the user said yes. Every call, asked for or
run, is one row of the user's `action_log`.

Text that did not come from the user (a mail body, a fetched page) never reaches the planner,
so it can never ask for an action: that is the whole defence, and it is structural.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import jsonschema

from os1.store.base import Database, User
from os1.store.sqlite import from_text, to_text, transaction

# read: looks only (list the inbox); local: changes os1's own data (a reminder, a letter);
# external: sends, deletes or changes something outside os1 (mail) — asks the user first.
Effect = Literal["read", "local", "external"]
Origin = Literal["chat", "command"]
LogStatus = Literal["proposed", "declined", "done", "failed", "refused"]


class ActionError(Exception):
    """An action could not run; the message says why and what the user can do."""


class NeedsClarification(ActionError):
    """The request is missing something only the user can say: the message is the question."""


def _quiet(_text: str) -> None:
    pass


@dataclass(frozen=True)
class ActionContext:
    user: User
    now: datetime  # aware, in the user's local zone
    origin: Origin
    # "Sorting 3 of 12…" while a long action runs; may be called from a worker thread.
    progress: Callable[[str], None] = _quiet


@dataclass(frozen=True)
class Outcome:
    """What an action did. ``text``: one or two sentences, said to the user and kept in the
    conversation; ``detail``: anything longer (a list, a draft), shown but not spoken;
    ``made``: the id of the row it made (a reminder), for callers that show that row."""

    text: str
    detail: str = ""
    made: int | None = None


Run = Callable[[ActionContext, dict[str, Any]], Awaitable[Outcome]]


def arguments_schema(properties: dict[str, Any],
                     required: Sequence[str] = ()) -> dict[str, Any]:
    """An action's arguments: an object of exactly these properties. The planner's grammar
    is built from it, so nothing the schema does not name can be written."""
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


@dataclass(frozen=True)
class ActionSpec:
    name: str  # "remind.add": skill, dot, verb
    summary: str  # when to use it, for the planner's prompt
    parameters: dict[str, Any]  # JSON schema of the arguments (an object)
    effect: Effect
    run: Run
    # "delete \"Weekly deals\" from Acme Store": the proposal put to the user
    describe: Callable[[ActionContext, dict[str, Any]], str]
    cues: str = ""  # a regex over the user's words that suggests this action (the gate)
    examples: tuple[tuple[str, dict[str, Any]], ...] = ()  # request → arguments


@dataclass(frozen=True)
class LoggedAction:
    id: int
    at: datetime
    action: str
    arguments: dict[str, Any]
    origin: Origin
    status: LogStatus
    result: str


class ActionLog:
    """The per-user record of every action: proposed, declined, done, failed or refused."""

    def __init__(self, store: Database) -> None:
        self._store = store

    def add(self, user: User, action: str, arguments: dict[str, Any], origin: Origin,
            status: LogStatus, result: str = "", at: datetime | None = None) -> int:
        def work(db: sqlite3.Connection) -> int:
            with transaction(db):
                cursor = db.execute(
                    "INSERT INTO action_log (user_id, at, action, arguments, origin, status, "
                    "result) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (user.id, to_text(at or datetime.now(UTC)), action,
                     json.dumps(arguments, ensure_ascii=False), origin, status, result))
                return int(cursor.lastrowid or 0)

        return self._store.run(work)

    def settle(self, user: User, entry_id: int, status: LogStatus, result: str = "") -> None:
        """A proposal's end: done, declined or failed."""
        def work(db: sqlite3.Connection) -> None:
            with transaction(db):
                db.execute("UPDATE action_log SET status = ?, result = ? WHERE id = ? AND "
                           "user_id = ?", (status, result, entry_id, user.id))

        self._store.run(work)

    def entries(self, user: User, limit: int = 50) -> list[LoggedAction]:
        """The user's latest actions, newest first."""
        rows = self._store.run(lambda db: db.execute(
            "SELECT id, at, action, arguments, origin, status, result FROM action_log "
            "WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user.id, limit)).fetchall())
        return [LoggedAction(int(r[0]), from_text(r[1]), r[2], json.loads(r[3]), r[4], r[5],
                             r[6]) for r in rows]


@dataclass(frozen=True)
class Proposal:
    """An external action waiting for the user's yes: its log row and what it will do."""

    log_id: int
    spec: ActionSpec
    arguments: dict[str, Any]
    description: str


class Actions:
    """Every skill's actions by name: validate, confirm when needed, run, log."""

    def __init__(self, specs: Sequence[ActionSpec], log: ActionLog) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"Two actions share a name: {sorted(names)}")
        self.specs: dict[str, ActionSpec] = {s.name: s for s in specs}
        self.log = log

    def spec(self, name: str) -> ActionSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise ActionError(f"There is no action called {name!r}. Known: "
                              f"{', '.join(sorted(self.specs))}.") from None

    def validate(self, name: str, arguments: dict[str, Any]) -> ActionSpec:
        spec = self.spec(name)
        try:
            jsonschema.validate(arguments, spec.parameters)
        except jsonschema.ValidationError as exc:
            raise ActionError(f"{name}: {exc.message}.") from None
        return spec

    async def call(self, context: ActionContext, name: str, arguments: dict[str, Any], *,
                   confirmed: bool = False) -> Outcome | Proposal:
        """Run the action, or — when it is external and not yet confirmed — log it as
        proposed and return the `Proposal` to put to the user."""
        spec = self.validate(name, arguments)
        if spec.effect == "external" and not confirmed:
            try:
                description = spec.describe(context, arguments)  # may find "which" ambiguous: ask
            except NeedsClarification:
                self.refuse(context, name, arguments, "asked the user to clarify")
                raise
            log_id = self.log.add(context.user, name, arguments, context.origin, "proposed",
                                  description, at=context.now)
            return Proposal(log_id, spec, arguments, description)
        log_id = self.log.add(context.user, name, arguments, context.origin, "proposed",
                              at=context.now)
        return await self._run(context, spec, arguments, log_id)

    async def confirm(self, context: ActionContext, proposal: Proposal,
                      yes: bool) -> Outcome | None:
        """The user's answer to a proposal: run it (yes) or log it declined."""
        if not yes:
            self.log.settle(context.user, proposal.log_id, "declined", proposal.description)
            return None
        return await self._run(context, proposal.spec, proposal.arguments, proposal.log_id)

    def refuse(self, context: ActionContext, name: str, arguments: dict[str, Any],
               why: str) -> None:
        """Log an action that was asked for but must not run (bad arguments, an action
        that is not there)."""
        self.log.add(context.user, name, arguments, context.origin, "refused", why,
                     at=context.now)

    async def _run(self, context: ActionContext, spec: ActionSpec, arguments: dict[str, Any],
                   log_id: int) -> Outcome:
        try:
            outcome = await spec.run(context, arguments)
        except NeedsClarification:
            self.log.settle(context.user, log_id, "refused", "asked the user to clarify")
            raise
        except ActionError as exc:
            self.log.settle(context.user, log_id, "failed", str(exc))
            raise
        except BaseException as exc:  # a bug or Ctrl-C: the log says it did not finish
            self.log.settle(context.user, log_id, "failed", type(exc).__name__)
            raise
        self.log.settle(context.user, log_id, "done", outcome.text)
        return outcome
