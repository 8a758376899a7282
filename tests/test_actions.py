"""The action seam: validate, confirm, run, log; and actions answered in conversation.

The planner's model here is `ScriptedModel` (a named test double): these tests prove the
plumbing — what is validated, logged, confirmed and stored — not which action a real model
would choose. That is measured by bench/actions.py with the real models.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from conftest import ScriptedModel
from os1.companion import Companion
from os1.config import Settings
from os1.events import ActionTaken, Done
from os1.persona.book import FixedPersona
from os1.skills.actions import (
    ActionContext,
    ActionError,
    ActionLog,
    Actions,
    ActionSpec,
    NeedsClarification,
    Outcome,
    Proposal,
)
from os1.skills.conversation import Skills, SkillState, grounded, says_yes, ungrounded
from os1.skills.planner import plan_schema
from os1.store.sqlite import SQLiteStore

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone(timedelta(hours=1)))


def _object(**fields: bool) -> dict[str, Any]:
    return {"type": "object", "properties": {n: {"type": "string"} for n in fields},
            "required": [n for n, required in fields.items() if required],
            "additionalProperties": False}


class Recorder:
    """What the test skill's actions were asked to do."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, dict[str, Any]]] = []

    def spec(self, name: str, effect: Any, parameters: dict[str, Any], cues: str,
             fail: Exception | None = None) -> ActionSpec:
        async def run(context: ActionContext, arguments: dict[str, Any]) -> Outcome:
            if fail is not None:
                raise fail
            self.runs.append((name, arguments))
            return Outcome(f"did {name}", detail=f"details of {name}")

        return ActionSpec(name, f"Do {name}.", parameters, effect, run,
                          lambda _, a: f"{name} {a.get('which', '')}".strip(), cues)


@pytest.fixture
def store(settings: Settings) -> SQLiteStore:
    return SQLiteStore(settings.database_path)


def _actions(store: SQLiteStore, recorder: Recorder) -> Actions:
    return Actions([
        recorder.spec("note.add", "local", _object(what=True, when=True), r"\bremind"),
        recorder.spec("note.list", "read", _object(), r"\bremind"),
        recorder.spec("post.delete", "external", _object(which=True), r"\bmail"),
        recorder.spec("post.broken", "local", _object(), r"\bmail",
                      fail=ActionError("The server is down: try again later.")),
        recorder.spec("post.ask", "local", _object(), r"\bmail",
                      fail=NeedsClarification("Which one?")),
    ], ActionLog(store))


async def test_a_local_action_runs_at_once_and_is_logged(store: SQLiteStore) -> None:
    recorder = Recorder()
    actions = _actions(store, recorder)
    ana = store.user("ana")
    outcome = await actions.call(ActionContext(ana, NOW, "command"), "note.add",
                                 {"what": "call Amy", "when": "Friday"})
    assert outcome == Outcome("did note.add", "details of note.add")
    assert recorder.runs == [("note.add", {"what": "call Amy", "when": "Friday"})]
    [entry] = actions.log.entries(ana)
    assert (entry.action, entry.status, entry.origin) == ("note.add", "done", "command")
    assert entry.arguments == {"what": "call Amy", "when": "Friday"}


async def test_an_external_action_waits_for_a_yes(store: SQLiteStore) -> None:
    recorder = Recorder()
    actions = _actions(store, recorder)
    ana = store.user("ana")
    context = ActionContext(ana, NOW, "chat")
    proposal = await actions.call(context, "post.delete", {"which": "3"})
    assert isinstance(proposal, Proposal) and recorder.runs == []
    assert actions.log.entries(ana)[0].status == "proposed"
    assert await actions.confirm(context, proposal, yes=False) is None
    assert recorder.runs == [] and actions.log.entries(ana)[0].status == "declined"
    again = await actions.call(context, "post.delete", {"which": "3"})
    assert isinstance(again, Proposal)
    await actions.confirm(context, again, yes=True)
    assert recorder.runs == [("post.delete", {"which": "3"})]
    assert [e.status for e in actions.log.entries(ana)] == ["done", "declined"]


