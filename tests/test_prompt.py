from itertools import pairwise

from os1.llm.prompt import (
    HistoryBound,
    PromptTurn,
    build_messages,
    window_start,
)


def conversation(exchanges: int, size: int = 20) -> list[PromptTurn]:
    turns: list[PromptTurn] = []
    for i in range(exchanges):
        turns.append(PromptTurn("user", f"user {i} " + "x" * size, "note" if i == 0 else ""))
        turns.append(PromptTurn("assistant", f"reply {i} " + "y" * size))
    return turns


def test_short_history_is_sent_whole() -> None:
    turns = conversation(3)
    assert window_start(turns, HistoryBound(max_turns=8, max_chars=10_000)) == 0


def test_window_start_moves_in_steps_and_never_exceeds_the_bound() -> None:
    bound = HistoryBound(max_turns=4, max_chars=100_000)  # 8 turns, step 4
    starts = []
    for exchanges in range(1, 30):
        turns = conversation(exchanges)
        start = window_start(turns, bound)
        assert len(turns) - start <= 8
        assert turns[start].role == "user"
        starts.append(start)
    # The start changes on only a fraction of turns: that is what keeps the prefix cached.
    changes = sum(1 for a, b in pairwise(starts) if a != b)
    assert changes <= len(starts) // 2
    assert starts == sorted(starts)


def test_consecutive_prompts_share_a_prefix_except_when_the_window_steps() -> None:
    bound = HistoryBound(max_turns=6, max_chars=100_000)  # 12 turns, steps of 6
    reused = 0
    for exchanges in range(1, 40):
        history = conversation(exchanges)
        before = build_messages("persona", history[:-2], PromptTurn("user", "a"), bound)
        after = build_messages("persona", history, PromptTurn("user", "b"), bound)
        stepped = window_start(history[:-2], bound) != window_start(history, bound)
        # Everything but the last message of `before` reappears at the start of `after`,
        # unless the window stepped forward on this turn.
        shared = after[: len(before) - 1] == before[:-1]
        assert shared != stepped
        reused += shared
    # A step of 3 exchanges: two turns in three reuse the cached prefix.
    assert reused >= 39 * 2 // 3


def test_character_budget_cuts_long_histories() -> None:
    turns = conversation(10, size=1000)
    start = window_start(turns, HistoryBound(max_turns=50, max_chars=5000))
    assert sum(len(t.content) for t in turns[start:]) <= 5000


def test_system_prompt_comes_first_and_notes_precede_their_turn() -> None:
    messages = build_messages(
        "persona", [], PromptTurn("user", "hello", "Recalled: her sister is Catherine."),
        HistoryBound(4, 1000),
    )
    assert [m.role for m in messages] == ["system", "system", "user"]
    assert messages[0].content == "persona"


def test_the_window_does_not_depend_on_the_new_message() -> None:
    history = conversation(10, size=200)
    bound = HistoryBound(max_turns=50, max_chars=3000)
    short = build_messages("p", history, PromptTurn("user", "hi"), bound)
    long = build_messages("p", history, PromptTurn("user", "x" * 2500), bound)
    assert short[:-1] == long[:-1]
