"""An IMAP client over `imaplib` that cannot hang and never downloads a whole attachment.

Every socket operation has a timeout (connect and each read), so a dead or silent server
gives a clear error within ``timeout_s``. Messages are fetched as their header plus at most
``BODY_LIMIT`` bytes of body (a partial ``BODY.PEEK[TEXT]<0.N>``): the text of a mail is at
its start, and a 30 MB attachment after it stays on the server. PEEK: reading mail in os1
does not mark it read in the user's other mail apps.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from os1.skills.actions import ActionError
from os1.skills.mail.account import MailAccount
from os1.skills.mail.credentials import Password
from os1.skills.mail.message import MailMessage, parse_message

BODY_LIMIT = 200_000  # bytes of each message's body read at most
TIMEOUT_S = 15.0
BATCH = 25  # messages per FETCH: one round trip each, replies of a few MB at most


class MailServerError(ActionError):
    """The server could not be reached, refused us, or answered something unusable."""


class _Counting:
    """Counts the bytes read from the server (the tests check a big attachment stays put)."""

    bytes_read = 0

    def read(self, size: int) -> bytes:
        data: bytes = super().read(size)  # type: ignore[misc]
        self.bytes_read += len(data)
        return data

    def readline(self) -> bytes:
        data: bytes = super().readline()  # type: ignore[misc]
        self.bytes_read += len(data)
        return data


class _IMAP(_Counting, imaplib.IMAP4):
    pass


class _IMAPS(_Counting, imaplib.IMAP4_SSL):
    pass


@dataclass(frozen=True)
class Folder:
    name: str
    flags: frozenset[str]  # lower case: "\\sent", "\\trash", "\\noselect", …


_LIST_LINE = re.compile(rb'\((?P<flags>[^)]*)\)\s+(?:"(?:[^"\\]|\\.)*"|NIL)\s+(?P<name>.+)$')
_UID = re.compile(rb"\bUID\s+(\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE\s+(\d+)")
_SEQ = re.compile(rb"^\d+\s+\(")


def quoted(name: str) -> str:
    """A mailbox name as an IMAP quoted string (imaplib sends names as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class MailClient:
    """One logged-in IMAP session. Use as a context manager: it logs out at the end."""

    def __init__(self, account: MailAccount, password: Password, *,
                 timeout_s: float = TIMEOUT_S, ssl_context: ssl.SSLContext | None = None) -> None:
        """``ssl_context``: the system's trusted certificates unless given (tests pass one
        that trusts their own server's certificate)."""
        self.account = account
        context = ssl_context or ssl.create_default_context()
        self.timeout_s = timeout_s
        where = f"{account.imap_host}:{account.imap_port}"
        self._conn: _IMAP | _IMAPS
        try:
            if account.security == "tls":
                self._conn = _IMAPS(account.imap_host, account.imap_port, ssl_context=context,
                                    timeout=timeout_s)
            else:
                self._conn = _IMAP(account.imap_host, account.imap_port, timeout=timeout_s)
                if account.security == "starttls":
                    try:
                        self._conn.starttls(context)
                    except BaseException:
                        self._close()
                        raise
        except TimeoutError:
            raise MailServerError(
                f"The mail server {where} did not answer within {timeout_s:.0f} seconds. Check "
                "the host and port (`os1 mail connect`) and your connection.") from None
        except ssl.SSLError as exc:
            raise MailServerError(
                f"The secure connection to {where} failed ({exc.reason or exc}). Check the "
                "port and security (tls is usually 993, starttls 143).") from None
        except imaplib.IMAP4.error as exc:  # a greeting that is not IMAP, or no STARTTLS
            raise MailServerError(
                f"The server at {where} did not accept the connection ({_reason(exc)}). Check "
                "the port and security (tls is usually 993, starttls 143).") from None
        except OSError as exc:
            raise MailServerError(
                f"Could not reach the mail server {where} ({_reason(exc)}). Check the host and "
                "port (`os1 mail connect`) and your connection.") from None
        try:
            self._conn.login(account.username, password.reveal())
        except imaplib.IMAP4.error:
            self._close()
            raise MailServerError(
                f"The server refused the username or password for {account.username} at "
                f"{account.imap_host}. Check them and run `os1 mail connect` again.") from None
        except (OSError, TimeoutError) as exc:
            self._close()
            raise MailServerError(f"The connection to {where} broke while logging in "
                                  f"({_reason(exc)}). Try again.") from None
        self._selected: str | None = None

    # -- plumbing -------------------------------------------------------------------

    @property
    def bytes_read(self) -> int:
        return self._conn.bytes_read

    def __enter__(self) -> MailClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            self._conn.logout()
        except Exception:  # the connection is going away either way
            self._close()

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.shutdown()

    def _call(self, what: str, *args: Any) -> list[Any]:
        """Run one IMAP command; anything but OK becomes a MailServerError."""
        try:
            if what.startswith("UID "):
                status, data = self._conn.uid(what[4:], *args)
            else:
                status, data = getattr(self._conn, what.lower())(*args)
        except TimeoutError:
            raise MailServerError(f"The mail server stopped answering ({what}, "
                                  f"{self.timeout_s:.0f} s). Try again later.") from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailServerError(f"The mail server could not do {what} "
                                  f"({_reason(exc)}).") from None
        if status != "OK":
            raise MailServerError(f"The mail server refused {what}: {_text(data)}.")
        return list(data)

    # -- folders ------------------------------------------------------------------------

    def folders(self) -> list[Folder]:
        found = []
        for line in self._call("LIST", '""', '"*"'):
            if not isinstance(line, bytes):
                continue  # a name sent as a literal: rare, and not one os1 needs
            match = _LIST_LINE.match(line)
            if match is None:
                continue
            name = match["name"].decode("utf-8", errors="replace").strip()
            if name.startswith('"') and name.endswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            flags = frozenset(f.lower() for f in match["flags"].decode().split())
            found.append(Folder(name, flags))
        return found

    def special(self, use: str, names: Sequence[str] = ()) -> str | None:
        """The folder marked with special-use ``use`` (``"\\Sent"``), else one named as
        usual (``names``, any case), else None."""
        folders = [f for f in self.folders() if "\\noselect" not in f.flags]
        for folder in folders:
            if use.lower() in folder.flags:
                return folder.name
        wanted = {n.lower() for n in names}
        for folder in folders:
            if folder.name.lower() in wanted or folder.name.split("/")[-1].lower() in wanted:
                return folder.name
        return None

    def create(self, folder: str) -> None:
        self._call("CREATE", quoted(folder))

    def select(self, folder: str = "INBOX", *, readonly: bool = True) -> int:
        """Open ``folder``; return its UIDVALIDITY (UIDs mean nothing without it)."""
        self._call("SELECT", quoted(folder), readonly)
        _, data = self._conn.response("UIDVALIDITY")
        self._selected = folder
        try:
            return int(data[0])
        except (TypeError, ValueError, IndexError):
            raise MailServerError(f"The server gave no UIDVALIDITY for {folder}.") from None

    # -- reading ----------------------------------------------------------------------

    def newest_uids(self, limit: int) -> list[int]:
        """The UIDs of the newest ``limit`` messages of the selected folder, newest first."""
        data = self._call("UID SEARCH", None, "ALL")
        uids = sorted(int(u) for u in b" ".join(d for d in data if d).split())
        return list(reversed(uids[-limit:])) if limit > 0 else []

    def fetch(self, uids: Sequence[int], *, body_limit: int = BODY_LIMIT) -> list[MailMessage]:
        """The messages (header and the first ``body_limit`` bytes of body), in the order
        asked; UIDs no longer on the server are left out."""
        found: dict[int, MailMessage] = {}
        for start in range(0, len(uids), BATCH):
            batch = uids[start:start + BATCH]
            for uid, size, header, body in self._fetch_raw(batch, body_limit):
                truncated = body_limit > 0 and len(body) >= body_limit and size > len(
                    header) + len(body)
                found[uid] = parse_message(uid, header + body, size=size,
                                           truncated=truncated)
        return [found[u] for u in uids if u in found]

    def _fetch_raw(self, uids: Sequence[int],
                   body_limit: int) -> Iterator[tuple[int, int, bytes, bytes]]:
        parts = "UID RFC822.SIZE BODY.PEEK[HEADER]"
        if body_limit > 0:
            parts += f" BODY.PEEK[TEXT]<0.{body_limit}>"
        data = self._call("UID FETCH", ",".join(str(u) for u in uids), f"({parts})")
        record: dict[str, Any] | None = None
        for item in data:
            prefix = item[0] if isinstance(item, tuple) else item
            if not isinstance(prefix, bytes):
                continue
            if _SEQ.match(prefix):
                if record is not None and record.get("uid"):
                    yield _finished(record)
                record = {"header": b"", "body": b""}
            if record is None:
                continue
            for pattern, key in ((_UID, "uid"), (_SIZE, "size")):
                match = pattern.search(prefix)
                if match:
                    record[key] = int(match[1])
            if isinstance(item, tuple):
                if b"BODY[HEADER]" in prefix:
                    record["header"] = bytes(item[1])
                elif b"BODY[TEXT]" in prefix:
                    record["body"] = bytes(item[1])
        if record is not None and record.get("uid"):
            yield _finished(record)

    # -- changing -----------------------------------------------------------------------

    def exists(self, uid: int) -> bool:
        data = self._call("UID SEARCH", None, f"UID {uid}")
        return str(uid).encode() in b" ".join(d for d in data if d).split()

    def move(self, uid: int, folder: str) -> None:
        """Move one message of the selected folder (MOVE, or COPY + delete + expunge on
        servers without RFC 6851)."""
        if "MOVE" in self._conn.capabilities:
            self._call("UID MOVE", str(uid), quoted(folder))
            return
        self._call("UID COPY", str(uid), quoted(folder))
        self.expunge(uid)

    def expunge(self, uid: int) -> None:
        self._call("UID STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
        if "UIDPLUS" in self._conn.capabilities:
            self._call("UID EXPUNGE", str(uid))
        else:
            self._call("EXPUNGE")

    def append(self, folder: str, message: bytes, flags: str = r"(\Seen)") -> None:
        self._call("APPEND", quoted(folder), flags, None, message)


def _finished(record: dict[str, Any]) -> tuple[int, int, bytes, bytes]:
    header, body = record["header"], record["body"]
    return record["uid"], record.get("size", len(header) + len(body)), header, body


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def _text(data: Any) -> str:
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, bytes):
        return data.decode(errors="replace")[:200]
    return str(data)[:200]
