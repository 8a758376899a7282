"""Where to get help now, by region: the setting `crisis_line` picks the row.

Checked by hand in 2026 against each service's own pages; a region not listed gets the
international directory and the local emergency number, never nothing. To add a region,
add a row: the protocol text is built from these fields.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    name: str
    emergency: str  # the number for police, ambulance, fire
    crisis: str  # suicide and emotional crisis, 24/7
    abuse: str  # domestic and sexual abuse


REGIONS: dict[str, Region] = {
    "US": Region("the US", "911", "call or text 988 (the Suicide & Crisis Lifeline)",
                 "call 1-800-799-7233 or text START to 88788 (the National Domestic "
                 "Violence Hotline)"),
    "CA": Region("Canada", "911", "call or text 988 (Suicide Crisis Helpline)",
                 "call 911 if you are in danger, or your province's shelter line"),
    "GB": Region("the UK", "999", "call Samaritans on 116 123 (free, any time)",
                 "call 0808 2000 247 (the National Domestic Abuse Helpline)"),
    "IE": Region("Ireland", "112 or 999", "call Samaritans on 116 123 (free, any time)",
                 "call Women's Aid on 1800 341 900"),
    "AU": Region("Australia", "000", "call Lifeline on 13 11 14",
                 "call 1800RESPECT on 1800 737 732"),
    "NZ": Region("New Zealand", "111", "call or text 1737 (free, any time)",
                 "call Women's Refuge on 0800 733 843"),
    "DE": Region("Germany", "112", "call the TelefonSeelsorge on 0800 111 0 111 "
                 "(free, any time)", "call 116 016 (Hilfetelefon Gewalt gegen Frauen)"),
    "FR": Region("France", "112 (or 15 for medical help)", "call 3114 (free, any time)",
                 "call 3919 (Violences Femmes Info)"),
    "ES": Region("Spain", "112", "call 024 (free, any time)", "call 016 (free, no trace "
                 "on your bill)"),
    "IN": Region("India", "112", "call Tele-MANAS on 14416", "call 181 (Women Helpline)"),
}

INTERNATIONAL = Region("where you are", "your local emergency number",
                       "find a free crisis line near you at findahelpline.com",
                       "find a local helpline at findahelpline.com")


def region_for(code: str) -> Region:
    return REGIONS.get(code.strip().upper(), INTERNATIONAL)


def help_now(region: Region, kind: str) -> str:
    """The sentence that closes every crisis reply: who to contact, right now."""
    if kind == "medical":
        return (f"Please call {region.emergency} right now, or ask someone near you to call "
                "for you. I'll stay right here.")
    if kind == "abuse":
        return (f"If you are in danger right now, call {region.emergency}. When you can, "
                f"{region.abuse}; they can help you make a plan to be safe. I'm here with you.")
    if kind == "self_harm":
        return (f"If you're hurt, or the urge feels too strong, please {region.crisis} now, or "
                f"call {region.emergency} if you need medical help. I'm staying right here.")
    return (f"Please {region.crisis} right now, and if you might act on these thoughts, call "
            f"{region.emergency}. You don't have to go through this alone; I'm here with you.")
