"""Sending one message over SMTP, with timeouts and errors that say what to do."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from os1.skills.mail.account import MailAccount
from os1.skills.mail.credentials import Password
from os1.skills.mail.imap import TIMEOUT_S, MailServerError


def send(account: MailAccount, password: Password, message: EmailMessage, *,
         timeout_s: float = TIMEOUT_S, ssl_context: ssl.SSLContext | None = None) -> None:
    """``ssl_context``: the system's trusted certificates unless given (tests)."""
    context = ssl_context or ssl.create_default_context()
    if not account.can_send:
        raise MailServerError("No SMTP server is set for sending: run `os1 mail connect` with "
                              "--smtp-host and --smtp-port.")
    where = f"{account.smtp_host}:{account.smtp_port}"
    try:
        server: smtplib.SMTP
        if account.security == "tls":
            server = smtplib.SMTP_SSL(account.smtp_host, account.smtp_port, timeout=timeout_s,
                                      context=context)
        else:
            server = smtplib.SMTP(account.smtp_host, account.smtp_port, timeout=timeout_s)
        with server:
            if account.security == "starttls":
                server.starttls(context=context)
            server.ehlo_or_helo_if_needed()
            # A loopback relay (plain) may offer no AUTH at all; any other server must.
            if server.has_extn("auth"):
                server.login(account.username, password.reveal())
            server.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise MailServerError(f"The server refused the username or password for "
                              f"{account.username} at {account.smtp_host}.") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailServerError(f"The server refused the recipient "
                              f"{', '.join(exc.recipients)}. Nothing was sent.") from None
    except TimeoutError:
        raise MailServerError(f"The mail server {where} did not answer within "
                              f"{timeout_s:.0f} seconds. Nothing was sent.") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise MailServerError(f"Sending through {where} failed ({type(exc).__name__}: "
                              f"{str(exc)[:200]}). Nothing was sent.") from None
