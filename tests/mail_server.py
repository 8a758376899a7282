"""Real mail servers for tests and the triage benchmark: Dovecot (IMAP) in a private folder
and aiosmtpd (SMTP) on loopback. Nothing here is a mock: the IMAP client under test talks the
protocol to the same server a person's provider might run. Either can also speak TLS (IMAPS
and STARTTLS; SMTP STARTTLS with AUTH) with a certificate made for the run.

Dovecot refuses to run its login process or to store mail as root. When the tests run as root
(CI, containers), mail belongs to ``nobody`` and the folder is made traversable for it.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from conftest import free_port
from os1.system_packages import SystemPackage, command, ensure

DOVECOT = SystemPackage("dovecot-imapd", "The mail tests' IMAP server", command("dovecot"))
START_TIMEOUT_S = 20.0
PASSWORD = "s3cret-pass"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited at start: {_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.settimeout(2)
                if sock.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"dovecot did not answer on port {port}: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"


@dataclass
class Dovecot:
    """One running Dovecot; `add_user` gives each test its own mailbox."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    mail_owner: str
    users: dict[str, str] = field(default_factory=dict)
    tls_port: int = 0  # IMAPS, when started with tls
    ca: Path | None = None  # the certificate to trust, when started with tls

    host = "127.0.0.1"

    def add_user(self, name: str) -> str:
        """A mailbox user of its own (any name logs in with PASSWORD: a passwd-file would
        be re-read only when its mtime changes, which two tests in one second defeat)."""
        self.users[name] = PASSWORD
        return PASSWORD

    def connect(self, user: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(user, self.users[user])
        return client

    def append(self, user: str, raw: bytes | EmailMessage, folder: str = "INBOX",
               flags: str = "") -> None:
        """Seed a message the way any mail client stores one: IMAP APPEND."""
        data = raw.as_bytes() if isinstance(raw, EmailMessage) else raw
        client = self.connect(user)
        try:
            if folder != "INBOX":
                client.create(folder)  # "already exists" is fine
            status, detail = client.append(folder, flags or None, None, data)
            if status != "OK":
                raise RuntimeError(f"APPEND failed: {detail!r}")
        finally:
            client.logout()

    def deliver(self, user: str, raw: bytes) -> None:
        """Seed a big message straight into the user's Maildir (as a delivery agent does):
        much faster than APPEND for tens of megabytes."""
        client = self.connect(user)
        client.select("INBOX")  # Dovecot makes the Maildir when it is first opened
        client.logout()
        maildir = self.root / "mail" / user
        name = f"{time.time_ns()}.P{os.getpid()}.os1-tests"
        (maildir / "tmp" / name).write_bytes(raw)
        if os.geteuid() == 0:
            shutil.chown(maildir / "tmp" / name, self.mail_owner)
        os.replace(maildir / "tmp" / name, maildir / "new" / name)

    def count(self, user: str, folder: str = "INBOX") -> int:
        client = self.connect(user)
        try:
            status, data = client.select(_quoted(folder), readonly=True)
            return int(data[0] or 0) if status == "OK" else 0
        finally:
            client.logout()

    def subjects(self, user: str, folder: str = "INBOX") -> list[str]:
        client = self.connect(user)
        try:
            status, _ = client.select(_quoted(folder), readonly=True)
            if status != "OK":
                return []
            _, data = client.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            return [bytes(part[1]).decode(errors="replace").partition(":")[2].strip()
                    for part in data if isinstance(part, tuple)]
        finally:
            client.logout()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _quoted(folder: str) -> str:
    return folder if folder.isalnum() else '"' + folder.replace('"', '\\"') + '"'


def _config(root: Path, port: int, owner: str, group: str, as_root: bool,
            tls_port: int) -> str:
    # Root runs need an unprivileged mail owner; a normal user runs everything as itself.
    privileges = (f"""
mail_uid = {owner}
mail_gid = {group}
""" if as_root else f"""
default_login_user = {owner}
default_internal_user = {owner}
default_internal_group = {group}
mail_uid = {owner}
mail_gid = {group}
""")
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
{f"ssl = yes{chr(10)}ssl_cert = <{root}/cert.pem{chr(10)}ssl_key = <{root}/key.pem"
 if tls_port else "ssl = no"}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 0
mail_location = maildir:{root}/mail/%u
{privileges}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={owner} gid={group} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
# No growing delay after a wrong password (the tests try some on purpose).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = create
  }}
}}
"""


def _certificate(root: Path) -> None:
    """A self-signed certificate for 127.0.0.1 (the tests trust it as their own CA)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")],
                   check=True, capture_output=True, timeout=60)


def start_dovecot(*, tls: bool = False) -> Dovecot:
    """``tls``: also IMAPS on ``tls_port`` and STARTTLS on ``port``, with a certificate
    made for the run (``Dovecot.ca`` is the file to trust)."""
    ensure(DOVECOT)
    as_root = os.geteuid() == 0
    owner = "nobody" if as_root else pwd.getpwuid(os.geteuid()).pw_name
    group = "nogroup" if as_root else pwd.getpwuid(os.geteuid()).pw_name
    # Not under pytest's tmp_path: that is private to root, and the mail owner must reach
    # its maildir.
    root = Path(tempfile.mkdtemp(prefix="os1-dovecot-"))
    root.chmod(0o711)
    for name in ("run", "state"):
        (root / name).mkdir()
    for name in ("mail", "home"):
        (root / name).mkdir()
        if as_root:
            shutil.chown(root / name, owner, group)
    port = free_port()
    tls_port = free_port() if tls else 0
    if tls:
        _certificate(root)
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port, owner, group, as_root, tls_port))
    process = subprocess.Popen(["dovecot", "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process, root / "dovecot.log")
    except BaseException:
        process.kill()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return Dovecot(root, port, process, owner, tls_port=tls_port,
                   ca=root / "cert.pem" if tls else None)


class KeepingHandler:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session,
                          envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class SMTPServer:
    controller: Any
    handler: KeepingHandler
    host: str
    port: int

    @property
    def received(self) -> list[Envelope]:
        return self.handler.received


def start_smtp(*, certificate: Path | None = None, password: str = PASSWORD) -> SMTPServer:
    """``certificate``: a folder with cert.pem and key.pem (as `start_dovecot(tls=True)`
    makes): the server then offers STARTTLS and, over it only, AUTH with ``password``."""
    handler = KeepingHandler()
    port = free_port()
    extra: dict[str, Any] = {}
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")

        def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                          data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data.password == password.encode()
            return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 or 535

        extra = {"tls_context": context, "require_starttls": True,
                 "authenticator": authenticator, "auth_required": True}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    return SMTPServer(controller, handler, "127.0.0.1", port)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = start_dovecot()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_tls() -> Iterator[Dovecot]:
    server = start_dovecot(tls=True)
    yield server
    server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = start_smtp()
    yield server
    server.controller.stop()
