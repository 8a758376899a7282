from os1.inputs import clean_input


def test_whitespace_only_is_empty() -> None:
    assert clean_input("  \n\t \r\n ", 100).text == ""


def test_huge_paste_is_truncated_and_reports_original_length() -> None:
    result = clean_input("word " * 39_999 + "words", 6000)
    assert len(result.text) <= 6000
    assert result.truncated_from == 200_000


def test_invalid_utf8_bytes_become_replacement_characters() -> None:
    result = clean_input(b"caf\xe9 and \xff\xfe ok", 100)
    assert result.text == "caf\ufffd and \ufffd\ufffd ok"


def test_surrogate_escaped_terminal_input_is_repaired() -> None:
    raw = b"hello \xe9".decode("utf-8", errors="surrogateescape")
    assert clean_input(raw, 100).text == "hello \ufffd"


def test_control_characters_and_ansi_escapes_are_removed_but_newlines_kept() -> None:
    result = clean_input("hi\x00 there\x1b[31m red\x1b[0m\r\nsecond\x07 line", 100)
    assert result.text == "hi there red\nsecond line"
    assert result.removed_controls == 2


def test_unicode_is_normalised() -> None:
    assert clean_input("cafe\u0301", 100).text == "caf\u00e9"
