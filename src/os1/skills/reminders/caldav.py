"""Two-way sync of reminders with a CalDAV collection (Nextcloud, Radicale, iCloud, Fastmail…),
with plain HTTP: PUT one .ics per pending reminder, REPORT the collection's VTODOs back.

No `caldav` package: the three requests needed here are short, and it would bring a dozen
transitive dependencies. A to-do made on the phone comes into os1 through `ical`'s import
(idempotent by UID, the same cleaning as a file: it is not the user's typed words).

The password comes from the OS keyring (service ``os1-caldav``, the username) when the
`keyring` package is installed, else from ``OS1_CALDAV_PASSWORD``. It is never logged,
stored or put in an error message.
"""

from __future__ import annotations

import hashlib
import os
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import quote, urljoin

import httpx

from os1.os_keyring import usable_keyring
from os1.skills.actions import ActionError
from os1.skills.reminders.book import OWN_UID_SUFFIX, Reminder, Reminders
from os1.skills.reminders.ical import (
    Entry,
    ImportResult,
    calendar,
    import_entries,
    read_entries,
)
from os1.store.base import User

KEYRING_SERVICE = "os1-caldav"
PASSWORD_VARIABLE = "OS1_CALDAV_PASSWORD"
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
_NS = {"d": "DAV:", "c": "urn:ietf:params:xml:ns:caldav"}
_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VTODO"/></c:comp-filter>
  </c:filter>
</c:calendar-query>"""


@dataclass(frozen=True)
class SyncResult:
    pushed: int
    pulled: ImportResult

    def summary(self) -> str:
        return (f"Sent {self.pushed} reminder{'s' if self.pushed != 1 else ''} to the calendar. "
                f"From it: {self.pulled.summary()[0].lower()}{self.pulled.summary()[1:]}")


def password(username: str) -> str | None:
    """From the keyring if there is one, else the environment; None: no password (a server
    without login, or Radicale with auth none)."""
    keyring = usable_keyring()
    if keyring is not None:
        try:
            secret = keyring.get_password(KEYRING_SERVICE, username)
        except Exception:  # a locked wallet, a D-Bus hiccup: use the environment
            secret = None
        if secret:
            return str(secret)
    return os.environ.get(PASSWORD_VARIABLE) or None


def sync(book: Reminders, user: User, url: str, now: datetime, username: str = "",
         secret: str | None = None) -> SyncResult:
    """Read the collection at ``url``, push what os1 should (see `_to_push`), then import
    the to-dos it did not have."""
    if not re.match(r"https?://", url):
        raise ActionError(f"{url!r} is not a CalDAV address: it starts with https:// (or "
                          "http:// on this computer).")
    base = url if url.endswith("/") else url + "/"
    secret = secret if secret is not None else password(username) if username else None
    auth = httpx.BasicAuth(username, secret or "") if username else None
    try:
        with httpx.Client(auth=auth, timeout=TIMEOUT, follow_redirects=True) as client:
            response = client.request(
                "REPORT", base, content=_QUERY.encode(),
                headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
            _check(response, base)
            entries, unreadable = _entries(response.content, base, now)
            there = {entry.uid for entry in entries}
            pushed = 0
            for reminder in _to_push(book.listing(user, everything=True), there):
                response = client.put(
                    urljoin(base, resource_name(reminder.uid)),
                    content=calendar([reminder]),
                    headers={"Content-Type": "text/calendar; charset=utf-8"})
                _check(response, base)
                pushed += 1
    except httpx.TransportError as exc:
        raise ActionError(f"Cannot reach the CalDAV server at {base} ({type(exc).__name__}). "
                          "Check the address and that the server is running.") from None
    pulled = import_entries(book, user, entries, now)
    return SyncResult(pushed, replace(pulled, unreadable=unreadable))


def _to_push(reminders: list[Reminder], there: set[str]) -> list[Reminder]:
    """What to write to the server: os1's own pending reminders (a snooze moves them there
    too), and its own done or cancelled ones the server still has (so the phone sees them
    done); a reminder that came from elsewhere only when the server lacks it — writing it back
    would replace the phone's copy with os1's simpler one."""
    def wanted(reminder: Reminder) -> bool:
        own = reminder.uid.endswith(OWN_UID_SUFFIX)
        if reminder.status == "pending":
            return own or reminder.uid not in there
        return own and reminder.uid in there

    return [reminder for reminder in reminders if wanted(reminder)]


def _entries(body: bytes, base: str, now: datetime) -> tuple[list[Entry], int]:
    """The collection's to-dos; one the server holds that cannot be read is counted and left
    there (unlike a file: one broken to-do must not block every later sync)."""
    entries: list[Entry] = []
    unreadable = 0
    for data in _calendar_data(body, base):
        try:
            entries.extend(read_entries(data, now, source=f"a to-do from {base}"))
        except ActionError:
            unreadable += 1
    return entries, unreadable


def resource_name(uid: str) -> str:
    """The file name of a reminder in the collection: its UID when that is a plain name, else
    a hash of it — a UID from an imported file ("../x") must not climb out of the collection,
    and servers refuse odd names."""
    if re.fullmatch(r"[A-Za-z0-9_@-][A-Za-z0-9_.@-]{0,200}", uid):
        return quote(f"{uid}.ics", safe="")
    return f"{hashlib.sha256(uid.encode()).hexdigest()}.ics"


def _check(response: httpx.Response, base: str) -> None:
    if response.status_code in (401, 403):
        raise ActionError(f"The CalDAV server at {base} refused the login "
                          f"({response.status_code}): check the username, and the password in "
                          f"the keyring ({KEYRING_SERVICE}) or {PASSWORD_VARIABLE}.")
    if response.status_code == 404:
        raise ActionError(f"There is no calendar at {base} (404): use the address of a "
                          "calendar or task list collection.")
    if response.status_code >= 400:
        raise ActionError(f"The CalDAV server at {base} answered {response.status_code} "
                          f"{response.reason_phrase}.")


def _calendar_data(body: bytes, base: str) -> list[str]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise ActionError(f"The CalDAV server at {base} sent an answer that is not WebDAV XML."
                          ) from None
    return [element.text for element in root.iterfind(".//c:calendar-data", _NS)
            if element.text]
