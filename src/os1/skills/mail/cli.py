"""`os1 mail`: connect an account, sort the inbox, read, reply, archive and delete.

    os1 mail connect --address you@example.com --imap-host imap.example.com
                     [--imap-port 993] [--security tls|starttls|plain] [--username U]
                     [--smtp-host smtp.example.com --smtp-port 465] [--password-stdin]
    os1 mail triage [--limit N]     sort the newest N messages; numbers for the verbs below
    os1 mail show N                 one message in full
    os1 mail summary N              what it says, in short (the model reads it)
    os1 mail draft N [--gist ..]    draft a reply in your voice (shown; nothing is sent)
    os1 mail send N [--yes]         send the draft (asks [y/N])
    os1 mail archive N [--yes]      move to Archive (asks [y/N])
    os1 mail delete N [--yes]       move to Trash (asks [y/N])
    os1 mail forget-account         remove the account, its password and the labels

Every verb goes through the same actions the chat uses, so each one is in the action log.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape

from os1.config import Settings
from os1.llm.base import ChatModel
from os1.skills.actions import (
    ActionContext,
    ActionError,
    ActionLog,
    Actions,
    NeedsClarification,
)
from os1.skills.cli import run_command
from os1.skills.mail import mail_actions
from os1.skills.mail.account import (
    SECURITIES,
    MailAccount,
    MailAccountError,
    checked,
    delete_account,
    save_account,
)
from os1.skills.mail.credentials import Password, forget_password, safe_place, save_password
from os1.skills.mail.imap import MailClient, MailServerError
from os1.skills.mail.kept import forget
from os1.skills.mail.skill import INBOX, MailSkill, show_text
from os1.store.base import Database, User
from os1.store.open import open_store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_ACTIONS = {"triage": "mail.triage", "summary": "mail.summary", "draft": "mail.draft_reply",
            "send": "mail.send", "archive": "mail.archive", "delete": "mail.delete"}


def add_mail_parser(verbs: Any) -> None:
    mail = verbs.add_parser("mail", help="sort your inbox, reply in your voice, archive, delete")
    actions = mail.add_subparsers(dest="mail_action", metavar="ACTION")
    connect = actions.add_parser("connect", help="connect your mail account (IMAP, SMTP)")
    connect.add_argument("--address", required=True, help="your email address")
    connect.add_argument("--imap-host", required=True, help="e.g. imap.example.com")
    connect.add_argument("--imap-port", type=int, help="993 for tls (default), 143 otherwise")
    connect.add_argument("--username", help="the login name (default: the address)")
    connect.add_argument("--security", choices=SECURITIES, default="tls",
                         help="tls (default), starttls, or plain (only to this machine)")
    connect.add_argument("--smtp-host", default="", help="for sending, e.g. smtp.example.com")
    connect.add_argument("--smtp-port", type=int, help="465 for tls (default), 587 otherwise")
    connect.add_argument("--password-stdin", action="store_true",
                         help="read the password from the first line of standard input")
    triage = actions.add_parser("triage", help="sort your newest messages")
    triage.add_argument("--limit", type=int, default=50, metavar="N",
                        help="how many of the newest messages (default 50)")
    show = actions.add_parser("show", help="one message in full")
    show.add_argument("which", help="its number in the triage list, or words from it")
    summary = actions.add_parser("summary", help="what one message says, in short")
    summary.add_argument("which", help="its number in the triage list, or words from it")
    draft = actions.add_parser("draft", help="draft a reply in your voice (nothing is sent)")
    draft.add_argument("which", help="its number in the triage list, or words from it")
    draft.add_argument("--gist", default="", help="what you want to say")
    for verb, what in (("send", "send the drafted reply"), ("archive", "move it to Archive"),
                       ("delete", "move it to Trash")):
        parser = actions.add_parser(verb, help=f"{what} (asks first)")
        parser.add_argument("which", help="its number in the triage list, or words from it")
        parser.add_argument("--yes", action="store_true", help="do not ask")
    actions.add_parser("forget-account", help="remove the account, its password and labels")


def run_mail(settings: Settings, args: argparse.Namespace, console: Console,
             errors: Console) -> int:
    action = args.mail_action or "triage"
    store = open_store(settings)
    try:
        user = store.user(settings.user_name)
        if action == "connect":
            return _connect(store, user, args, console, errors)
        if action == "forget-account":
            return _forget(settings, store, user, console)
        return asyncio.run(_act(settings, store, user, action, args, console, errors))
    finally:
        store.close()


def _connect(store: Database, user: User, args: argparse.Namespace, console: Console,
             errors: Console) -> int:
    tls = args.security == "tls"
    try:
        account = checked(MailAccount(
            address=args.address.strip(), imap_host=args.imap_host.strip(),
            imap_port=args.imap_port or (993 if tls else 143),
            username=(args.username or args.address).strip(), security=args.security,
            smtp_host=args.smtp_host.strip(),
            smtp_port=(args.smtp_port or (465 if tls else 587)) if args.smtp_host else 0))
        where = safe_place(store)  # before asking: no password typed for nothing
        password = Password(_read_password(args, account))
        with errors.status(f"Logging in to {account.imap_host}…"), \
                MailClient(account, password) as client:
            client.select(INBOX)
            count = len(client.newest_uids(100_000))
        store.run(lambda db: save_account(db, user, account, datetime.now().astimezone()))
        save_password(store, user, password)
    except (MailAccountError, MailServerError) as exc:
        errors.print(f"[red]{escape(str(exc))}[/red]")
        return EXIT_FAILED
    console.print(f"Connected to {escape(account.address)}: {count} message(s) in the inbox. "
                  f"The password is kept in {where}. Next: os1 mail triage")
    return EXIT_OK


def _read_password(args: argparse.Namespace, account: MailAccount) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise MailAccountError("No terminal to ask the password on: pipe it with "
                               "--password-stdin.")
    return getpass.getpass(f"Password for {account.username} at {account.imap_host}: ")


def _forget(settings: Settings, store: Database, user: User, console: Console) -> int:
    forget_password(store, user)
    gone = store.run(lambda db: delete_account(db, user))
    forget(store, user)  # the triage list and any drafts
    console.print("The mail account, its password, the triage labels and drafts are removed."
                  if gone else "No mail account was connected.")
    return EXIT_OK


def _arguments(action: str, args: argparse.Namespace) -> dict[str, Any]:
    if action == "triage":
        return {"limit": max(1, min(500, args.limit))}
    if action == "draft":
        return {"which": args.which, "gist": args.gist}
    return {"which": args.which}


async def _act(settings: Settings, store: Database, user: User, action: str,
               args: argparse.Namespace, console: Console, errors: Console) -> int:
    if action not in _ACTIONS and action != "show":
        errors.print(f"Unknown mail action {action!r}.")
        return EXIT_USAGE
    opened: list[ChatModel] = []

    async def load_model() -> ChatModel:
        status.stop()  # the download bar and the loading spinner draw on their own
        opened.append(await _open_model(settings, errors))
        status.start()
        return opened[0]

    skill = MailSkill(store, settings, None, load_model=load_model)
    try:
        with errors.status("Working…") as status:
            specs = mail_actions(store, settings, None, skill=skill)
            actions = Actions(specs, ActionLog(store))
            context = ActionContext(user, datetime.now().astimezone(), "command",
                                    progress=status.update)
            if action == "show":
                return await _show(skill, actions.log, context, args.which, console, errors)
            return await run_command(actions, context, _ACTIONS[action],
                                     _arguments(action, args),
                                     yes=bool(getattr(args, "yes", False)), console=console,
                                     errors=errors, before_asking=status.stop)
    finally:
        for model in opened:
            await model.aclose()


async def _show(skill: MailSkill, log: ActionLog, context: ActionContext, which: str,
                console: Console, errors: Console) -> int:
    """The whole message: for the terminal only (the chat says what it says with
    mail.summary), so not an action, but logged like one."""
    try:
        item, message = await skill.message(context, which)
    except ActionError as exc:
        errors.print(f"[red]{escape(str(exc))}[/red]")
        return EXIT_FAILED if not isinstance(exc, NeedsClarification) else EXIT_USAGE
    log.add(context.user, "mail.show", {"which": which}, "command", "done", item.named,
            at=context.now)
    console.print(escape(show_text(message, context.now)))
    return EXIT_OK


async def _open_model(settings: Settings, errors: Console) -> ChatModel:
    from os1.llm.select import open_chat_model, prepare_model_file
    from os1.terminal.progress import byte_progress

    with byte_progress(errors) as progress:
        model_file = await asyncio.to_thread(prepare_model_file, settings, progress)
    with errors.status("Loading the model…"):
        return await asyncio.to_thread(open_chat_model, settings, model_file)
