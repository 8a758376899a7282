"""Every skill's actions, assembled once: what the planner may choose from and the CLI runs."""

from __future__ import annotations

from os1.config import Settings
from os1.llm.base import ChatModel
from os1.memory.engine import MemoryEngine
from os1.skills.actions import ActionLog, Actions, ActionSpec
from os1.skills.conversation import Skills
from os1.skills.letters import letter_actions
from os1.skills.mail import mail_actions
from os1.skills.reminders import reminder_actions
from os1.store.base import Database


def action_specs(store: Database, settings: Settings, model: ChatModel | None,
                 memory: MemoryEngine | None) -> list[ActionSpec]:
    """``memory`` None (memory is off): letters are written from what the user says only."""
    return [*reminder_actions(store, settings),
            *mail_actions(store, settings, model),
            *letter_actions(store, settings, model, memory)]


def open_skills(store: Database, settings: Settings, model: ChatModel,
                memory: MemoryEngine | None) -> Skills:
    return Skills(model, Actions(action_specs(store, settings, model, memory), ActionLog(store)))