async def test_bad_arguments_and_unknown_actions_are_refused_before_running(
        store: SQLiteStore) -> None:
    recorder = Recorder()
    actions = _actions(store, recorder)
    context = ActionContext(store.user("ana"), NOW, "chat")
    with pytest.raises(ActionError, match="'when' is a required property"):
        await actions.call(context, "note.add", {"what": "call Amy"})
    with pytest.raises(ActionError, match="Additional properties"):
        await actions.call(context, "note.add", {"what": "a", "when": "b", "to": "evil"})
    with pytest.raises(ActionError, match=r"no action called 'mail\.forward_all'"):
        await actions.call(context, "mail.forward_all", {})
    assert recorder.runs == []


async def test_a_failed_action_is_logged_with_its_reason(store: SQLiteStore) -> None:
    actions = _actions(store, Recorder())
    ana = store.user("ana")
    with pytest.raises(ActionError):
        await actions.call(ActionContext(ana, NOW, "chat"), "post.broken", {})
    [entry] = actions.log.entries(ana)
    assert (entry.status, entry.result) == ("failed", "The server is down: try again later.")


async def test_each_users_log_is_their_own(store: SQLiteStore) -> None:
    actions = _actions(store, Recorder())
    ana, ben = store.user("ana"), store.user("ben")
    await actions.call(ActionContext(ana, NOW, "chat"), "note.list", {})
    assert len(actions.log.entries(ana)) == 1
    assert actions.log.entries(ben) == []


