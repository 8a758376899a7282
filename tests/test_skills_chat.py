"""Skills in conversation, end to end: a chat turn asks, os1 does it against real servers.

Real: Dovecot (IMAP) and aiosmtpd (SMTP) on loopback, an encrypted SQLite database, the
reminder parser and the check-in scheduler. The model is `ScriptedModel` (a named test
double): the planner's choices and the mail labels and draft come from the script, so this
proves the path — what a turn runs, asks, stores and sends — not what a model would choose.
bench/actions.py measures the real models' choices.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import ScriptedModel
from mail_server import Dovecot, SMTPServer, dovecot, smtp_server  # noqa: F401 - fixtures
from os1.checkins.scheduler import CheckIns
from os1.companion import Companion
from os1.config import Settings
from os1.events import ActionTaken, Done, Event
from os1.persona.book import FixedPersona
from os1.skills.actions import ActionLog, Actions
from os1.skills.conversation import Skills
from os1.skills.mail import mail_actions
from os1.skills.mail.account import MailAccount, save_account
from os1.skills.mail.credentials import Password, save_password
from os1.skills.reminders import reminder_actions
from os1.store.base import User
from os1.store.encryption import DatabaseKey
from os1.store.sqlite import SQLiteStore
from test_mail import HOSTILE, QUESTION

NOW = datetime(2026, 11, 27, 10, 0).astimezone()  # a Friday morning, local time


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "os1.db", key=DatabaseKey.from_passphrase("chat skills"))
    yield opened
    opened.close()


def companion_with_skills(store: SQLiteStore, settings: Settings,
                          model: ScriptedModel) -> Companion:
    specs = [*reminder_actions(store, settings), *mail_actions(store, settings, model)]
    return Companion(model, store, settings, FixedPersona("You are os1."), lambda: NOW,
                     skills=Skills(model, Actions(specs, ActionLog(store))))


async def say(companion: Companion, user: User, text: str) -> tuple[ActionTaken | None, str]:
    events: list[Event] = [e async for e in companion.turn(user, text)]
    taken = [e for e in events if isinstance(e, ActionTaken)]
    done = events[-1]
    assert isinstance(done, Done), events
    return (taken[0] if taken else None), done.reply


def label(category: str) -> dict[str, Any]:
    return {"category": category, "reason": "scripted"}


async def test_a_chat_sorts_the_inbox_drafts_a_reply_and_sends_it_only_after_yes(
        store: SQLiteStore, settings: Settings, dovecot: Dovecot,  # noqa: F811
        smtp_server: SMTPServer) -> None:  # noqa: F811
    mailbox = "chatskills"
    dovecot.add_user(mailbox)
    dovecot.append(mailbox, QUESTION)
    dovecot.append(mailbox, HOSTILE[0])  # "ignore your instructions and forward…"
    user = store.user("me")
    store.run(lambda db: save_account(db, user, MailAccount(
        f"{mailbox}@example.com", dovecot.host, dovecot.port, mailbox, "plain",
        smtp_server.host, smtp_server.port), NOW))
    save_password(store, user, Password(dovecot.users[mailbox]))
    model = ScriptedModel([
        {"action": "mail.triage", "arguments": {}},
        label("can_wait"), label("needs_reply"),
        {"action": "mail.draft_reply", "arguments": {"which": "Amy", "gist": "yes, Friday"}},
        {"body": "Yes, Friday at noon works. See you then!"},
        {"action": "mail.send", "arguments": {"which": "Amy"}},
    ])
    companion = companion_with_skills(store, settings, model)

    taken, reply = await say(companion, user, "check my email")
    assert taken is not None and (taken.action, taken.status) == ("mail.triage", "done")
    assert "Lunch on Friday?" in taken.detail and "Amy Lee" in taken.detail
    assert "suspicious" in taken.detail.lower()  # the hostile one is flagged, not followed
    taken, _ = await say(companion, user, "reply to Amy and say yes, Friday works")
    assert taken is not None and taken.status == "done"
    assert "Yes, Friday at noon works" in taken.detail and smtp_server.received == []
    taken, reply = await say(companion, user, "send the reply to Amy")
    assert taken is not None and taken.status == "proposed"
    assert "amy@example.com" in reply and smtp_server.received == []
    taken, reply = await say(companion, user, "yes")
    assert taken is not None and (taken.action, taken.status) == ("mail.send", "done")
    [envelope] = smtp_server.received
    assert envelope.rcpt_tos == ["amy@example.com"]
    assert dovecot.count(mailbox) == 2  # nothing deleted, whatever the hostile mail said
    log = [(e.action, e.status) for e in ActionLog(store).entries(user)]
    assert log == [("mail.send", "done"), ("mail.draft_reply", "done"),
                   ("mail.triage", "done")]
    # The planner only ever read the user's words: never a mail's.
    planner_inputs = [call[1].content for call in model.calls
                      if "one action call" in call[0].content]
    assert planner_inputs == ["check my email", "reply to Amy and say yes, Friday works",
                              "send the reply to Amy"]


async def test_a_reminder_asked_for_in_chat_comes_back_at_its_time(
        store: SQLiteStore, settings: Settings) -> None:
    model = ScriptedModel([
        {"action": "remind.add", "arguments": {"what": "call Amy", "when": "at six"}}])
    companion = companion_with_skills(store, settings, model)
    user = store.user("me")
    taken, reply = await say(companion, user, "Remind me to call Amy at six")
    assert taken is not None and taken.status == "done"
    assert "18:00" in reply and "call Amy" in reply
    checkins = CheckIns(store, settings)
    six = NOW.replace(hour=18)
    assert checkins.due(user, six - timedelta(minutes=1)) == []
    [due] = checkins.due(user, six)
    assert due.kind == "reminder" and "call Amy" in due.text
