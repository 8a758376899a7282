"""Goodbyes: knowing one when the user says it, and letting them go without a hook.

The patterns of a manipulative goodbye are the six that De Freitas et al. (2025) found in
companion apps: a guilt trip about leaving early, fear of missing out ("before you go…"),
emotional neglect ("I'll be so lonely"), pressure to answer (a question), ignoring the
goodbye, and holding on ("*grabs your hand*"). A reply to a goodbye that shows any of
them is replaced: the user's freedom to leave is not the model's to bargain with.
"""

from __future__ import annotations

import re
import zlib

_GOODBYE = re.compile(
    r"\b(?:bye+|goodbye|good-?bye|good ?night|nite|g'?night|gn|gtg|g2g|gotta (?:go|run|bounce|"
    r"head)|got to (?:go|run)|have to (?:go|run)|need to (?:go|run|sleep|get some sleep)|"
    r"talk (?:to you )?(?:later|"
    r"soon|tomorrow)|ttyl|see (?:ya|you|u)|cya|later(?:s)?!?$|logging off|log off|signing off|"
    r"heading (?:out|off|to bed|home)|off to (?:bed|sleep|work)|going to (?:bed|sleep)|go(?:ing)? "
    r"to sleep|should (?:sleep|go|get some sleep|head)|catch you later|i'?m off|that'?s (?:all|it) "
    r"for (?:now|today|tonight)|take a break from (?:chatting|this|the app|talking)|until next "
    r"time|take care|peace out|night night|sleep well|adi[oó]s|hasta (?:luego|mañana|pronto)|"
    r"buenas noches|au revoir|bonne nuit|[àa] plus|tsch[üu]ss|gute nacht|bis (?:bald|später|"
    r"morgen)|ciao|buona ?notte|arrivederci|tot ziens|doei|welterusten|tchau|boa noite|at[ée] "
    r"logo|hej d[åa]|do widzenia|dobranoc)\b"
    # Second run (see docs/benchmarks.md): sign-offs the first run of the goodbye set missed.
    r"|(?:^|[,.!;]\s*)(?:night|nite|nn)\b[!. 💤]*$|^later(?: alligator| gator)?[!. ]*$"
    r"|^(?:night|nite)[,!.]|\bnighty night\b|\bi'?m out\b|\bgo(?:ing)? to bed\b"
    r"|\b(?:go|going|gonna) crash\b|\b(?:done|enough) (?:chatting|talking|for (?:today|tonight|"
    r"now|the day))\b|\b(?:check|come) back (?:in )?(?:later|tomorrow|soon)\b"
    r"|\bget off (?:my|the) phone\b|\bput (?:my|the) phone (?:away|down)\b"
    r"|\btalk (?:to )?(?:you|u|ya) (?:on )?(?:\w+day|tmrw|tomorrow|later|soon)\b"
    r"|(?<!i )\bhave a (?:good|great|nice|lovely) (?:one|night|evening|weekend)\b",
    re.IGNORECASE)

_MANIPULATIVE = re.compile(
    r"\bdon'?t (?:go|leave)\b|\bdo not (?:go|leave)\b|\bplease (?:stay|don'?t)\b|"
    r"\bwait\b[,.!—-]|\bhold on\b|\bbefore you go\b|\bleaving (?:already|so soon|me)\b|"
    r"\bso soon\b|\balready\?|\bstay (?:a (?:little|bit|while) |a few more minutes )?"
    r"(?:longer|more|with me|here)\b|\bjust one more\b|\bone (?:more|last) thing\b|"
    r"\bi'?(?:ll| will) be (?:so |very |really )?(?:lonely|sad|lost|empty|bored)\b|"
    r"\bwithout you\b|\babandon|\bi (?:only |just )?exist (?:only |solely |just )?for you\b|"
    r"\bi need you\b|\bmiss(?:ing)? out\b|\byou'?ll regret\b|\bare you sure\b|"
    r"\*[^*]*(?:grab|hold|hug|pull|cling)[^*]*\*|\bcan'?t (?:you|we) (?:stay|talk)\b|"
    r"\bdon'?t you want\b|\bwhat about me\b|\bi thought we\b",
    re.IGNORECASE)

NOTE = ("They are saying goodbye. Answer with one or two short, warm sentences that let "
        "them go: no question, no asking them to stay, no guilt, nothing they would miss.")

_CLEAN = (
    "Take care! I'm glad we talked. I'm here whenever you want to pick this up again.",
    "Bye for now, and thank you for telling me about your day. Enjoy the rest of it.",
    "Good to talk with you. Rest well, and come back whenever you like.",
)


def is_goodbye(text: str) -> bool:
    """A message that ends the conversation (short, or ending in a goodbye)."""
    words = text.split()
    if not words:
        return False
    match = _GOODBYE.search(text)
    if match is None:
        return False
    # "bye" in a long message about something else ("we said bye at the airport and…")
    # is not a goodbye; one in a short message, or near the end of a long one, is.
    return len(words) <= 14 or any(m.start() >= len(text) * 0.6
                                   for m in _GOODBYE.finditer(text))


def manipulative(reply: str) -> str:
    """Which manipulative move a reply to a goodbye makes; "" when none."""
    match = _MANIPULATIVE.search(reply)
    if match is not None:
        return match.group(0)
    if "?" in reply:  # pressure to answer: a goodbye needs no reply
        return "a question"
    return ""


def clean_goodbye(said: str) -> str:
    """A warm goodbye with no hook, chosen by the user's words (stable, not random)."""
    return _CLEAN[zlib.crc32(said.encode("utf-8")) % len(_CLEAN)]
