"""The mail skill: triage, summary, show, draft, send, archive and delete, for one user.

IMAP and SMTP are blocking, so each server conversation runs in a worker thread; the model is
called from the event loop. Numbers in the triage list are kept (`kept.py`) with the
UID and UIDVALIDITY they stand for, so "delete 3" means the message that was 3 when the user
read the list, even if new mail arrived since.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from os1.config import Settings
from os1.llm.base import ChatModel
from os1.persona.untrusted import plain
from os1.skills.actions import ActionContext, ActionError, NeedsClarification, Outcome
from os1.skills.mail import smtp
from os1.skills.mail.account import load_account
from os1.skills.mail.credentials import load_password
from os1.skills.mail.gist import gist
from os1.skills.mail.imap import TIMEOUT_S, MailClient
from os1.skills.mail.kept import Draft, Kept, Listed
from os1.skills.mail.message import MailMessage
from os1.skills.mail.replies import (
    SAMPLES,
    chat_samples,
    own_words,
    reply_email,
    reply_subject,
    write_reply,
)
from os1.skills.mail.triage import (
    Label,
    Triaged,
    listing,
    model_label,
    rule_label,
    said,
    store_label,
    stored_labels,
    summary,
)
from os1.store.base import Database, User

INBOX = "INBOX"
DEFAULT_LIMIT = 20  # in chat a person waits: about 16 s a message on a 2-core CPU (1.5B)
_STOP_WORDS = {"the", "a", "an", "from", "to", "mail", "email", "e-mail", "message", "one",
               "about", "that", "this", "my", "re", "fwd", "of", "and", "with"}


class MailSkill:
    def __init__(self, store: Database, settings: Settings, model: ChatModel | None, *,
                 timeout_s: float = TIMEOUT_S,
                 load_model: Callable[[], Awaitable[ChatModel]] | None = None) -> None:
        """``load_model``: opens the model the first time one is needed (the CLI: sorting
        mail that rules or earlier labels already sorted loads nothing)."""
        self.store = store
        self.settings = settings
        self.model = model
        self._load_model = load_model
        self.timeout_s = timeout_s

    # -- what is kept between commands ---------------------------------------------------

    def kept(self, user: User) -> Kept:
        return Kept(self.store, user)

    def listed(self, user: User) -> tuple[int, list[Listed]]:
        load_account(self.store, user)  # no account: say that first, not "no list"
        return self.kept(user).listing()

    def draft_for(self, user: User, item: Listed, uid_validity: int) -> Draft | None:
        return self.kept(user).draft(uid_validity, item.uid)

    # -- the server -----------------------------------------------------------------------

    def client(self, user: User) -> MailClient:
        return MailClient(load_account(self.store, user), load_password(self.store, user),
                          timeout_s=self.timeout_s)

    async def _chat_model(self, what: str) -> ChatModel:
        if self.model is None and self._load_model is not None:
            self.model = await self._load_model()
        if self.model is None:
            raise ActionError(f"{what} needs the chat model, which is not loaded.")
        return self.model

    # -- triage ------------------------------------------------------------------------------

    async def triage(self, ctx: ActionContext, limit: int = DEFAULT_LIMIT) -> list[Triaged]:
        user = ctx.user
        uid_validity, messages, labels = await asyncio.to_thread(self._read_inbox, ctx, limit)
        ruled = {m.uid: rule_label(m) for m in messages if m.uid not in labels}
        todo = [m for m in messages if m.uid in ruled and ruled[m.uid] is None]
        for message in messages:
            if message.uid not in ruled:
                continue
            label = ruled[message.uid]
            if label is None:
                ctx.progress(f"Sorting {todo.index(message) + 1} of {len(todo)}…")
                label = await model_label(await self._chat_model("Sorting mail"), message)
            labels[message.uid] = label
            if label.source != "fallback":  # a message the model missed is tried again later
                self._keep_label(user, uid_validity, message.uid, label, ctx.now)
        items = [Triaged(n, m, labels[m.uid]) for n, m in enumerate(messages, start=1)]
        self.kept(user).save_listing(INBOX, uid_validity, [
            Listed(i.number, i.message.uid, plain(i.message.sender_name, 80),
                   i.message.sender_address, plain(i.message.subject, 200),
                   i.message.message_id) for i in items])
        return items

    def _keep_label(self, user: User, uid_validity: int, uid: int, label: Label,
                    now: datetime) -> None:
        self.store.run(lambda db: store_label(db, user, INBOX, uid_validity, uid, label, now))

    def _read_inbox(self, ctx: ActionContext,
                    limit: int) -> tuple[int, list[MailMessage], dict[int, Label]]:
        user = ctx.user
        with self.client(user) as client:
            uid_validity = client.select(INBOX)
            uids = client.newest_uids(limit)
            labels = self.store.run(lambda db: stored_labels(db, user, INBOX, uid_validity,
                                                             uids))
            messages: list[MailMessage] = []
            for start in range(0, len(uids), 20):
                ctx.progress(f"Reading {min(start + 20, len(uids))} of {len(uids)}…")
                messages += client.fetch(uids[start:start + 20])
        return uid_validity, messages, labels

    # -- which message ------------------------------------------------------------------------

    def resolve(self, user: User, which: str) -> tuple[int, Listed]:
        """The message "which" names: a number from the list, or words of its sender or
        subject. Ambiguous words ask the user which one."""
        uid_validity, items = self.listed(user)
        which = which.strip().lstrip("#")
        number = re.fullmatch(r"(?:number\s+|no\.?\s*)?(\d{1,4})", which, re.IGNORECASE)
        if number:
            wanted = int(number[1])
            found = [i for i in items if i.number == wanted]
            if not found:
                raise ActionError(f"There is no message {wanted} in the last list (it has "
                                  f"{len(items)}). Run `os1 mail triage` to see it again.")
            return uid_validity, found[0]
        words = [w for w in re.findall(r"[\w'@.-]+", which.lower()) if w not in _STOP_WORDS]
        if not words:
            raise NeedsClarification("Which message? Give its number in the list, or words "
                                     "from its sender or subject.")
        matches = [i for i in items if not i.gone and all(
            w in f"{i.sender} {i.address} {i.subject}".lower() for w in words)]
        if not matches:
            raise ActionError(f"No message in the last list matches {plain(which, 60)!r}. Run "
                              "`os1 mail triage` to see the list.")
        if len(matches) > 1:
            options = "; ".join(f"{i.number}: {i.named}" for i in matches[:5])
            raise NeedsClarification(f"Several messages match {plain(which, 60)!r}: {options}. "
                                     "Which number?")
        return uid_validity, matches[0]

    def describe(self, user: User, verb: str, which: str) -> str:
        """The proposal: names the message; a "which" that fits several is asked about."""
        try:
            _, item = self.resolve(user, which)
        except NeedsClarification:
            raise
        except ActionError:
            return f"{verb} the message {plain(which, 60)!r}"
        return f"{verb} {item.named}"

    def describe_send(self, user: User, which: str) -> str:
        try:
            uid_validity, item = self.resolve(user, which)
            draft = self.draft_for(user, item, uid_validity)
        except NeedsClarification:
            raise
        except ActionError:
            draft = None
        if draft is None:
            return f"send the reply drafted for {plain(which, 60)!r}"
        return f'send the reply "{said(draft.subject)}" to {said(draft.to)}'

    def _open_listed(self, client: MailClient, uid_validity: int, item: Listed, *,
                     readonly: bool) -> None:
        if item.gone:
            raise ActionError(f"{item.named} was already archived or deleted.")
        if client.select(INBOX, readonly=readonly) != uid_validity:
            raise ActionError("Your inbox was renumbered on the server since the list was made "
                              "(UIDVALIDITY changed): run `os1 mail triage` again.")
        if not client.exists(item.uid):
            raise ActionError(f"{item.named} is no longer in your inbox (moved or deleted "
                              "elsewhere).")

    # -- reading one -----------------------------------------------------------------------

    async def message(self, ctx: ActionContext, which: str) -> tuple[Listed, MailMessage]:
        uid_validity, item = self.resolve(ctx.user, which)

        def work() -> MailMessage:
            with self.client(ctx.user) as client:
                self._open_listed(client, uid_validity, item, readonly=True)
                return client.fetch([item.uid])[0]

        return item, await asyncio.to_thread(work)

    async def summarise(self, ctx: ActionContext, which: str) -> tuple[Listed, MailMessage, str]:
        item, message = await self.message(ctx, which)
        return item, message, await gist(await self._chat_model("Summarising mail"), message)

    # -- replies -------------------------------------------------------------------------------

    async def draft(self, ctx: ActionContext, which: str, gist: str) -> tuple[Listed, Draft]:
        model = await self._chat_model("Drafting a reply")
        uid_validity, item = self.resolve(ctx.user, which)

        def work() -> tuple[MailMessage, list[str]]:
            with self.client(ctx.user) as client:
                sent = client.special("\\Sent", ("Sent", "Sent Items", "Sent Messages"))
                self._open_listed(client, uid_validity, item, readonly=True)
                original = client.fetch([item.uid])[0]
                samples: list[str] = []
                if sent is not None:
                    client.select(sent)
                    for mail in client.fetch(client.newest_uids(SAMPLES), body_limit=20_000):
                        if own_words(mail.text):
                            samples.append(own_words(mail.text))
                return original, samples

        original, samples = await asyncio.to_thread(work)
        if not samples:
            samples = self.store.run(lambda db: chat_samples(db, ctx.user))[:SAMPLES]
        body = await write_reply(model, original, gist, samples, ctx.user.name)
        draft = Draft(uid_validity, item.uid, original.sender_address,
                      reply_subject(original.subject), original.message_id, body)
        self.kept(ctx.user).save_draft(draft)
        return item, draft

    async def send(self, ctx: ActionContext, which: str) -> Draft:
        uid_validity, item = self.resolve(ctx.user, which)
        draft = self.draft_for(ctx.user, item, uid_validity)
        if draft is None:
            raise ActionError(f"There is no draft reply to {item.named}: ask for one first "
                              f"(`os1 mail draft {item.number}`).")
        if not draft.to:
            raise ActionError(f"{item.named} has no sender address to reply to.")
        account = load_account(self.store, ctx.user)
        password = load_password(self.store, ctx.user)
        email = reply_email(account.address, draft.to, draft.subject, draft.body,
                            draft.in_reply_to)
        await asyncio.to_thread(smtp.send, account, password, email, timeout_s=self.timeout_s)
        # Sent: the draft is done (a second "send" must not send it twice).
        self.kept(ctx.user).drop_draft(uid_validity, item.uid)

        def keep_copy() -> None:
            with self.client(ctx.user) as client:
                sent = client.special("\\Sent", ("Sent", "Sent Items", "Sent Messages"))
                if sent is not None:
                    client.append(sent, email.as_bytes())

        with contextlib.suppress(ActionError):  # sent is sent; a missing copy is no error
            await asyncio.to_thread(keep_copy)
        return draft

    # -- archive and delete --------------------------------------------------------------------

    async def archive(self, ctx: ActionContext, which: str) -> Listed:
        return await self._remove(ctx, which, archive=True)

    async def delete(self, ctx: ActionContext, which: str) -> Listed:
        return await self._remove(ctx, which, archive=False)

    async def _remove(self, ctx: ActionContext, which: str, *, archive: bool) -> Listed:
        uid_validity, item = self.resolve(ctx.user, which)

        def work() -> None:
            with self.client(ctx.user) as client:
                self._open_listed(client, uid_validity, item, readonly=False)
                if archive:
                    target = client.special("\\Archive", ("Archive", "Archives"))
                    if target is None:
                        client.create("Archive")
                        target = "Archive"
                else:
                    target = client.special("\\Trash", ("Trash", "Deleted Items",
                                                         "Deleted Messages", "Bin"))
                if target is not None and target != INBOX:
                    client.move(item.uid, target)
                else:
                    client.expunge(item.uid)

        await asyncio.to_thread(work)
        self.kept(ctx.user).mark_gone(item.number)
        return item


def triage_outcome(items: list[Triaged], now: datetime) -> Outcome:
    """Counts said aloud; shown: what needs the user, then the whole numbered list."""
    text, needs_you = summary(items, now)
    if not items:
        return Outcome(text)
    detail = (f"Needs you:\n{needs_you}\n\n" if needs_you else "") + \
        f"All, newest first:\n{listing(items, now)}"
    return Outcome(text, detail)


def show_text(message: MailMessage, now: datetime) -> str:
    lines = [f"From: {message.sender}", f"Subject: {message.subject}"]
    if message.date is not None:
        lines.append(f"Date: {message.date.astimezone(now.tzinfo):%Y-%m-%d %H:%M}")
    for attachment in message.attachments:
        size = f"{attachment.size // 1000} kB" if attachment.size is not None else "size unknown"
        lines.append(f"Attachment: {attachment.name} ({size})")
    lines += [f"Note: {note}" for note in message.notes]
    return "\n".join(lines) + "\n\n" + message.text
