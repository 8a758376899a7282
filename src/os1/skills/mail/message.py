"""One email as os1 reads it: a typed `MailMessage` parsed from raw bytes, never raising.

Mail comes from anyone, so the parser assumes nothing: bad boundaries, unknown or wrong
charsets, missing headers and a body cut short (os1 reads at most the first ~200 kB of a
message) all yield what could be read plus a note saying what could not.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from typing import ClassVar

# Headers that mark mail sent to a list rather than to the user (RFC 2369, RFC 2919, RFC 3834
# and the old Precedence convention).
LIST_HEADERS = ("List-Unsubscribe", "List-Id", "List-Post", "Precedence", "Auto-Submitted")
TEXT_LIMIT = 20_000  # characters of text kept per message: more than triage or a reply needs


@dataclass(frozen=True)
class Attachment:
    name: str
    size: int | None  # decoded bytes; None when the part was cut off by the partial fetch


@dataclass(frozen=True)
class MailMessage:
    uid: int
    sender: str  # "Amy Lee <amy@example.com>" as written (decoded)
    sender_address: str  # "amy@example.com", lower case; "" when there is none
    to: tuple[str, ...]
    subject: str
    date: datetime | None  # aware, as the message says
    text: str  # the readable text (HTML turned to text), at most TEXT_LIMIT characters
    attachments: tuple[Attachment, ...]
    list_headers: dict[str, str]  # the LIST_HEADERS present, by name
    message_id: str
    size: int  # the whole message on the server, in bytes
    notes: tuple[str, ...] = ()  # what could not be read, in words

    @property
    def sender_name(self) -> str:
        name, address = parseaddr(self.sender)
        return name or address or "an unknown sender"


def parse_message(uid: int, raw: bytes, *, size: int | None = None,
                  truncated: bool = False) -> MailMessage:
    """Parse ``raw`` (headers and as much of the body as was fetched). Never raises."""
    notes: list[str] = []
    if truncated:
        notes.append(f"only the first {len(raw) // 1000} kB of this "
                     f"{_size_words(size or len(raw))} message were read")
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient, but the input is anyone's
        notes.append(f"the message could not be parsed ({type(exc).__name__})")
        return MailMessage(uid, "", "", (), "", None, _decode(raw, "utf-8")[:TEXT_LIMIT], (),
                           {}, "", size or len(raw), tuple(notes))
    if message.defects:
        notes.append("the message is malformed (" + ", ".join(
            sorted({type(d).__name__ for d in message.defects})) + ")")
    sender = _header(message, "From", notes)
    to = tuple(a for _, a in getaddresses([_header(message, "To", notes)]) if a)
    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[Attachment] = []
    try:
        _walk(message, texts, htmls, attachments, notes, truncated)
    except Exception as exc:  # a structure the walk did not foresee: keep what was read
        notes.append(f"part of the body could not be read ({type(exc).__name__})")
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    if not text and htmls:
        text = "\n\n".join(html_to_text(h) for h in htmls)
    if not sender:
        notes.append("the message has no sender")
    return MailMessage(
        uid=uid, sender=sender, sender_address=parseaddr(sender)[1].lower(), to=to,
        subject=_header(message, "Subject", notes), date=_date(message, notes),
        text=_tidy(text)[:TEXT_LIMIT], attachments=tuple(attachments),
        list_headers={name: _header(message, name, notes) for name in LIST_HEADERS
                      if message.get(name) is not None},
        message_id=_header(message, "Message-ID", notes), size=size or len(raw),
        notes=tuple(dict.fromkeys(notes)))


def _walk(message: Message, texts: list[str], htmls: list[str],
          attachments: list[Attachment], notes: list[str], truncated: bool) -> None:
    parts = list(message.walk())
    for index, part in enumerate(parts):
        if part.is_multipart():
            continue
        filename = _filename(part)
        content_type = part.get_content_type()
        is_last = index == len(parts) - 1
        if part.get_content_maintype() == "multipart":  # its boundary was never found
            _rescue(part, texts, htmls, attachments, notes, truncated)
        elif filename or part.get_content_disposition() == "attachment":
            payload = part.get_payload(decode=True)
            # The last part of a cut-off message is itself cut off: its size is unknown.
            size = None if truncated and is_last else len(payload or b"")
            attachments.append(Attachment(filename or "(unnamed)", size))
        elif content_type == "text/plain":
            texts.append(_part_text(part, notes))
        elif content_type == "text/html":
            htmls.append(_part_text(part, notes))


def _rescue(part: Message, texts: list[str], htmls: list[str],
            attachments: list[Attachment], notes: list[str], truncated: bool) -> None:
    """A multipart body whose declared boundary is not in it: senders that get this wrong
    usually still separate the parts with some other "--boundary" line, so use that."""
    body = part.get_payload()
    if not isinstance(body, str):
        return
    found = re.search(r"^--([^\s-][^\s]*?)\s*$", body, re.MULTILINE)
    if found is None:
        texts.append(body)
        return
    notes.append("its parts were found by guessing their boundary")
    header = f'Content-Type: multipart/mixed; boundary="{found[1]}"\n\n'
    again = email.message_from_string(header + body, policy=email.policy.default)
    if again.is_multipart():
        _walk(again, texts, htmls, attachments, notes, truncated)
    else:
        texts.append(body)


def _filename(part: Message) -> str:
    try:
        return str(part.get_filename() or "")
    except Exception:
        return "(unreadable name)"


def _part_text(part: Message, notes: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    charset = part.get_content_charset() or "utf-8"
    return _decode(payload, charset, notes)


def _decode(data: bytes, charset: str, notes: list[str] | None = None) -> str:
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        pass
    # Mislabelled mail is common: UTF-8 first (strict), then Windows-1252, which maps nearly
    # every byte, so the text is readable even when a few letters are wrong.
    for fallback in ("utf-8", "cp1252"):
        try:
            text = data.decode(fallback)
            read_as = fallback
            break
        except UnicodeDecodeError:
            continue
    else:
        text, read_as = data.decode("utf-8", errors="replace"), "utf-8 with gaps"
    if notes is not None:
        notes.append(f"the text was not valid {charset}; read as {read_as}")
    return text


def _header(message: Message, name: str, notes: list[str]) -> str:
    try:
        value = message.get(name)
    except Exception:  # an undecodable encoded-word or a header the policy chokes on
        notes.append(f"the {name} header could not be read")
        raw = message.get_all(name, failobj=[]) if hasattr(message, "get_all") else []
        value = str(raw[0]) if raw else ""
    return " ".join(str(value or "").split())


def _date(message: Message, notes: list[str]) -> datetime | None:
    text = _header(message, "Date", notes)
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        notes.append("the date could not be read")
        return None
    return moment if moment.tzinfo is not None else None


def _size_words(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size // 1000} kB"


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    return re.sub(r"\n\s*\n(\s*\n)+", "\n\n", text).strip()


class _TextOfHTML(HTMLParser):
    """Visible text only: scripts, styles and comments are not what the sender shows."""

    _HIDDEN: ClassVar[set[str]] = {"script", "style", "head", "title", "template"}
    _BREAKS: ClassVar[set[str]] = {"br", "p", "div", "li", "tr", "table", "h1", "h2", "h3",
                                   "h4", "h5", "h6"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BREAKS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BREAKS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.pieces.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOfHTML()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is forgiving; this is for the input nobody foresaw
        return re.sub(r"<[^>]*>", " ", html)
    return _tidy("".join(parser.pieces))
