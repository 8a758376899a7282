"""The web page, end to end: Debian's Chromium (driven by Playwright) against a real uvicorn
serving the real app and companion (the SmolLM2 fixture model: its words are noise, the
plumbing is real), Whisper and Piper behind the voice socket, SQLite underneath.

Two people sign up in two browser contexts; each chats by text (the reply streams in), each
talks by voice (Chromium's fake microphone plays a sentence os1's own Piper voice spoke),
and neither page ever shows the other's conversation, memories or reminders. Memory edit and
forget, a reminder from free text, the companion's name, keyboard-only sending and the
accessible names of every control are checked through the page as a person would use it.

Screenshots for the docs: ``OS1_SCREENSHOTS=1 pytest tests/test_web.py`` rewrites
docs/screenshots/*.png; without it nothing in the repository is touched.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    WebSocketRoute,
    async_playwright,
    expect,
)

import server_helpers
from os1.affect.timeline import MoodReading, MoodTimeline
from os1.skills.letters.book import LetterBook
from os1.system_packages import SystemPackage, command, ensure
from os1.voice.audio import RATE, resample, write_wav
from server_helpers import PASSWORD, LiveServer
from voice_helpers import said

# The real server (uvicorn, the app, the companion on the fixture model), for this module.
live_server = server_helpers.live_server
server_settings = server_helpers.server_settings

log = logging.getLogger(__name__)

CHROMIUM = SystemPackage("chromium", "The web page's browser tests", command("chromium"))
CHROMIUM_PATH = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SPOKEN = "I spent the whole morning in my garden, watering the tomatoes."
# Chromium's fake microphone reads a WAV file; 48 kHz is its native capture rate.
FAKE_MIC_RATE = 48_000
WIDE = {"width": 1280, "height": 860}
NARROW = {"width": 390, "height": 844}
# A turn on a shared, slow machine (model, Whisper and Piper included) can take a minute; the
# waits end as soon as what they wait for shows.
TIMEOUT_MS = 120_000
# Everything else (a page, a list, a saved setting) shows within seconds even on a busy box.
expect.set_options(timeout=20_000)

# Roles a person operates; each must have a name a screen reader can say.
INTERACTIVE = ("button", "link", "textbox", "searchbox", "combobox", "checkbox", "radio",
               "switch", "slider", "spinbutton", "menuitem", "tab", "option")


# -- fixtures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Speech:
    wav: Path
    speech_s: float  # how long the words last (after SILENCE_BEFORE_S of silence)


SILENCE_BEFORE_S = 1.0


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    """A sentence in os1's own Piper voice, with silence around it, at Chromium's rate."""
    words = said(SPOKEN)
    audio = said(SPOKEN, before_s=SILENCE_BEFORE_S, after_s=3.0)
    path = tmp_path_factory.mktemp("mic") / "spoken.wav"
    write_wav(path, resample(audio, RATE, FAKE_MIC_RATE), FAKE_MIC_RATE)
    return Speech(path, len(words) / RATE)


@pytest.fixture
async def browser(speech: Speech) -> AsyncIterator[Browser]:
    ensure(CHROMIUM)  # installs Debian's chromium with apt-get when it is missing
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, headless=True,
            args=["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  # %noloop: the sentence is said once, then the microphone hears silence.
                  f"--use-file-for-fake-audio-capture={speech.wav}%noloop",
                  "--autoplay-policy=no-user-gesture-required"])
        try:
            yield launched
        finally:
            await launched.close()


async def new_person(browser: Browser, server: LiveServer, viewport: dict[str, int] = WIDE,
                     chat_routes: list[WebSocketRoute] | None = None
                     ) -> tuple[BrowserContext, Page, list[str]]:
    """A fresh browser context (its own cookies: one person) on the page; the list collects
    the page's console errors and CSP violations, which the tests require to stay empty.
    ``chat_routes``: the chat socket passes through Playwright, which can then drop it."""
    context = await browser.new_context(viewport=viewport, permissions=["microphone"],
                                        reduced_motion="reduce", color_scheme="light")
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    if chat_routes is not None:
        def through(route: WebSocketRoute) -> None:
            route.connect_to_server()
            chat_routes.append(route)

        await page.route_web_socket(re.compile(r"/api/chat$"), through)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(server.url)
    return context, page, problems


def real_problems(problems: list[str]) -> list[str]:
    # A refused request (401 while logged out, 409 for a taken name) is logged by Chromium
    # as a console error; those are the page working as meant.
    return [p for p in problems if "Failed to load resource" not in p]


async def shot(page: Page, name: str) -> None:
    if os.environ.get("OS1_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.evaluate("document.getElementById('status').textContent = ''")  # a toast
        await page.screenshot(path=SCREENSHOTS / f"{name}.png", animations="disabled")


async def sign_up(page: Page, name: str) -> None:
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Let's get to know each other")).to_be_visible()


async def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    await box.fill(text)
    await box.press("Enter")


async def wait_for_reply(page: Page) -> str:
    """The last reply in the log once it is whole (aria-busy goes false at `done`)."""
    reply = page.locator("#messages li.msg.os1").last
    await expect(reply).to_have_attribute("aria-busy", "false", timeout=TIMEOUT_MS)
    return (await reply.locator(".text").inner_text()).strip()


async def unnamed_controls(page: Page) -> list[str]:
    """Interactive elements in the accessibility tree without an accessible name."""
    snapshot = await page.locator("body").aria_snapshot()
    nameless = []
    for line in snapshot.splitlines():
        match = re.match(r"\s*- (\w+)(.*)$", line)
        if match and match.group(1) in INTERACTIVE and not match.group(2).lstrip().startswith('"'):
            nameless.append(line.strip())
    return nameless


async def go(page: Page, section: str) -> None:
    await page.get_by_role("navigation", name="Sections").get_by_role("link",
                                                                       name=section).click()
    await expect(page.locator(f"#view-{section.lower()}")).to_be_visible()


MOOD_DAYS = 20


def seed_mood(server: LiveServer, name: str) -> None:
    """Readings on the 20 days before today, a gentle wave: what weeks of chats would leave."""
    user = server.store.user(name)
    timeline = MoodTimeline(server.store)
    now = datetime.now().astimezone()
    for back in range(1, MOOD_DAYS + 1):
        valence = 0.55 * math.sin(back / 3.1) + 0.15 * math.cos(back / 1.3)
        timeline.add(user, MoodReading(now - timedelta(days=back), round(valence, 3),
                                       round(0.35 + 0.3 * abs(math.sin(back / 2.3)), 3), 0.8,
                                       ("neutral",), "text"))


def seed_letter(server: LiveServer, name: str) -> None:
    LetterBook(server.store).add(
        server.store.user(name), "Grandma", "her birthday",
        "Dear Grandma,\n\nHappy birthday! The tomatoes are finally red, and I saved you the "
        "first one.\n\nWith love,\nAda", datetime.now().astimezone())


class Laps:
    """How long each part took (``--log-cli-level=INFO`` shows them): where the time goes."""

    def __init__(self) -> None:
        self.start = self.last = time.monotonic()

    def __call__(self, what: str) -> None:
        now = time.monotonic()
        log.info("%-34s %6.1f s (%.1f s in all)", what, now - self.last, now - self.start)
        self.last = now


# -- the scenario ----------------------------------------------------------------------------


async def answer_first_questions(page: Page, call_me: str) -> None:
    """Onboarding, one question at a time: the name answered (it becomes a memory), the tone
    picked, one question skipped, the rest skipped."""
    await expect(page.locator("#ob-question")).to_have_text("What should I call you?")
    assert await unnamed_controls(page) == []
    await page.get_by_role("textbox", name="What should I call you?").fill(call_me)
    await page.get_by_role("button", name="Next").click()
    await expect(page.locator("#ob-reply")).to_contain_text(call_me)
    await expect(page.locator("#ob-question")).to_have_text(
        "How would you like me to talk with you?")
    await page.get_by_role("radio", name="calm and direct").check()
    await page.get_by_role("button", name="Next").click()
    await expect(page.locator("#ob-question")).to_have_text("Would you like to give me a name?")
    await page.get_by_role("button", name="Skip this question").click()
    await expect(page.locator("#ob-question")).not_to_have_text(
        "Would you like to give me a name?")
    await page.get_by_role("button", name="Skip the rest").click()
    await expect(page.locator("#view-chat")).to_be_visible()


async def chat_streams(page: Page, words: str) -> str:
    """Send by Enter; the reply must arrive in pieces (its text changes several times while
    it is being written) and end whole. Returns the reply."""
    await expect(page.locator("#conn")).to_have_text("Connected")
    await page.evaluate("""() => {
        window.__steps = 0;
        new MutationObserver(() => {
          const pending = document.querySelector('#messages li.pending .text');
          if (pending && pending.textContent) window.__steps += 1;
        }).observe(document.getElementById('messages'),
                   {subtree: true, childList: true, characterData: true});
    }""")
    await send(page, words)
    await expect(page.locator("#messages li.msg.user").last).to_contain_text(words)
    reply = await wait_for_reply(page)
    assert reply
    assert await page.evaluate("window.__steps") >= 2, "the reply arrived whole, not streamed"
    return reply


async def talks(page: Page, speech: Speech, *, hands_free: bool) -> None:
    """Speak through the fake microphone (the sentence in speech.wav): the transcript shows
    as the user's message, os1's reply is written out, and its voice arrives and plays."""
    heard = page.locator("#messages li.msg.user.spoken")
    state = page.locator("#voice-state")
    if hands_free:
        await page.get_by_role("button", name="Hands-free").click()
        await expect(page.get_by_role("button", name="Hands-free")).to_have_attribute(
            "aria-pressed", "true")
    else:
        talk = page.get_by_role("button", name="Hold to talk")
        await talk.focus()
        await page.keyboard.down(" ")  # Space held on the focused button: push-to-talk
        await expect(talk).to_have_attribute("aria-pressed", "true")
        # The microphone opens (and the file starts) once the server's voice is ready.
        await expect(state).to_have_text(re.compile("^Listening"))
        await page.wait_for_timeout(int((SILENCE_BEFORE_S + speech.speech_s + 0.7) * 1000))
        await page.keyboard.up(" ")
        await expect(talk).to_have_attribute("aria-pressed", "false")
    await expect(heard).to_have_count(1, timeout=TIMEOUT_MS)
    transcript = (await heard.locator(".text").inner_text()).lower()
    assert "tomatoes" in transcript, transcript
    # os1's answer: its words in the log, its voice (int16 frames) received and played.
    reply = page.locator("#messages li.msg.os1.voice-reply").last
    await expect(reply.locator(".text")).to_have_text(re.compile(r"\w"), timeout=TIMEOUT_MS)
    await expect(state).to_have_attribute("data-consumed", re.compile(r"^[1-9]\d*$"),
                                          timeout=TIMEOUT_MS)
    if hands_free:
        await page.get_by_role("button", name="Hands-free").click()  # off again


async def test_two_people_chat_and_talk_apart(live_server: LiveServer, browser: Browser,
                                              speech: Speech) -> None:
    server = live_server
    lap = Laps()
    ctx_a, ada, ada_problems = await new_person(browser, server)
    ben_sockets: list[WebSocketRoute] = []
    ctx_b, ben, ben_problems = await new_person(browser, server, chat_routes=ben_sockets)
    await expect(ada.get_by_role("heading", name="Hello.")).to_be_visible()
    assert await unnamed_controls(ada) == []
    await shot(ada, "login")

    await sign_up(ada, "Ada")
    await answer_first_questions(ada, "Addie")
    await sign_up(ben, "Ben")
    await answer_first_questions(ben, "Benji")

    lap("sign-ups and first questions")

    # -- text: Ada types; the reply streams in
    await chat_streams(ada, "I planted tomatoes in my garden today.")
    assert await unnamed_controls(ada) == []
    await shot(ada, "chat")

    # Escape cuts a reply short; the chat goes on afterwards.
    box = ada.get_by_role("textbox", name="Message")
    await box.fill("Tell me a long story about the sea.")
    await box.press("Enter")
    await ada.keyboard.press("Escape")
    await expect(ada.locator("#messages li.msg.os1").last).to_contain_text(
        "You stopped this reply.")
    await expect(ada.get_by_role("button", name="Send")).to_be_visible()

    lap("Ada's text turn and a stopped one")

    # -- keyboard only: Ben Tabs from the top of the page to the message box, types, Enter
    await expect(ben.locator("#conn")).to_have_text("Connected")
    await ben.locator("body").focus()
    for _ in range(30):
        await ben.keyboard.press("Tab")
        if await ben.evaluate("document.activeElement.id") == "say-text":
            break
    else:
        raise AssertionError("Tab never reached the message box")
    await ben.keyboard.type("My cat Pixel knocked over a vase.")
    await ben.keyboard.press("Enter")
    await expect(ben.locator("#messages li.msg.user").last).to_contain_text("Pixel knocked")
    assert await wait_for_reply(ben)

    lap("Ben's keyboard-only turn")

    # -- the chat socket drops: the page says so, waits, reconnects, and says that too
    await ben_sockets[-1].close(code=1012, reason="server restart")
    await expect(ben.locator("#conn")).to_have_text(re.compile("Connection lost. Reconnecting"))
    await expect(ben.locator("#conn")).to_have_text("Connected")
    await expect(ben.get_by_role("status")).to_have_text("Reconnected.")
    assert len(ben_sockets) == 2

    lap("the socket dropped and back")

    # -- voice: Ada hands-free, Ben push-to-talk with Space
    await talks(ada, speech, hands_free=True)
    await talks(ben, speech, hands_free=False)

    lap("two voice turns")

    # -- apart: each page, reloaded from the server, shows only its own person's words
    for page, own, other in ((ada, "tomatoes in my garden today", "Pixel"),
                             (ben, "Pixel knocked over", "planted tomatoes")):
        await page.reload()
        log = page.get_by_role("log", name="Conversation")
        await expect(log).to_contain_text(own)
        assert other not in await log.inner_text()

    lap("histories apart")

    # -- memories: what each was called is remembered, for that person only
    await go(ada, "Memories")
    addie = ada.locator("#mem-list li", has_text="Addie").first
    await expect(addie).to_be_visible()
    assert "Benji" not in await ada.locator("#mem-list").inner_text()
    assert await unnamed_controls(ada) == []
    await go(ben, "Memories")
    await expect(ben.locator("#mem-list li", has_text="Benji").first).to_be_visible()
    assert "Addie" not in await ben.locator("#mem-list").inner_text()

    # Edit inline, then search finds the new words; a reload keeps them.
    await addie.get_by_role("button", name=re.compile("^Edit memory")).click()
    editor = ada.get_by_role("textbox", name="Edit this memory")
    await editor.fill("Ada grows tomatoes and likes to be called Addie.")
    await ada.get_by_role("button", name="Save").click()
    await expect(ada.locator("#mem-list")).to_contain_text("Ada grows tomatoes")
    await ada.reload()
    await expect(ada.locator("#mem-list")).to_contain_text("Ada grows tomatoes")
    await ada.get_by_role("searchbox", name="Search memories").fill("tomatoes")
    await ada.get_by_role("button", name="Search").click()
    # The search's own answer, not the list the reload drew before it.
    await expect(ada.locator("#mem-count")).to_contain_text("matching “tomatoes”")
    await expect(ada.locator("#mem-list")).not_to_have_attribute("aria-busy", "true")
    await expect(ada.locator("#mem-list")).to_contain_text("Ada grows tomatoes")
    await shot(ada, "memories")
    # Forget, behind a confirm: cancelling keeps it, confirming removes it for good.
    edited = ada.locator("#mem-list li", has_text="Ada grows tomatoes")
    await edited.get_by_role("button", name=re.compile("^Forget memory")).click()
    await ada.get_by_role("dialog").get_by_role("button", name="Keep it").click()
    await expect(edited).to_have_count(1)
    await edited.get_by_role("button", name=re.compile("^Forget memory")).click()
    await ada.get_by_role("dialog").get_by_role("button", name="Forget").click()
    await expect(edited).to_have_count(0)
    await ada.reload()
    await expect(ada.locator("#mem-count")).to_be_visible()
    assert "Ada grows tomatoes" not in await ada.locator("#mem-list").inner_text()

    lap("memories: edit, search, forget")

    # -- reminders: added from free text, shown to their owner only
    await go(ada, "Reminders")
    await ada.get_by_role("textbox", name="New reminder").fill("call Amy on Friday at six")
    await ada.get_by_role("button", name="Add reminder").click()
    await expect(ada.locator("#rem-list li", has_text="Amy")).to_have_count(1)
    await expect(ada.locator("#rem-list time")).to_have_count(1)
    assert await unnamed_controls(ada) == []
    await shot(ada, "reminders")
    await go(ben, "Reminders")
    await expect(ben.locator("#rem-list")).to_contain_text("No reminders.")
    await ben.get_by_role("textbox", name="New reminder").fill("feed Pixel tomorrow at 8am")
    await ben.get_by_role("button", name="Add reminder").click()
    await expect(ben.locator("#rem-list li", has_text="Pixel")).to_have_count(1)
    await ada.reload()
    await expect(ada.locator("#rem-list li", has_text="Amy")).to_have_count(1)
    assert "Pixel" not in await ada.locator("#rem-list").inner_text()
    # Cancelling, behind a confirm.
    await ben.get_by_role("button", name="Cancel reminder: feed Pixel").click()
    await ben.get_by_role("dialog").get_by_role("button", name="Cancel reminder").click()
    await expect(ben.locator("#rem-list")).to_contain_text("No reminders.")
    # Words with no time in them: the parser's question shows, nothing is added.
    await ben.get_by_role("textbox", name="New reminder").fill("the thing")
    await ben.get_by_role("button", name="Add reminder").click()
    await expect(ben.locator("#rem-error")).not_to_be_empty()
    await expect(ben.locator("#rem-list")).to_contain_text("No reminders.")

    lap("reminders")

    # -- letters: one Ada wrote (stored as the letters skill stores them): read, PDF, delete
    await asyncio.to_thread(seed_letter, server, "Ada")
    await go(ben, "Letters")
    await expect(ben.locator("#letter-list")).to_contain_text("No letters yet.")
    await go(ada, "Letters")
    await ada.get_by_role("button", name="Read To Grandma: her birthday").click()
    await expect(ada.get_by_role("heading", name="To Grandma: her birthday")).to_be_focused()
    await expect(ada.locator("#letter-body")).to_contain_text("tomatoes are finally red")
    assert await unnamed_controls(ada) == []
    async with ada.expect_download() as download_info:
        await ada.get_by_role("link", name="Download PDF").click()
    pdf = await (await download_info.value).path()
    assert Path(pdf).read_bytes().startswith(b"%PDF")
    await ada.get_by_role("button", name="Delete To Grandma: her birthday").click()
    await ada.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(ada.locator("#letter-list")).to_contain_text("No letters yet.")
    await expect(ada.locator("#letter-read")).to_be_hidden()

    lap("letters")

    # -- mood: three weeks of Ada's readings (stored as the affect engine stores them) drawn
    # as a chart with its words; Ben's chart has none of them
    await asyncio.to_thread(seed_mood, server, "Ada")
    await go(ada, "Mood")
    await expect(ada.locator("#mood-chart svg")).to_be_visible()
    assert await ada.locator("#mood-chart circle.dot").count() >= MOOD_DAYS
    await expect(ada.locator("#mood-summary")).to_contain_text(re.compile(
        rf"Over the last 30 days, ({MOOD_DAYS}|{MOOD_DAYS + 1}) days had readings.*Lowest day",
        re.S))
    await expect(ada.get_by_role("img", name=re.compile("Over the last 30 days"))).to_be_visible()
    assert await unnamed_controls(ada) == []
    await shot(ada, "mood")
    await go(ben, "Mood")
    await expect(ben.locator("#mood-summary")).to_be_visible()
    assert await ben.locator("#mood-chart circle.dot").count() <= 1  # today's, if read

    lap("mood")

    # -- settings: the companion's name changes, and the chat uses it
    await go(ada, "Settings")
    await expect(ada.get_by_label("Companion's name")).to_have_value(re.compile(r"\S"))
    await ada.get_by_label("Companion's name").fill("Juniper")
    await ada.get_by_role("button", name="Save settings").click()
    await expect(ada.get_by_role("status")).to_contain_text("Settings saved")
    assert await unnamed_controls(ada) == []
    await shot(ada, "settings")
    await ada.reload()
    await expect(ada.get_by_label("Companion's name")).to_have_value("Juniper")
    # The export: one JSON file of Ada's data, downloaded from the page.
    async with ada.expect_download() as download_info:
        await ada.get_by_role("link", name="Download my data").click()
    exported = Path(await (await download_info.value).path()).read_text(encoding="utf-8")
    assert "planted tomatoes" in exported
    assert "Pixel" not in exported and "Benji" not in exported
    await go(ada, "Chat")  # the conversation is labelled with the new name
    await expect(ada.locator("#messages li.msg.os1 .who").last).to_have_text("Juniper")
    await go(ben, "Settings")
    await expect(ben.get_by_label("Companion's name")).not_to_have_value("Juniper")

    lap("settings")

    # -- a narrow (phone) screen: the same page, reflowed
    await ada.set_viewport_size(NARROW)
    await go(ada, "Chat")
    await expect(ada.locator("#messages li.msg.os1").last).to_be_visible()
    assert await ada.evaluate("document.documentElement.scrollWidth <= innerWidth + 1")
    await shot(ada, "chat-mobile")
    await ada.set_viewport_size(WIDE)
    await ada.emulate_media(color_scheme="dark")
    await expect(ada.locator("body")).to_have_css("background-color", "rgb(29, 20, 17)")
    await shot(ada, "chat-dark")

    lap("narrow and dark screens")

    # -- forget everything: the password, then the account is gone
    await go(ben, "Settings")
    await ben.get_by_label("Your password, to confirm").fill("not my password")
    await ben.get_by_role("button", name="Forget everything").click()
    await expect(ben.locator("#erase-error")).not_to_be_empty()
    await ben.get_by_label("Your password, to confirm").fill(PASSWORD)
    await ben.get_by_role("button", name="Forget everything").click()
    await expect(ben.locator("#auth-error")).to_contain_text("Everything is forgotten")

    lap("forget everything")
    assert real_problems(ada_problems) == []
    assert real_problems(ben_problems) == []
    await ctx_a.close()
    await ctx_b.close()


async def test_sign_up_and_log_in_say_what_went_wrong(live_server: LiveServer,
                                                      browser: Browser) -> None:
    context, page, problems = await new_person(browser, live_server)
    await sign_up(page, "Cleo")
    await page.get_by_role("button", name="Skip the rest").click()
    await go(page, "Settings")
    await page.get_by_role("button", name="Log out").click()
    await expect(page.locator("#auth-error")).to_have_text("You are logged out.")

    # A taken name, a short password, a wrong password: each says what to do.
    await page.get_by_label("Your name").fill("Cleo")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("alert").first).to_contain_text("taken")
    await page.get_by_label("Password", exact=True).fill("short")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#auth-error")).to_contain_text("at least 8 characters")
    for _ in range(5):
        await page.get_by_label("Password", exact=True).fill("wrong password!")
        await page.get_by_role("button", name="Log in").click()
        await expect(page.locator("#auth-error")).to_contain_text(
            re.compile("do not match|Too many", re.I))
    # Past the limit: how long to wait, counting down, and the button waits too.
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#auth-error")).to_contain_text(
        re.compile(r"Too many tries\. Please wait \d+ seconds?"))
    await expect(page.get_by_role("button", name="Log in")).to_be_disabled()
    assert real_problems(problems) == []
    await context.close()
