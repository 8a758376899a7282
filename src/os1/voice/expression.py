"""How os1's delivery follows the user's feeling: a few named styles, scaled by the reading.

A companion that answers grief at a chirpy pace sounds like it was not listening; one that
mirrors panic or anger feeds it. So os1 does not copy the user's feeling, it answers it the
way a calm friend would:

- sadness, grief, disappointment, remorse → softer and slower, a little lower, with room
  between sentences (people who are low need time to take words in);
- fear, nervousness → calm and steady: slower, pauses, no rise in pitch (a steady voice is
  what settles anxiety; a bright one sounds dismissive);
- anger, annoyance → calm, slightly lower, not hurried (matching the heat escalates);
- joy, excitement, amusement → a little brighter and quicker, sharing the good news;
- neutral → the voice's own delivery.

The adjustments are small on purpose (at most ~12% rate and one semitone): big prosodic swings
on a synthetic voice sound like acting. A style is applied in full when the reading is clear
(|valence| ≥ 0.6) and half-way when the labels say it but valence is mixed. Feelings with no
style of their own (gratitude, surprise, confusion, …, or no label) get a gentle continuous
nudge from valence and arousal instead.
"""

from __future__ import annotations

from os1.voice.tts import Prosody

_LOW = Prosody(rate=0.88, pitch=-1.0, pause_s=0.25)
_ANXIOUS = Prosody(rate=0.92, pitch=0.0, pause_s=0.2)
_HEATED = Prosody(rate=0.95, pitch=-0.5, pause_s=0.15)
_BRIGHT = Prosody(rate=1.05, pitch=1.0, pause_s=0.0)

STYLES: dict[str, Prosody] = {
    **dict.fromkeys(("sadness", "grief", "disappointment", "remorse"), _LOW),
    **dict.fromkeys(("fear", "nervousness"), _ANXIOUS),
    **dict.fromkeys(("anger", "annoyance"), _HEATED),
    **dict.fromkeys(("joy", "excitement", "amusement"), _BRIGHT),
    "neutral": Prosody(),
}

_CLEAR_VALENCE = 0.6  # at or beyond this, a style applies in full


def prosody_for(emotions: tuple[str, ...], valence: float, arousal: float) -> Prosody:
    """The delivery for a reply to someone feeling `emotions` (GoEmotions labels), with the
    reading's valence (−1 … 1) and arousal (0 … 1)."""
    styles = [STYLES[label] for label in emotions if label in STYLES]
    if not styles:
        return _from_affect(valence, arousal)
    # Several labels (sadness and fear together) share the difference equally.
    style = Prosody(rate=_mean([s.rate for s in styles]),
                    pitch=_mean([s.pitch for s in styles]),
                    pause_s=_mean([s.pause_s for s in styles]))
    strength = 0.5 + 0.5 * min(1.0, abs(valence) / _CLEAR_VALENCE)
    return _toward(Prosody(), style, strength)


def _from_affect(valence: float, arousal: float) -> Prosody:
    """No named style: pleasant → a touch brighter, unpleasant → a touch slower with pauses,
    very activated → a touch calmer. Exactly neutral at valence 0 and ordinary arousal."""
    valence = min(max(valence, -1.0), 1.0)
    agitation = min(max((arousal - 0.6) / 0.4, 0.0), 1.0)
    return Prosody(rate=1.0 + 0.04 * valence - 0.05 * agitation,
                   pitch=0.5 * valence,
                   pause_s=0.2 * max(0.0, -valence))


def _toward(start: Prosody, end: Prosody, weight: float) -> Prosody:
    return Prosody(rate=start.rate + (end.rate - start.rate) * weight,
                   pitch=start.pitch + (end.pitch - start.pitch) * weight,
                   pause_s=start.pause_s + (end.pause_s - start.pause_s) * weight)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)
