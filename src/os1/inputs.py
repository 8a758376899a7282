"""Cleaning what the user typed or pasted before it reaches the model or the database."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# C0/C1 control characters except tab and newline; they garble the terminal and the prompt.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


@dataclass(frozen=True)
class CleanInput:
    text: str
    truncated_from: int | None  # original length in characters when cut
    removed_controls: int


def decode_input(raw: bytes | str) -> str:
    """Bytes or a surrogate-escaped str (invalid UTF-8 from a terminal) to clean Unicode."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    try:
        raw.encode("utf-8")
        return raw
    except UnicodeEncodeError:
        # Lone surrogates: sys.stdin uses surrogateescape for bytes that are not UTF-8.
        return raw.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def clean_input(raw: bytes | str, max_chars: int) -> CleanInput:
    text = decode_input(raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ANSI_ESCAPE.sub("", text)
    text, removed = _CONTROL.subn("", text)
    text = unicodedata.normalize("NFC", text).strip()
    truncated_from = None
    if len(text) > max_chars:
        truncated_from = len(text)
        text = text[:max_chars].rstrip()
    return CleanInput(text=text, truncated_from=truncated_from, removed_controls=removed)
