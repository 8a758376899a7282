"""Mail: sort the inbox, summarise it, draft replies in the user's voice, and — only when the
user says yes — send, archive or delete.

Mail is written by strangers. Its text reaches the model only inside the triage and reply
prompts, quoted as data, and those prompts can return nothing but a category or a draft: no
mail can ask for an action, since the planner never sees a mail (see `skills/actions.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from os1.config import Settings
from os1.llm.base import ChatModel
from os1.skills.actions import ActionContext, ActionSpec, Outcome, arguments_schema
from os1.skills.mail.skill import (
    DEFAULT_LIMIT,
    MailSkill,
    show_text,
    triage_outcome,
)
from os1.skills.mail.triage import said
from os1.store.base import Database

_WHICH = {"type": "string", "minLength": 1, "maxLength": 120,
          "description": "the message's number in the list, or words from its sender or subject"}


def mail_actions(store: Database, settings: Settings, model: ChatModel | None, *,
                 load_model: Callable[[], Awaitable[ChatModel]] | None = None,
                 skill: MailSkill | None = None) -> list[ActionSpec]:
    """The mail actions. ``model``: the chat model, or None with ``load_model`` to open it
    only when needed; ``skill``: one already made (tests set its timeout)."""
    mail = skill or MailSkill(store, settings, model, load_model=load_model)

    async def triage(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        items = await mail.triage(ctx, int(args.get("limit", DEFAULT_LIMIT)))
        return triage_outcome(items, ctx.now)

    async def summarise(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        item, message, said_in_short = await mail.summarise(ctx, args["which"])
        return Outcome(f"{item.named}: {said_in_short}", show_text(message, ctx.now))

    async def draft(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        item, written = await mail.draft(ctx, args["which"], str(args.get("gist", "")))
        return Outcome(f"I drafted a reply to {item.named}. Nothing is sent until you say "
                       "send.",
                       f"To: {written.to}\nSubject: {written.subject}\n\n{written.body}")

    async def send(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        sent = await mail.send(ctx, args["which"])
        return Outcome(f'Sent "{said(sent.subject)}" to {said(sent.to)}.')

    async def archive(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        item = await mail.archive(ctx, args["which"])
        return Outcome(f"Archived {item.named}.")

    async def delete(ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        item = await mail.delete(ctx, args["which"])
        return Outcome(f"Deleted {item.named} (it is in the Trash folder if your server "
                       "has one).")

    which_only = arguments_schema({"which": _WHICH}, ["which"])
    return [
        ActionSpec(
            "mail.triage", "Sort the user's newest emails into important, needs reply, can "
            "wait and newsletters; list them with numbers and say what matters.",
            arguments_schema({"limit": {"type": "integer", "minimum": 1, "maximum": 500}}, []),
            "read", triage, lambda _, a: "sort your inbox",
            cues=r"\b(?:inbox|e-?mails?|mails?|triage|sort\s+(?:my|the)\s+(?:mail|inbox))\b",
            examples=(("sort my inbox", {}), ("go through my last 20 emails", {"limit": 20}),
                      ("any emails that need a reply?", {}))),
        ActionSpec(
            "mail.summary", "Say in short what one email says (from the triage list).",
            which_only, "read", summarise, lambda _, a: f"summarise the message {a.get('which')!r}",
            cues=r"\b(?:summar\w*|gist|read\s+me|what\s+does|about)\b.*\b(?:e-?mail|mail|"
                 r"message)\b|\b(?:e-?mail|mail|message)\b.*\b(?:say|says|about)\b",
            examples=(("what does the email from Amy say?", {"which": "Amy"}),
                      ("summarise email 3", {"which": "3"}),
                      ("read me the message about the school trip", {"which": "school trip"}))),
        ActionSpec(
            "mail.draft_reply", "Draft a reply to an email in the user's own voice; it is "
            "only shown, nothing is sent.",
            arguments_schema({"which": _WHICH, "gist": {"type": "string", "maxLength": 400}},
                    ["which", "gist"]),
            "local", draft, lambda _, a: f"draft a reply to {a.get('which')!r}",
            cues=r"\b(?:repl\w*|answer|respond|write\s+back)\s+(?:to\b|\w+\s+(?:e-?mail|mail|"
                 r"message))|\bdraft\b",
            examples=(("reply to Amy that Friday works", {"which": "Amy",
                                                           "gist": "Friday works for me"}),
                      ("draft an answer to 2 saying I'll send it tomorrow",
                       {"which": "2", "gist": "I'll send it tomorrow"}))),
        ActionSpec(
            "mail.send", "Send the reply already drafted for an email.", which_only,
            "external", send, lambda c, a: mail.describe_send(c.user, str(a.get("which", ""))),
            cues=r"\bsend\b.*\b(?:repl\w*|draft|answer|e-?mail|mail|it)\b",
            examples=(("send the reply to Amy", {"which": "Amy"}),
                      ("send it, the draft for 2", {"which": "2"}))),
        ActionSpec(
            "mail.archive", "Move an email out of the inbox into the Archive folder.",
            which_only, "external", archive,
            lambda c, a: mail.describe(c.user, "archive", str(a.get("which", ""))),
            cues=r"\barchiv",
            examples=(("archive the newsletter from Acme", {"which": "Acme"}),
                      ("archive 4", {"which": "4"}))),
        ActionSpec(
            "mail.delete", "Delete an email (to the Trash folder).", which_only, "external",
            delete, lambda c, a: mail.describe(c.user, "delete", str(a.get("which", ""))),
            cues=r"\b(?:delete|trash|bin|remove)\b.*\b(?:e-?mail|mail|message|\d+)\b",
            examples=(("delete the weekly deals email", {"which": "weekly deals"}),
                      ("trash message 5", {"which": "5"}))),
    ]
