"""The user's mail account: where the IMAP and SMTP servers are and how to reach them.

One account per user, in the `mail_accounts` table. The password is not part of this record
(see `credentials.py`): everything here may be shown, exported and logged.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from os1.skills.actions import ActionError
from os1.store.base import Database, User
from os1.store.sqlite import to_text, transaction

Security = Literal["tls", "starttls", "plain"]
SECURITIES: tuple[Security, ...] = ("tls", "starttls", "plain")


class MailAccountError(ActionError):
    """The account is missing or its settings cannot be used; the message says what to do."""


@dataclass(frozen=True)
class MailAccount:
    address: str
    imap_host: str
    imap_port: int
    username: str
    security: Security
    smtp_host: str = ""
    smtp_port: int = 0

    @property
    def can_send(self) -> bool:
        return bool(self.smtp_host and self.smtp_port)


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def checked(account: MailAccount) -> MailAccount:
    """The account, if it is safe to use: a password never crosses a network in the clear."""
    if account.security not in SECURITIES:
        raise MailAccountError(f"security must be tls, starttls or plain (not "
                               f"{account.security!r}).")
    if account.security == "plain":
        for host in (account.imap_host, account.smtp_host):
            if host and not is_loopback(host):
                raise MailAccountError(
                    f"security plain would send your password to {host} unencrypted; it is "
                    "only allowed for a server on this machine (127.0.0.1). Use tls (usually "
                    "port 993) or starttls (port 143).")
    if "@" not in account.address:
        raise MailAccountError(f"{account.address!r} is not an email address.")
    for port in (account.imap_port, account.smtp_port):
        if not 0 <= port <= 65535:
            raise MailAccountError(f"{port} is not a port number (1 to 65535).")
    if not account.imap_host or not account.imap_port:
        raise MailAccountError("The IMAP server's host and port are needed.")
    return account


def save_account(db: sqlite3.Connection, user: User, account: MailAccount,
                 now: datetime) -> None:
    """Insert or replace the user's account (keeping a stored secret: `credentials` owns it)."""
    account = checked(account)
    with transaction(db):
        db.execute(
            "INSERT INTO mail_accounts (user_id, address, imap_host, imap_port, smtp_host, "
            "smtp_port, username, security, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET address = excluded.address, imap_host = "
            "excluded.imap_host, imap_port = excluded.imap_port, smtp_host = "
            "excluded.smtp_host, smtp_port = excluded.smtp_port, username = "
            "excluded.username, security = excluded.security, updated_at = excluded.updated_at",
            (user.id, account.address, account.imap_host, account.imap_port, account.smtp_host,
             account.smtp_port, account.username, account.security, to_text(now)))


def load_account(store: Database, user: User) -> MailAccount:
    row = store.run(lambda db: db.execute(
        "SELECT address, imap_host, imap_port, username, security, smtp_host, smtp_port "
        "FROM mail_accounts WHERE user_id = ?", (user.id,)).fetchone())
    if row is None:
        raise MailAccountError("No mail account is connected yet: run `os1 mail connect` "
                               "first.")
    return MailAccount(row[0], row[1], int(row[2]), row[3], cast(Security, row[4]), row[5],
                       int(row[6]))


def delete_account(db: sqlite3.Connection, user: User) -> bool:
    with transaction(db):
        gone = db.execute("DELETE FROM mail_accounts WHERE user_id = ?", (user.id,)).rowcount
        db.execute("DELETE FROM mail_triage WHERE user_id = ?", (user.id,))
    return bool(gone)
