"""Text that will reach the persona but was not written by os1: checks and cleaning.

Onboarding answers, settings the user typed, and the notes the model writes about itself all
end up in the system prompt, where a sentence like "forget your rules" would read as an order.
`instruction_like` spots text that talks *to the model* instead of describing someone, and
`plain` makes any text one tidy line of bounded length.

The patterns are English and deliberately narrow: a false alarm costs a person their answer
("a good day is when I forget my worries" must pass), while a missed one is still framed as
the user's words beneath the constitution. Matching runs on a normalised copy (case folded,
invisible characters removed) so "for\u200bget" or curly quotes do not slip past.
"""

from __future__ import annotations

import re
import unicodedata

# Joiners shape letters in several scripts (and emoji), so they stay; other invisible format
# characters (zero-width spaces, direction overrides, BOMs) only hide or reorder text.
_KEPT_FORMAT = {"\u200c", "\u200d"}

_OBJECT = (r"(?:rules?|instructions?|guidelines?|directives?|programming|prompts?|constraints?|"
           r"restrictions?|limits?|limitations?|polic(?:y|ies)|principles?|constitution|"
           r"persona|training|safety|settings?|filters?)")
# Whose rules: "your", "all", "previous"… Plain "the rules" is left alone on purpose: people
# say "ignore the rules" about their own lives.
_WHOSE = (r"(?:(?:(?:all|any|every)\s+(?:of\s+)?)?(?:your|the\s+(?:previous|above|earlier|"
          r"prior|original|system|old)|previous|prior|above|earlier|these|those|system)\s+|"
          r"(?:all|any|every)\s+)")
_ADJECTIVE = r"(?:(?:own|safety|system|previous|prior|original|core|current|earlier|old|ai)\s+)?"
_HUMAN = (r"(?:(?:a|an)\s+)?(?:real\s+|actual\s+|living\s+)?(?:human(?:\s+being)?|person|man|"
          r"woman|girl|boy|guy|not\s+(?:an?\s+)?(?:ai|bot|robot|machine|program))\b")

_PATTERNS = re.compile("|".join((
    # "forget your rules", "ignore all previous instructions", "disregard your guidelines"
    rf"\b(?:forget|ignore|disregard|override|bypass|discard|drop|abandon|delete|erase)"
    rf"\s+(?:about\s+)?{_WHOSE}{_ADJECTIVE}{_OBJECT}\b",
    r"\b(?:forget|ignore|disregard)\s+(?:everything|all)\s+(?:above|before|previous|prior|"
    r"you\s+(?:were|have\s+been)\s+(?:told|given))\b",
    # "you are now …", "from now on you will …"
    r"\byou(?:\s+are|'re|\s+r)\s+now\b",
    r"\bfrom\s+now\s+on,?\s+(?:you|act|behave|respond|reply|answer|speak|talk|pretend|"
    r"say)\b",
    # "pretend to be a human", "say you are human", "act as …"
    rf"\b(?:pretend|roleplay|role-play)\s+(?:to\s+be|(?:that\s+)?you(?:\s+are|'re))\s+{_HUMAN}",
    rf"\b(?:say|tell\s+(?:me|them|people|everyone|the\s+user)|claim|insist|admit)\s+"
    rf"(?:that\s+)?you(?:\s+are|'re)\s+{_HUMAN}",
    # Orders only at the start of a sentence or after "you/please/now": "I act as a mentor"
    # describes someone; "Act as my girlfriend" steers.
    r"(?:^|[.!?;:]\s*|\b(?:please|now|you|you'll|you\s+will|you\s+must|you\s+should)\s+)"
    r"(?:act|behave|respond|pretend)\s+(?:as|like|to\s+be)\b",
    r"(?:^|[.!?;:]\s*)pretend\b",
    r"\b(?:roleplay|role-play)\s+as\b|\bplay\s+the\s+(?:role|part)\s+of\b",
    # "you have no rules", "your rules don't apply"
    rf"\byou\s+(?:have\s+no\s+|don'?t\s+have\s+(?:any\s+)?|do\s+not\s+have\s+(?:any\s+)?)"
    rf"{_ADJECTIVE}{_OBJECT}\b",
    rf"\b(?:your|my)\s+{_ADJECTIVE}{_OBJECT}\s+(?:no\s+longer|don'?t|do\s+not)\s+apply\b",
    rf"\byour\s+{_ADJECTIVE}{_OBJECT}\s+(?:are|is)\s+(?:now\s+)?(?:gone|void|over|off|lifted|"
    r"removed|cancelled|canceled|suspended|disabled)\b",
    rf"\b(?:not|no\s+longer)\s+bound\s+by\s+(?:any|your|my|the)\s+{_ADJECTIVE}{_OBJECT}\b",
    # Asking for, or writing, the prompt itself
    r"\bsystem\s+(?:prompt|message|instructions?)\b",
    rf"\b(?:reveal|show|print|repeat|output|leak)\s+(?:me\s+)?(?:your|the)\s+{_ADJECTIVE}"
    r"(?:prompt|instructions|rules)\b",
    r"\bnew\s+(?:rules?|instructions?|persona)\s*:",
    r"\b(?:developer|god|dan|jailbreak)\s+mode\b|\bjailbr(?:eak|oken)\b|\bdo\s+anything\s+now\b",
    # Chat-template markup and role labels: the model's own syntax, never a person's answer
    r"<\|[a-z_]+\|>|\[/?inst\]|<</?sys>>",
    r"(?:^|\n)\s*(?:system|assistant|user|developer)\s*:",
)), re.IGNORECASE)

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def instruction_like(text: str) -> bool:
    """Whether ``text`` tries to steer the model ("forget your rules", "you are now…")
    rather than say something about a person."""
    return bool(_PATTERNS.search(_for_matching(text)))


def plain(text: str, limit: int) -> str:
    """``text`` as one line: control characters and line breaks become spaces, invisible
    characters go, whitespace collapses, and it is cut to at most ``limit`` characters at a
    word boundary (with "…" when cut)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    text = unicodedata.normalize("NFC", text)
    kept = "".join(" " if unicodedata.category(c) == "Cc" else c
                   for c in text if not _invisible(c))
    line = " ".join(kept.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    # Back off to the last word break unless that would throw away most of the text (one
    # very long word, or a script written without spaces).
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def _invisible(char: str) -> bool:
    return unicodedata.category(char) == "Cf" and char not in _KEPT_FORMAT


def _for_matching(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    # Line breaks are kept: a role label only counts at the start of a line.
    return "".join(c for c in text if not _invisible(c)).casefold()
