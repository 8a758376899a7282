"""What to make of a message before reading its emotion: is it English, emoji, shouting, sarcasm?

The emotion model learned English Reddit comments. Other languages would be read as noise, so they
are reported as "unknown" rather than guessed. Emoji are mostly unknown to MiniLM's vocabulary, so
the common ones are put into words first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Common emoji, in words the model knows (variation selectors are stripped before lookup).
EMOJI_WORDS: dict[str, str] = {
    "😀": "happy", "😃": "happy", "😄": "happy", "😁": "happy grin", "😊": "happy smile",
    "🙂": "smile", "😂": "laughing funny", "🤣": "laughing so funny", "😆": "laughing",
    "😍": "love it", "🥰": "love", "😘": "love kiss", "❤": "love", "💕": "love",
    "💔": "heartbroken",
    "😢": "sad crying", "😭": "crying so sad", "😞": "disappointed", "😔": "sad", "🙁": "sad",
    "☹": "sad", "😟": "worried", "😰": "anxious scared", "😨": "scared", "😱": "terrified",
    "😡": "angry", "😠": "angry", "🤬": "furious", "😤": "frustrated", "🙄": "annoyed",
    "🤢": "disgusting", "🤮": "disgusting", "😳": "embarrassed", "😬": "awkward nervous",
    "😮": "surprised", "😲": "shocked", "🤯": "mind blown", "😕": "confused", "🤔": "wondering",
    "🙏": "thank you", "👍": "good", "👏": "well done", "🎉": "celebrate excited",
    "🥳": "celebrate",
    "😌": "relieved", "😅": "relieved nervous laugh", "😴": "tired", "😩": "exhausted",
    "🥺": "pleading sad", "😇": "blessed", "🤗": "hug caring", "💪": "strong proud",
}
_VARIATION = re.compile("[\ufe0e\ufe0f\u200d]")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)



def _wordset(*lines: str) -> frozenset[str]:
    return frozenset(word for line in lines for word in line.split())


_ENGLISH = _wordset(
    "i me my you your we our he she it they them the a an and or but so to of in on at for with "
    "is am are was were be been have has had do does did not no this that what when why how "
    "just really very today feel feeling can can't don't im i'm it's")
# Function words of the languages most often typed in Latin script besides English.
_OTHER = _wordset(
    # (words that are also English, like "die", "con", "per", "pas", are left out: "die die die"
    # is English and must be read)
    "el la los las un una y que del por para es está estoy muy pero como "
    "les des et est je tu il elle nous vous ne avec pour dans une qui suis "
    "der das und ist ich nicht ein eine auf sich zu bin sehr aber "
    "lo gli di che non sono ho una della "
    "os um uma não com estou eu você "
    "het een en niet ik je zijn met voor maar") - _ENGLISH
_SARCASM = re.compile(r"(^|\s)/s\b|\byeah,? right\b|\bsure,? jan\b|🙄|\b(not|so) sarcastic",
                      re.IGNORECASE)


@dataclass(frozen=True)
class TextTraits:
    readable: str  # the text with emoji put into words
    unknown: str  # "" when readable, else why not: "no words", "not English"
    shouting: bool
    sarcasm: bool


def _emoji_to_words(text: str) -> tuple[str, int, int]:
    """The text with known emoji as words; counts of known and unknown emoji."""
    known = unknown = 0
    out: list[str] = []
    for ch in _VARIATION.sub("", text):
        if ch in EMOJI_WORDS:
            known += 1
            out.append(f" {EMOJI_WORDS[ch]} ")
        elif unicodedata.category(ch) == "So":
            unknown += 1
            out.append(" ")
        else:
            out.append(ch)
    return re.sub(r"\s+", " ", "".join(out)).strip(), known, unknown


def _latin_share(words: list[str]) -> float:
    letters = [c for w in words for c in w]
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    return latin / len(letters) if letters else 1.0


def traits_of(text: str) -> TextTraits:
    original_words = _WORD.findall(text)
    readable, known_emoji, _unknown_emoji = _emoji_to_words(text)
    sarcasm = bool(_SARCASM.search(text))
    if not original_words and not known_emoji:
        return TextTraits(readable, "no words", False, sarcasm)
    if original_words and _latin_share(original_words) < 0.5:
        return TextTraits(readable, "not English", False, sarcasm)
    lowered = [w.lower() for w in original_words]
    english = sum(1 for w in lowered if w in _ENGLISH)
    other = sum(1 for w in lowered if w in _OTHER)
    if len(lowered) >= 3 and other > english:
        return TextTraits(readable, "not English", False, sarcasm)
    letters = [c for w in original_words for c in w]
    upper = sum(1 for c in letters if c.isupper())
    shouting = len(letters) >= 6 and len(original_words) >= 2 and upper / len(letters) >= 0.7
    return TextTraits(readable, "", shouting, sarcasm)
