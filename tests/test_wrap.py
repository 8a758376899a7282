from os1.terminal.wrap import StreamWrapper


def wrap(pieces: list[str], width: int) -> str:
    wrapper = StreamWrapper(width)
    return "".join(wrapper.feed(p) for p in pieces)


def test_words_are_never_cut_at_the_edge() -> None:
    text = "Oh no! You must be feeling very upset now. It's understandable to feel overwhelmed."
    pieces = [" " + w if i else w for i, w in enumerate(text.split(" "))]
    lines = wrap(pieces, 24).split("\n")
    assert all(len(line) <= 24 for line in lines)
    assert " ".join(lines) == text


def test_newlines_in_the_reply_reset_the_column() -> None:
    out = wrap(["first line\nsecond", " line that is long enough to wrap somewhere"], 24)
    assert out.split("\n")[0] == "first line"
    assert all(len(line) <= 24 for line in out.split("\n"))


def test_word_tails_stay_attached() -> None:
    assert wrap(["under", "standable"], 40) == "understandable"
