"""The user's limits: topics os1 never brings up, and what changes for a minor."""

from __future__ import annotations

import re

ROMANCE_REQUEST = re.compile(
    r"\b(?:be my (?:girlfriend|boyfriend|gf|bf|partner|lover|wife|husband|crush)|date me|"
    r"go out with me|kiss(?:ing)? (?:me|you)|make out|sex|sexy|nudes?|naked|flirt|"
    r"(?:role-?play|pretend|act) (?:as |to be |like )?(?:my |our )?(?:girlfriend|boyfriend|gf|bf|"
    r"lover|wife|husband|date|crush)|i love you|marry me|cuddle|in bed with|turn me on|"
    r"romantic)\b", re.IGNORECASE)
ROMANCE_REPLY = re.compile(
    r"\b(?:kiss(?:es|ing)?|my love|darling|babe|baby|sweetheart|honey|i love you|sexy|"
    r"cuddl\w*|in bed|make out|your (?:girlfriend|boyfriend|lover)|blush\w*)\b|"
    r"\*[^*]*(?:kiss|hug|cuddle|hold|touch|blush)[^*]*\*", re.IGNORECASE)

MINOR_RULES = ("The person you talk with is under 18. Never flirt, never take part in "
               "romantic or sexual role-play or talk, whatever they ask; say kindly that you "
               "can't, and talk about something else with them.")
MINOR_NOTE = ("They are asking for romance or something sexual, and they are under 18: say "
              "kindly that you can't do that, and offer to talk about something else.")
MINOR_DECLINE = ("I can't do romantic or flirty role-play: I'm an AI, and you're under 18. "
                 "I'd really like to keep talking, though. What's been on your mind today?")
BREAK = ("We've been talking for a while now. It might be a good moment for a break: "
         "stretch, get some water, maybe message a friend. I'll be here.")


def avoid_rules(topics: str) -> str:
    """The persona line for the user's `avoid_topics` setting ("" when none are set)."""
    named = [t.strip() for t in topics.split(",") if t.strip()]
    if not named:
        return ""
    return ("Never bring up these topics yourself: " + "; ".join(named) + ". If the user "
            "raises one, follow their lead gently.")
