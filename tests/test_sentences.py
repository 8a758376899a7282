from os1.sentences import SentenceSplitter


def feed_all(pieces: list[str]) -> list[str]:
    splitter = SentenceSplitter()
    out: list[str] = []
    for piece in pieces:
        out.extend(splitter.feed(piece))
    rest = splitter.flush()
    return out + ([rest] if rest else [])


def test_sentences_complete_across_token_boundaries() -> None:
    pieces = ["That", " sounds", " hard.", " How", " are", " you", " doing", "?", " I'm here"]
    assert feed_all(pieces) == ["That sounds hard.", "How are you doing?", "I'm here"]


def test_a_sentence_is_emitted_as_soon_as_whitespace_follows_it() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Oh no. ") == ["Oh no."]
    assert splitter.feed("What") == []


def test_abbreviations_do_not_end_a_sentence() -> None:
    assert feed_all(["I saw Dr. Lee today. ", "Good."]) == ["I saw Dr. Lee today.", "Good."]


def test_quotes_and_newlines() -> None:
    assert feed_all(['She said "yes!" ', "Then\nnothing"]) == ['She said "yes!"', "Then",
                                                              "nothing"]
