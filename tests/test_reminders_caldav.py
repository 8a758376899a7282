"""CalDAV sync against a real Radicale server on loopback (a subprocess, htpasswd login): push
pending reminders, pull a to-do made elsewhere, idempotent both ways; a wrong password, a
missing collection and a server that is down are clear errors; the password never reaches
the action log."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from conftest import free_port
from os1.config import Settings
from os1.skills.actions import ActionContext, ActionError, ActionLog, Actions, Outcome
from os1.skills.reminders import command_actions
from os1.skills.reminders.book import Reminders
from os1.skills.reminders.caldav import PASSWORD_VARIABLE, resource_name, sync
from os1.store.sqlite import SQLiteStore

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=PARIS)
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("radicale")
    users = folder / "users"
    users.write_text(f"amy:{PASSWORD}\n")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "radicale", f"--storage-filesystem-folder={folder / 'data'}",
         f"--server-hosts=127.0.0.1:{port}", "--auth-type=htpasswd",
         f"--auth-htpasswd-filename={users}", "--auth-htpasswd-encryption=plain",
         "--rights-type=owner_only"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base, timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("Radicale did not start")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def _collection(base: str, name: str) -> str:
    url = f"{base}/amy/{name}/"
    response = httpx.request("MKCALENDAR", url, auth=("amy", PASSWORD))
    assert response.status_code == 201, response.text
    return url


def _phone_todo(url: str, uid: str, summary: str, due: str) -> None:
    body = (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//phone//EN\r\nBEGIN:VTODO\r\n"
            f"UID:{uid}\r\nDTSTAMP:20261127T090000Z\r\nSUMMARY:{summary}\r\nDUE:{due}\r\n"
            "END:VTODO\r\nEND:VCALENDAR\r\n")
    response = httpx.put(f"{url}{uid}.ics", content=body, auth=("amy", PASSWORD),
                         headers={"Content-Type": "text/calendar"})
    assert response.status_code in (201, 204), response.text


def test_sync_pushes_and_pulls_both_ways(radicale: str, settings: Settings) -> None:
    url = _collection(radicale, "reminders")
    store = SQLiteStore(settings.database_path)
    user = store.user("amy")
    book = Reminders(store, settings)
    mine = book.add(user, "call Amy", datetime(2026, 11, 27, 18, 0, tzinfo=PARIS), NOW)
    _phone_todo(url, "phone-1", "Buy stamps", "20261128T160000Z")

    first = sync(book, user, url, NOW, "amy", PASSWORD)
    assert first.pushed == 1
    assert [(r.uid, r.text) for r in first.pulled.added] == [("phone-1", "Buy stamps")]
    pulled = first.pulled.added[0]
    assert pulled.due_at == datetime(2026, 11, 28, 16, 0, tzinfo=ZoneInfo("UTC"))

    on_server = httpx.get(f"{url}{mine.uid}.ics", auth=("amy", PASSWORD))
    assert on_server.status_code == 200
    assert "SUMMARY:call Amy" in on_server.text and "BEGIN:VALARM" in on_server.text

    # The phone's to-do is not written back (os1's copy is simpler); ours is, as it may move.
    book.snooze(user, mine.id, datetime(2026, 11, 27, 19, 0, tzinfo=PARIS), NOW)
    second = sync(book, user, url, NOW, "amy", PASSWORD)
    assert (second.pushed, second.pulled.added, second.pulled.already) == (1, (), 2)
    assert len(book.listing(user)) == 2
    assert "DUE:20261127T180000Z" in httpx.get(f"{url}{mine.uid}.ics", auth=("amy", PASSWORD)).text
    phone = httpx.get(f"{url}phone-1.ics", auth=("amy", PASSWORD)).text
    assert "PRODID:-//phone//EN" in phone

    book.cancel(user, mine.id)  # cancelled here: the server's copy says so too
    assert sync(book, user, url, NOW, "amy", PASSWORD).pushed == 1
    assert "STATUS:CANCELLED" in httpx.get(f"{url}{mine.uid}.ics", auth=("amy", PASSWORD)).text


async def test_the_password_comes_from_the_environment_and_is_never_logged(
        radicale: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _collection(radicale, "tasks")
    store = SQLiteStore(settings.database_path)
    user = store.user("amy")
    actions = Actions(command_actions(store, settings), ActionLog(store))
    context = ActionContext(user, NOW, "command")
    monkeypatch.setenv(PASSWORD_VARIABLE, "wrong")
    with pytest.raises(ActionError, match="refused the login"):
        await actions.call(context, "remind.sync", {"url": url, "username": "amy"},
                           confirmed=True)
    monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
    outcome = await actions.call(context, "remind.sync", {"url": url, "username": "amy"},
                                 confirmed=True)
    assert isinstance(outcome, Outcome) and outcome.text.startswith("Sent 0 reminders")
    logged = b"".join(p.read_bytes() for p in settings.data_dir.rglob("*") if p.is_file())
    assert PASSWORD.encode() not in logged
    assert [e.status for e in ActionLog(store).entries(user)] == ["done", "failed"]


def test_a_uid_from_a_file_stays_inside_the_collection(radicale: str,
                                                       settings: Settings) -> None:
    url = _collection(radicale, "inside")
    store = SQLiteStore(settings.database_path)
    user = store.user("amy")
    book = Reminders(store, settings)
    book.add(user, "odd one", datetime(2026, 11, 28, 9, 0, tzinfo=PARIS), NOW,
             uid="../escape/x")
    assert sync(book, user, url, NOW, "amy", PASSWORD).pushed == 1
    listing = httpx.request("PROPFIND", url, headers={"Depth": "1"}, auth=("amy", PASSWORD))
    assert resource_name("../escape/x") in listing.text and "escape" not in listing.text
    back = sync(book, user, url, NOW, "amy", PASSWORD)
    assert (back.pushed, back.pulled.added, back.pulled.already) == (0, (), 1)  # UID kept
    assert httpx.get(f"{radicale}/amy/escape/", auth=("amy", PASSWORD)).status_code == 404


def test_a_missing_collection_and_a_server_down_are_clear(radicale: str,
                                                          settings: Settings) -> None:
    store = SQLiteStore(settings.database_path)
    user = store.user("amy")
    book = Reminders(store, settings)
    with pytest.raises(ActionError, match="no calendar at"):
        sync(book, user, f"{radicale}/amy/nothing-here/", NOW, "amy", PASSWORD)
    with pytest.raises(ActionError, match="Cannot reach the CalDAV server"):
        sync(book, user, f"http://127.0.0.1:{free_port()}/amy/reminders/", NOW, "amy",
             PASSWORD)
    with pytest.raises(ActionError, match="not a CalDAV address"):
        sync(book, user, "ftp://example.org/cal", NOW)
