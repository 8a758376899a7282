"""What to hand the voice, and when: whole sentences, except the very first piece.

The first audio is what the user waits for, so the first piece goes as soon as it is a
phrase of its own: a sentence, or a clause ending in a comma, colon, semicolon or dash
after at least two words ("Oh no," / "Welcome home,"). After that, whole sentences: Piper
phrases a sentence better than its fragments, and it is far ahead of playback by then.
"""

from __future__ import annotations

import re

from os1.sentences import SentenceSplitter

_CLAUSE = re.compile(r"[,;:—–]\s")
_FIRST_CLAUSE_WORDS = 2
# A long first sentence with no comma ("Here's a simple recipe you might like to try…") is
# cut where speakers breathe anyway: before a conjunction or preposition, once it has this
# many words. Waiting for its end cost up to 3-4 s of silence in the benchmark.
_LONG_FIRST_WORDS = 6
_BREAK_BEFORE = frozenset((
    "and", "but", "or", "so", "because", "which", "that", "who", "when", "while", "if",
    "to", "with", "for", "about", "from", "into", "after", "before",
))
# Markdown the model may write that nobody should hear read aloud.
_UNSPOKEN = re.compile(r"[*_#`~>|]+")


class SpeechChunker:
    def __init__(self) -> None:
        self._sentences = SentenceSplitter()
        self._first_pending = True
        self._held = ""  # text of the first sentence not yet sent

    def feed(self, piece: str) -> list[str]:
        out: list[str] = []
        if self._first_pending:
            self._held += piece
            match = _CLAUSE.search(self._held)
            done = self._sentences.feed(piece)
            if done:  # a whole sentence arrived first
                self._first_pending = False
                self._held = ""
                return [spoken(s) for s in done if spoken(s)]
            cut = _first_cut(self._held, match)
            if cut is not None:
                first = self._held[:cut]
                self._first_pending = False
                # The splitter holds the same text; drop the part already spoken from it.
                self._sentences = SentenceSplitter()
                rest = self._held[cut:]
                self._held = ""
                out.append(spoken(first))
                out.extend(spoken(s) for s in self._sentences.feed(rest))
                return [text for text in out if text]
            return []
        return [text for s in self._sentences.feed(piece) if (text := spoken(s))]

    def flush(self) -> list[str]:
        rest = self._sentences.flush()
        self._held = ""
        return [text] if rest and (text := spoken(rest)) else []


def _first_cut(held: str, clause: re.Match[str] | None) -> int | None:
    """Where the first piece may end: after a clause of two words or more, or before a
    natural break in a long first sentence; None to wait for more."""
    if clause is not None and len(held[: clause.start()].split()) >= _FIRST_CLAUSE_WORDS:
        return clause.end()
    found = list(re.finditer(r"\S+\s+", held))  # whole words, each followed by a space
    for index in range(_LONG_FIRST_WORDS, len(found)):
        if found[index].group().strip().lower() in _BREAK_BEFORE:
            return found[index].start()
    return None


def spoken(text: str) -> str:
    """Text as it should be said: markdown marks and stray whitespace gone."""
    return " ".join(_UNSPOKEN.sub("", text).split())