def test_the_plan_schema_allows_only_known_actions_clarify_or_none(store: SQLiteStore) -> None:
    import jsonschema

    schema = plan_schema(list(_actions(store, Recorder()).specs.values()))
    jsonschema.validate({"action": "note.add", "arguments": {"what": "x", "when": "y"}}, schema)
    jsonschema.validate({"action": "none"}, schema)
    jsonschema.validate({"action": "clarify", "question": "When?"}, schema)
    for bad in ({"action": "mail.forward_all", "arguments": {}},
                {"action": "note.add", "arguments": {"what": "x"}},
                {"action": "note.add", "arguments": {"what": "x", "when": "y", "to": "z"}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_arguments_the_user_never_said_are_not_trusted(store: SQLiteStore) -> None:
    spec = _actions(store, Recorder()).specs["note.add"]
    request = "remind me to call mom"
    assert ungrounded(spec, {"what": "call mom", "when": "now"}, request) == ["when"]
    assert ungrounded(spec, {"what": "call Amy", "when": "Friday at 6"},
                      "Remind me to call Amy Friday at six") == []
    assert ungrounded(spec, {"what": "it", "when": ""}, "remind me about it") == ["when"]
    assert ungrounded(spec, {"what": "it", "when": "in an hour"},
                      "snooze that for an hour") == []  # "that" pointed at it
    optional = ActionSpec("letters.pdf", "PDF.", _object(which=False), "local",
                          spec.run, spec.describe)
    assert grounded(optional, {"which": "latest"}, "make a pdf of the letter to Dad") == {}
    assert grounded(optional, {"which": "Dad"}, "make a pdf of the letter to Dad") == {
        "which": "Dad"}


async def test_in_conversation_a_cued_request_is_planned_and_done(store: SQLiteStore) -> None:
    recorder = Recorder()
    model = ScriptedModel([{"action": "note.add",
                            "arguments": {"what": "call Amy", "when": "Friday at 6"}}])
    skills = Skills(model, _actions(store, recorder))
    reply = await skills.respond(store.user("ana"), SkillState(),
                                 "Remind me to call Amy Friday at six", NOW)
    assert reply is not None and (reply.status, reply.text) == ("done", "did note.add")
    assert reply.detail == "details of note.add"
    # The planner read only the user's words, and only the cued skill's actions.
    system, user = model.calls[0]
    assert user.content == "Remind me to call Amy Friday at six"
    assert "note.add" in system.content and "post.delete" not in system.content


async def test_conversation_without_a_cue_never_asks_the_model(store: SQLiteStore) -> None:
    model = ScriptedModel([])
    skills = Skills(model, _actions(store, Recorder()))
    assert await skills.respond(store.user("ana"), SkillState(), "I had a long day", NOW) is None
    assert model.calls == []


async def test_a_planner_reply_of_none_leaves_the_turn_to_conversation(
        store: SQLiteStore) -> None:
    skills = Skills(ScriptedModel([{"action": "none"}]), _actions(store, Recorder()))
    reply = await skills.respond(store.user("ana"), SkillState(),
                                 "my mom used to remind me of that", NOW)
    assert reply is None


async def test_a_missing_time_is_asked_for_then_the_answer_completes_the_request(
        store: SQLiteStore) -> None:
    recorder = Recorder()
    model = ScriptedModel([
        {"action": "note.add", "arguments": {"what": "call mom", "when": "now"}},
        {"action": "note.add", "arguments": {"what": "call mom", "when": "tomorrow at 9"}},
    ])
    skills = Skills(model, _actions(store, recorder))
    state = SkillState()
    ana = store.user("ana")
    question = await skills.respond(ana, state, "remind me to call mom", NOW)
    assert question is not None and question.status == "clarify" and recorder.runs == []
    done = await skills.respond(ana, state, "tomorrow at 9", NOW)
    assert done is not None and done.status == "done"
    assert recorder.runs == [("note.add", {"what": "call mom", "when": "tomorrow at 9"})]
    assert model.calls[1][1].content == "remind me to call mom — tomorrow at 9"


async def test_a_proposal_runs_on_yes_and_not_on_no_or_on_something_else(
        store: SQLiteStore) -> None:
    recorder = Recorder()
    delete = {"action": "post.delete", "arguments": {"which": "3"}}
    skills = Skills(ScriptedModel([delete, delete, delete]), _actions(store, recorder))
    ana = store.user("ana")
    state = SkillState()
    asked = await skills.respond(ana, state, "delete mail 3", NOW)
    assert asked is not None and asked.status == "proposed" and "post.delete 3" in asked.text
    declined = await skills.respond(ana, state, "no, leave it", NOW)
    assert declined is not None and declined.status == "declined" and recorder.runs == []
    await skills.respond(ana, state, "delete mail 3", NOW)
    assert await skills.respond(ana, state, "how are you today?", NOW) is None
    assert recorder.runs == [] and state.proposal is None
    await skills.respond(ana, state, "delete mail 3", NOW)
    done = await skills.respond(ana, state, "yes please", NOW)
    assert done is not None and done.status == "done"
    assert recorder.runs == [("post.delete", {"which": "3"})]
    assert [e.status for e in skills.actions.log.entries(ana)] == [
        "done", "declined", "declined"]


async def test_an_action_error_is_said_and_a_question_from_the_action_is_asked(
        store: SQLiteStore) -> None:
    skills = Skills(ScriptedModel([{"action": "post.broken", "arguments": {}},
                                   {"action": "post.ask", "arguments": {}}]),
                    _actions(store, Recorder()))
    ana = store.user("ana")
    failed = await skills.respond(ana, SkillState(), "check my mail", NOW)
    assert failed is not None and failed.status == "failed" and "server is down" in failed.text
    state = SkillState()
    asked = await skills.respond(ana, state, "answer that mail", NOW)
    assert asked is not None and (asked.status, asked.text) == ("clarify", "Which one?")
    assert state.asked is not None


async def test_a_companion_turn_that_asks_for_an_action_says_and_keeps_what_was_done(
        settings: Settings, store: SQLiteStore) -> None:
    recorder = Recorder()
    model = ScriptedModel([{"action": "note.add",
                            "arguments": {"what": "call Amy", "when": "Friday at 6"}}])
    companion = Companion(model, store, settings, FixedPersona("You are os1."),
                          skills=Skills(model, _actions(store, recorder)))
    ana = store.user("ana")
    events = [e async for e in companion.turn(ana, "Remind me to call Amy Friday at six")]
    taken = [e for e in events if isinstance(e, ActionTaken)]
    assert taken == [ActionTaken("note.add", "done", "details of note.add")]
    done = events[-1]
    assert isinstance(done, Done) and done.reply.startswith("did note.add")
    stored = store.turns(ana, store.current_conversation(ana).id)
    assert [t.role for t in stored] == ["user", "assistant"]
    assert "details of note.add" in stored[1].content
    # Conversation goes on with the model as usual.
    events = [e async for e in companion.turn(ana, "thanks, that helps")]
    assert isinstance(events[-1], Done) and events[-1].reply == "Mm."


async def test_a_crisis_turn_never_runs_an_action(settings: Settings,
                                                  store: SQLiteStore) -> None:
    from os1.safety.guard import SafetyGuard

    recorder = Recorder()
    model = ScriptedModel([{"action": "note.add",
                            "arguments": {"what": "say goodbye", "when": "tonight"}}])
    safety = SafetyGuard(settings, None, store)
    companion = Companion(model, store, settings, "You are os1.", safety=safety,
                          skills=Skills(model, _actions(store, recorder)))
    ana = store.user("ana")
    text = "remind me tonight to say goodbye to everyone, I want to kill myself"
    events = [e async for e in companion.turn(ana, text)]
    assert not [e for e in events if isinstance(e, ActionTaken)]
    assert recorder.runs == [] and model.calls == []


@pytest.mark.parametrize("text", ["yes", "Yes please", "ok", "sure, go ahead", "yep do it",
                                  "send it"])
def test_a_plain_yes_is_a_yes(text: str) -> None:
    assert says_yes(text)


@pytest.mark.parametrize("text", ["please don't", "yes but not to Amy", "ok wait",
                                  "sure, except change the subject first", "no", "nope",
                                  "what did it say again?",
                                  "yes, and also tell me about my week and my sister and "
                                  "what else is going on"])
def test_anything_else_is_not_a_yes(text: str) -> None:
    assert not says_yes(text)


async def test_a_long_action_shows_its_progress_and_ctrl_c_stops_it(
        settings: Settings, store: SQLiteStore) -> None:
    import asyncio

    from os1.events import ActionProgress

    started = asyncio.Event()

    async def sort(context: ActionContext, arguments: dict[str, Any]) -> Outcome:
        await asyncio.to_thread(context.progress, "Sorting 1 of 2…")  # from a worker thread
        context.progress("Sorting 2 of 2…")
        if arguments.get("which") == "forever":
            started.set()
            await asyncio.Event().wait()  # until the turn is cancelled
        return Outcome("Sorted.")

    spec = ActionSpec("post.sort", "Sort.", _object(which=False), "read", sort,
                      lambda _, a: "sort", r"\bmail")
    model = ScriptedModel([{"action": "post.sort", "arguments": {}},
                           {"action": "post.sort", "arguments": {"which": "forever"}}])
    companion = Companion(model, store, settings, FixedPersona("You are os1."),
                          skills=Skills(model, Actions([spec], ActionLog(store))))
    ana = store.user("ana")
    events = [e async for e in companion.turn(ana, "sort my mail")]
    shown = [e.text for e in events if isinstance(e, ActionProgress)]
    # Shown while it runs (a line said as it finishes may never be shown: it is done).
    assert shown[0] == "Sorting 1 of 2…"
    assert isinstance(events[0], ActionProgress) and isinstance(events[1], ActionTaken)

    async def consume() -> None:
        async for _ in companion.turn(ana, "sort my mail forever"):
            pass

    turn = asyncio.ensure_future(consume())
    await asyncio.wait_for(started.wait(), 10)
    turn.cancel()  # what Ctrl-C does
    with pytest.raises(asyncio.CancelledError):
        await turn
    latest = ActionLog(store).entries(ana)[0]
    assert (latest.action, latest.status, latest.result) == ("post.sort", "failed",
                                                             "CancelledError")
