"""Word-wrap text that arrives a token at a time, so words are not cut at the edge."""

from __future__ import annotations


class StreamWrapper:
    """Feed pieces of text; get back what to print, with line breaks between words."""

    def __init__(self, width: int) -> None:
        self._width = max(20, width)
        self._column = 0

    def feed(self, piece: str) -> str:
        out: list[str] = []
        # Split on spaces but keep them: a piece is usually " word" or a word's tail.
        for part in _split_keeping_spaces(piece):
            if part == "\n":
                out.append("\n")
                self._column = 0
            elif part.isspace():
                if self._column + len(part) <= self._width:
                    out.append(part)
                    self._column += len(part)
            else:
                if self._column + len(part) > self._width and self._column > 0:
                    # Break before the word, dropping the space we may have just printed.
                    if out and out[-1].isspace() and out[-1] != "\n":
                        out.pop()
                    out.append("\n")
                    self._column = 0
                out.append(part)
                self._column += len(part)
        return "".join(out)


def _split_keeping_spaces(text: str) -> list[str]:
    parts: list[str] = []
    word = ""
    for char in text:
        if char == "\n" or char == " ":
            if word:
                parts.append(word)
                word = ""
            parts.append(char)
        else:
            word += char
    if word:
        parts.append(word)
    return parts
