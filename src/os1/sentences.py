"""Cut a stream of tokens into sentences, so speech can start before the reply ends."""

from __future__ import annotations

import re

# A sentence ends at . ! ? or … (optionally followed by closing quotes or brackets)
# when whitespace follows. Newlines end a sentence too (lists, short lines).
_END = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s+)|(\n+)")
_ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "e.g.", "i.e.", "etc.", "vs.", "prof."}


class SentenceSplitter:
    """Feed text pieces; get back the sentences they complete."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, piece: str) -> list[str]:
        self._buffer += piece
        sentences: list[str] = []
        start = 0
        for match in _END.finditer(self._buffer):
            end = match.end(1) if match.group(1) else match.start(3)
            candidate = self._buffer[start:end].strip()
            last_word = candidate.rsplit(maxsplit=1)[-1].lower() if candidate else ""
            if match.group(1) and last_word in _ABBREVIATIONS:
                continue
            if candidate:
                sentences.append(candidate)
            start = match.end()
        self._buffer = self._buffer[start:]
        return sentences

    def flush(self) -> str | None:
        rest = self._buffer.strip()
        self._buffer = ""
        return rest or None
