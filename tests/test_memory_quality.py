"""The issue's "done when", on the real default model (Qwen2.5-1.5B, CPU): told about a sister
on Monday, os1 knows her name on Thursday in a new conversation. Also: the chat model's
structured extraction picks the fact out of the exchange."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import MODEL_CACHE
from os1.app import close_companion, open_companion
from os1.config import Settings
from os1.events import Done, MemoryUsed

pytestmark = pytest.mark.quality


async def test_a_sister_named_on_monday_is_known_on_thursday(tmp_path: Path) -> None:
    now = [datetime(2026, 11, 23, 18, 30).astimezone()]  # a Monday evening
    settings = Settings(data_dir=tmp_path, cache_dir=MODEL_CACHE, seed=7,
                        memory_idle_s=3600)  # extraction is run by hand below
    companion = await asyncio.to_thread(open_companion, settings, None, lambda: now[0])
    try:
        await companion.warm()
        assert companion.memory is not None
        me = companion.store.user("me")
        told = [e async for e in companion.turn(
            me, "My sister Maria is flying in from Madrid next month, I can't wait.")]
        assert isinstance(told[-1], Done)

        now[0] += timedelta(minutes=2)
        facts = await companion.memory.extract_pending(me)
        assert any("maria" in f.memory.text.casefold() and "sister" in f.memory.text.casefold()
                   for f in facts), [f.memory.text for f in facts]

        now[0] += timedelta(days=3)  # Thursday
        await companion.new_conversation(me)
        events = [e async for e in companion.turn(me, "I'm seeing my sister tonight.")]
        used = [e for e in events if isinstance(e, MemoryUsed)]
        assert any("Maria" in m.text for m in used), used
        done = events[-1]
        assert isinstance(done, Done), events
        assert "Maria" in done.reply, done.reply
    finally:
        await close_companion(companion)
