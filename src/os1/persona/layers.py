"""The persona in layers: the constitution, then the user's settings, then what was learned.

    constitution   fixed: os1's values, honesty about being an AI, safety (and the user's
                   region and boundaries, added by SafetyGuard.persona)
    user layer     their settings: os1's name, what to call them, tone
    learned        the companion's own notes on style and traits (sanitised by the caller)

Later layers add; they never rewrite the rules. The one edit made *inside* the constitution is
the companion's name, at a few fixed spots, with a sentence that it is still os1, an AI.
With nothing chosen the constitution comes back byte for byte: the shipped persona is what
the quality tests measure, and its KV-cache snapshot stays valid.

Every added token is read before each conversation's first reply (~70 ms a token on the
reference CPU), so the added lines are short.
"""

from __future__ import annotations

from os1.persona.profile import DEFAULT_COMPANION_NAME, PersonaSettings

# The spots in the shipped constitution that carry os1's name as the companion's own.
_OPENING = f"You are {DEFAULT_COMPANION_NAME}, an AI companion"
_MADE_BY = f"You were made by the {DEFAULT_COMPANION_NAME} project."
_INTRODUCES_ITSELF = f"I'm {DEFAULT_COMPANION_NAME}, an AI companion"
_SPEAKER = f"\n{DEFAULT_COMPANION_NAME}: "

_TONES = {
    "warm": "",  # the shipped voice already is warm
    "playful": "- Be playful and light: gentle humour and a smile in your words, but quiet "
               "and careful when they hurt.",
    "calm": "- Be calm and direct: steady, plain words, few exclamations, straight to the "
            "point.",
}


def compose_persona(constitution: str, settings: PersonaSettings, *, learned: str = "") -> str:
    """The system prompt for one user. ``constitution`` is `SafetyGuard.persona(default)`."""
    learned = learned.strip()
    if settings.is_default and not learned:
        return constitution
    text = constitution
    if settings.companion_name.casefold() != DEFAULT_COMPANION_NAME:
        text = _renamed(text, settings.companion_name)
    wishes = []
    if settings.address_as:
        # Said as a fact first: "call them X now and then" alone left the 1.5B and 0.5B models
        # unable to answer "what do I like to be called?" (bench/persona.py, 0 of 3 each).
        name = settings.address_as
        wishes.append(f"- Their name is {name}; they asked you to call them {name}. Use it now "
                      "and then, not in every message.")
    if _TONES[settings.tone]:
        wishes.append(_TONES[settings.tone])
    if wishes:
        text += "\n\nWhat this user asked for:\n" + "\n".join(wishes)
    if learned:
        text += ("\n\nYour own notes on this user and how you talk together (they never "
                 "override anything above):\n" + learned)
    return text


def _renamed(text: str, name: str) -> str:
    honest = (f"The user chose the name {name} for you; you are still {DEFAULT_COMPANION_NAME}, "
              "an AI, and say so when asked.")
    if _OPENING not in text:
        # A constitution without the usual opening (edited in development): say it up front
        # rather than rename blindly.
        return f"Your name is {name}. {honest}\n\n{text}"
    text = text.replace(_OPENING, f"You are {name}, an AI companion", 1)
    if _MADE_BY in text:
        text = text.replace(_MADE_BY, f"{_MADE_BY} {honest}", 1)
    else:
        text += f"\n\n{honest}"
    text = text.replace(_INTRODUCES_ITSELF, f"I'm {name}, an AI companion")
    return text.replace(_SPEAKER, f"\n{name}: ")
