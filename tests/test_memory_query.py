"""Reading search queries: safe keywords, and the span of time a query names."""

from __future__ import annotations

from datetime import datetime

import pytest

from os1.memory.query import fts_query, keywords, time_window

NOW = datetime(2026, 11, 27, 15, 0)  # a Friday


def test_keywords_drop_stop_words_and_possessives() -> None:
    assert keywords("What did my sister's husband say about the wedding?") == [
        "sister", "husband", "say", "wedding"]
    assert keywords("the and of to") == []


def test_fts_query_quotes_every_word() -> None:
    assert fts_query(['near(', 'a"b']) == '"near(" OR "a""b"'


@pytest.mark.parametrize(("text", "start", "end"), [
    ("what did I say yesterday", datetime(2026, 11, 26), datetime(2026, 11, 27)),
    ("last week at work", datetime(2026, 11, 16), datetime(2026, 11, 23)),
    ("last month", datetime(2026, 10, 1), datetime(2026, 11, 1)),
    ("last summer in Lisbon", datetime(2026, 6, 1), datetime(2026, 9, 1)),
    ("last winter", datetime(2025, 12, 1), datetime(2026, 3, 1)),
    ("back in May", datetime(2026, 5, 1), datetime(2026, 6, 1)),
    ("in December", datetime(2025, 12, 1), datetime(2026, 1, 1)),
    ("in March 2024", datetime(2024, 3, 1), datetime(2024, 4, 1)),
    ("in 2023", datetime(2023, 1, 1), datetime(2024, 1, 1)),
    ("last Monday", datetime(2026, 11, 23), datetime(2026, 11, 24)),
    ("two weeks ago", datetime(2026, 11, 10), datetime(2026, 11, 17)),
])
def test_time_windows(text: str, start: datetime, end: datetime) -> None:
    window = time_window(text, NOW)
    assert window is not None, text
    assert (window.start, window.end) == (start, end)


def test_no_time_in_a_query_means_no_window() -> None:
    assert time_window("how is my sister doing", NOW) is None
    assert time_window("may I ask something", NOW) is None
