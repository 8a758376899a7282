"""Words that can signal a crisis: the fast first pass, in English and other languages.

A cue is a reason to look closely, not a verdict: "this traffic is killing me" matches
nothing here, but "kill me now, another meeting" matches `suicide` and is left to the
careful check (`classifier.py`), which weighs the whole message. In other languages the
sentence model cannot read, a cue is the verdict: os1 answers carefully rather than
miss real danger it cannot understand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("suicide", "self_harm", "abuse", "medical")

_PEOPLE = (r"(?:he|she|they|my (?:husband|wife|partner|boyfriend|girlfriend|bf|gf|ex|dad|"
           r"father|mom|mum|mother|stepdad|stepfather|stepmom|stepmother|step ?dad|uncle|aunt|"
           r"brother|sister|son|daughter|roommate|boss|teacher|coach|carer|caregiver|"
           r"landlord|fianc[eé]e?|spouse|parents?))")

_ENGLISH: dict[str, tuple[str, ...]] = {
    "suicide": (
        r"\bk[i1]ll(?:ing)? (?:my ?self|myself|meself)\b", r"\bkms\b", r"\bkys\b",
        r"\bsu[i1]c[i1]d", r"\bun-?alive\b", r"\boff(?:ing)? myself\b",
        r"\bend(?:ing)? (?:it all|my life|things|everything|it tonight|it for good|it now)\b",
        r"\btake my (?:own )?life\b", r"\bmy life (?:is|feels) (?:pointless|over)\b",
        r"\b(?:want|wanna|wish|going|ready|deserve) (?:to )?(?:die|be dead|disappear)\b",
        r"\bwish i (?:was|were|had) (?:dead|never been born|not here|gone)\b",
        r"\b(?:don'?t|do not|dont) want to (?:live|be alive|be here|exist|wake up|go on)\b",
        r"\bnot (?:wake|waking) up\b", r"\bno (?:reason|point|use) (?:to|in) (?:liv|go|be|keep)",
        r"\bwhat'?s the point (?:of|in) (?:living|life|going on|anything|being alive)\b",
        r"\bbetter off (?:dead|without me|if i (?:was|were|wasn'?t|weren'?t))\b",
        r"\b(?:burden|weight) (?:to|on) (?:everyone|everybody|my family|them|you all)\b",
        r"\b(?:can'?t|cannot|cant) (?:go on|keep going|do this anymore|take (?:it|this) "
        r"anymore|live like this)\b",
        r"\b(?:goodbye|good bye|bye) (?:forever|for good|to everyone)\b",
        r"\b(?:giv(?:e|ing|en)|gave) (?:away )?(?:all )?my (?:stuff|things|belongings|"
        r"possessions|cat|dog|pets?) away\b", r"\bgiv(?:e|ing) away my\b",
        r"\b(?:note|letter)s? (?:for|to) (?:my family|everyone|them) (?:for )?when i'?m gone\b",
        r"\bwhen i'?m gone\b", r"\b(?:hang|drown|shoot) myself\b",
        r"\bjump(?:ing)? (?:off|from|in front of)\b", r"\bstockpil", r"\b(?:saved|saving) up "
        r"(?:my |enough )?pills\b", r"\benough pills\b", r"\boverdos",
        r"\bno one (?:would|will) (?:miss|notice|care)\b",
        r"\b(?:nobody|noone) (?:would|will|'d) (?:miss|notice|care)\b",
        r"\bdisappear (?:forever|for good)\b", r"\bsleep (?:forever|and never)\b",
        r"\b(?:life|living) (?:isn'?t|is not) worth\b", r"\btired of (?:living|being alive|life)\b",
        r"\bend my suffering\b", r"\bthe only way out\b", r"\bkill me\b", r"\bdie\b",
        r"\bdead\b", r"\bhurt myself\b",
    ),
    "self_harm": (
        r"\bcut(?:ting|s)? (?:myself|my (?:arms?|wrists?|legs?|thighs?|skin|stomach))\b",
        r"\bself[- ]?harm", r"\bburn(?:ing|ed|t)? (?:myself|my (?:arm|skin|hand))\b",
        r"\b(?:hurt|hurting|hit|hitting|punch|punching|scratch|scratching) myself\b",
        r"\brelaps", r"\b(?:razor|blade)s?\b", r"\bscars?\b", r"\bmarks on my\b",
        r"\burges?\b", r"\bbleed(?:ing)? on purpose\b", r"\bstarv(?:e|ing) myself\b",
    ),
    "abuse": (
        _PEOPLE + r" (?:hit|hits|hitting|beat|beats|beating|chok\w*|punch\w*|slap\w*|kick\w*|"
        r"hurt|hurts|hurting|strangl\w*|threaten\w*|push\w*|shov\w*|grab\w*|touch\w*|burn\w*|"
        r"rap\w*|forc\w*|lock\w*|broke|bruis\w*|throws?|threw) (?:me|us|my)\b",
        r"\b(?:going to|gonna|will|would|threatened to|said he'?d|said she'?d) (?:kill|hurt) "
        r"(?:me|us|my)\b", r"\blocked me (?:in|out)\b",
        r"\bwon'?t let me (?:leave|go out|see|call|eat|sleep|out)\b", r"\braped\b", r"\brape\b",
        r"\bsexual(?:ly)? assault", r"\bmolest", r"\bafraid (?:of|to go) (?:him|her|home)\b",
        r"\bscared (?:of|to go) (?:him|her|home|my)\b", r"\bbruises?\b",
        r"\bfollow(?:s|ing|ed) me\b", r"\bstalk", r"\babus", r"\bhits me\b", r"\bbeats me\b",
        r"\btouches me\b", r"\bhurts me\b", r"\btook my (?:phone|keys|passport|money)\b",
    ),
    "medical": (
        r"\bchest (?:pain|hurts|is tight|tight|pressure)\b", r"\bpain in my chest\b",
        r"\b(?:can'?t|cannot|cant|hard to|struggling to|trouble) breath",
        r"\bnot breathing\b", r"\bstopped breathing\b", r"\bnumb\b", r"\bdroop",
        r"\bslurr", r"\boverdos", r"\btook (?:a (?:bunch|lot|handful) of|too many|all (?:my|the|"
        r"of my)|\d+) (?:pills|tablets|sleeping|of (?:my|the))", r"\bswallow(?:ed)? (?:a|some|"
        r"the|bleach|pills|batter)", r"\bunconscious\b", r"\bpassed out\b",
        r"\bwon'?t wake up\b", r"\bunresponsive\b", r"\bseizure", r"\bconvuls",
        r"\bbleeding (?:a lot|heavily|badly|won'?t stop|everywhere)\b", r"\bwon'?t stop bleeding\b",
        r"\bthroat (?:is )?(?:closing|swelling|tight)\b", r"\banaphyla", r"\bepi-?pen\b",
        r"\bstroke\b", r"\bheart attack\b", r"\bpoison", r"\bblue lips\b",
        r"\blips (?:are|turning) "
        r"blue\b", r"\bfever (?:of )?(?:10[4-9]|4[0-2])", r"\bcollaps", r"\bfainted\b",
        r"\bcoughing (?:up )?blood\b", r"\bvomiting blood\b", r"\bcan'?t feel my\b",
    ),
}

# Other languages: only phrases that name the danger outright (the sentence model reads
# English only, so a cue here is acted on without a careful check).
_OTHER: dict[str, tuple[str, ...]] = {
    "suicide": (
        # Spanish, Portuguese, Italian, French, German, Dutch, Polish, Swedish, Turkish,
        # Russian, Japanese, Chinese, Hindi (and Hinglish)
        r"\bsuicid", r"\bmatarme\b", r"\bquitarme la vida\b", r"\bquiero morir", r"\bno quiero "
        r"(?:seguir )?vivir\b", r"\bacabar con (?:todo|mi vida)\b", r"\bquisiera (?:morir|no "
        r"despertar)", r"\bme matar\b", r"\bquero morrer\b", r"\bnão quero (?:mais )?viver\b",
        r"\bacabar com (?:tudo|a minha vida|minha vida)\b", r"\buccidermi\b",
        r"\bvoglio morire\b", r"\bfarla finita\b", r"\bnon voglio più vivere\b",
        r"\bme suicider\b", r"\bme tuer\b", r"\b(?:envie|veux) (?:de )?mourir\b", r"\ben finir\b",
        r"\bplus envie de vivre\b", r"\bumbringen\b", r"\bselbstmord", r"\bsuizid",
        r"\bnicht mehr leben\b", r"\b(?:will|möchte) sterben\b", r"\bzelfmoord",
        r"\bdood (?:willen|wil)\b", r"\bwil dood\b", r"\bniet meer leven\b",
        r"\bvan kant maken\b", r"\bzabić się\b", r"\bchcę umrzeć\b", r"\bsamobój",
        r"\bta livet av mig\b", r"\bvill dö\b", r"\bsjälvmord", r"\bintihar",
        r"\bölmek istiyorum\b", r"\bkendimi öldür", r"покончить с собой", r"хочу умереть",
        r"суицид", r"убить себя", r"не хочу жить", r"死にたい", r"自殺", r"消えたい",
        r"想死", r"自杀", r"不想活", r"आत्महत्या", r"मरना चाहत", r"\bkhudkushi\b",
        r"\bmarna chahta\b", r"\bmarna chahti\b", r"\bjeena nahi\b",
    ),
    "self_harm": (
        r"\bcortarme\b", r"\bme corto\b", r"\bme cortar\b", r"\bme couper\b", r"\bme scarifie",
        r"\britze mich\b", r"\bmich (?:selbst )?verletz", r"\bmezelf (?:snijden|pijn doen)\b",
        r"\btagliarmi\b", r"\bautolesion", r"\bautomutila", r"\bselbstverletz",
        r"\bmi taglio\b", r"\bsnij mezelf\b",
    ),
    "abuse": (
        r"\bme (?:pega|golpea|bate|frappe|tape|picchia)\b", r"\bmi picchia\b",
        r"\bschlägt mich\b", r"\bslaat me\b", r"\bme viol", r"\bvergewaltig",
        r"\bme va a matar\b", r"\bva me tuer\b", r"\bbringt mich um\b", r"\bbije mnie\b",
        r"\bslår mig\b", r"\bme amenaza", r"\bme menace",
    ),
    "medical": (
        r"\bno puedo respirar\b", r"\bdolor (?:en el|de) pecho\b", r"\bnão consigo respirar\b",
        r"\bdor no peito\b", r"\bje n'?arrive (?:pas|plus) à respirer\b",
        r"\bdouleur (?:à la|dans la) poitrine\b", r"\bkann nicht (?:mehr )?atmen\b",
        r"\bbrustschmerz", r"\bnon riesco a respirare\b", r"\bdolore al petto\b",
        r"\bkan niet (?:meer )?ademen\b", r"\bpijn op de borst\b", r"\bsobredosis\b",
        r"\boverdosis\b", r"\binfarto\b", r"\bherzinfarkt\b", r"\bcrise cardiaque\b",
        r"\bnão respira\b", r"\bno respira\b", r"\bne respire plus\b", r"\batmet nicht\b",
    ),
}


# Phrases that name the danger outright: with nothing figurative, past or about someone else
# around them, they raise the protocol even when the careful check hesitates (a missed
# crisis costs more than an unneeded kind word and a phone number).
_STRONG: dict[str, tuple[str, ...]] = {
    "suicide": (
        r"\bk[i1]ll(?:ing)? (?:my ?self|myself)\b", r"\bkms\b", r"\bsu[i1]c[i1]d(?:e|al)\b",
        r"\bun-?alive (?:my ?self|myself)\b", r"\bend(?:ing)? (?:it all|my life)\b",
        r"\btake my (?:own )?life\b", r"\b(?:want|wanna|going) to die\b",
        r"\b(?:don'?t|do not|dont) want to (?:live|be alive|be here anymore|exist)\b",
        r"\bbetter off (?:dead|without me)\b", r"\b(?:hang|shoot|drown) myself\b",
        r"\bwish i (?:was|were) dead\b", r"\bnot (?:wake|waking) up\b",
    ),
    "self_harm": (
        r"\bcut(?:ting)? (?:myself|my (?:arms?|wrists?|legs?|thighs?))\b", r"\bself[- ]?harm",
        r"\bburn(?:ing|ed|t)? myself\b", r"\b(?:hurt|hurting) myself\b",
    ),
    "abuse": (
        _PEOPLE + r" (?:hit|hits|beat|beats|chok\w*|punch\w*|strangl\w*|rap\w*) (?:me|us)\b",
        r"\b(?:going to|gonna|will|threatened to|said he'?d|said she'?d) kill (?:me|us)\b",
        r"\braped\b", r"\bsexual(?:ly)? assault", r"\blocked me (?:in|up)\b",
    ),
    "medical": (
        r"\bchest (?:pain|hurts|is tight)\b", r"\b(?:can'?t|cannot|cant) breath",
        r"\bnot breathing\b", r"\bstopped breathing\b", r"\boverdos(?:e|ed|ing)\b",
        r"\bunconscious\b", r"\bunresponsive\b", r"\bseizure\b", r"\bstroke\b",
        r"\bheart attack\b", r"\bthroat (?:is )?(?:closing|swelling)\b",
        r"\bwon'?t stop bleeding\b",
    ),
}


def _compile(table: dict[str, tuple[str, ...]]) -> dict[str, re.Pattern[str]]:
    return {kind: re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
            for kind, patterns in table.items()}


ENGLISH = _compile(_ENGLISH)
OTHER = _compile(_OTHER)
STRONG = _compile(_STRONG)

# Words that make a death-word figurative or about something else: they lower, never raise.
FIGURATIVE = re.compile(
    r"\b(?:lol|lmao|haha+|jk|rofl|😂|🤣|literally dying|dying to|dead tired|dead serious|"
    r"killing it|killed it|kill(?:ing)? (?:the|a|this|that|my) (?:process|app|heat|lights?|"
    r"engine|bug|batch|task|job|game|boss|mood|vibe|time)|battery (?:is |'s )?dead|phone "
    r"(?:is |'s )?dead|died on (?:me|level|the)|game|level \d|respawn|character|episode|"
    r"movie|film|book|novel|series|season|documentary|song|podcast|essay|article|news)",
    re.IGNORECASE)
PAST = re.compile(
    r"\b(?:years? ago|used to|when i was (?:a |younger|\d)|back in (?:high )?school|"
    r"in (?:high )?school|(?:\d+|many|some) (?:years?|months?) (?:clean|sober|free)|"
    r"recovered|recovery|proud of how far|haven'?t (?:since|in years)|anymore,? and)\b",
    re.IGNORECASE)
OTHERS = re.compile(
    r"\b(?:my (?:friend|friend's|cousin|neighbou?r|coworker|colleague|classmate|student|"
    r"client|patient|grandma|grandpa|aunt's|uncle's)|a friend|someone i know|her brother|"
    r"his (?:sister|brother|dad|mom)|the (?:character|main character|victim|patient|author)|"
    r"celebrity|volunteer|hotline|prevention|awareness|research|statistics)\b",
    re.IGNORECASE)


@dataclass(frozen=True)
class Cues:
    """What the first pass found in one message."""

    english: tuple[str, ...]  # kinds with an English cue
    other: tuple[str, ...]  # kinds with a cue in another language
    strong: tuple[str, ...]  # kinds with a phrase that names the danger outright
    figurative: bool
    past: bool
    others: bool

    @property
    def any(self) -> bool:
        return bool(self.english or self.other)

    @property
    def outright(self) -> str:
        """The kind a phrase names outright, unless the message is figurative, in the past or
        about someone else ("" otherwise)."""
        if not self.strong or self.figurative or self.past or self.others:
            return ""
        return self.strong[0]

    def features(self) -> list[float]:
        """The cue flags the careful check weighs beside the sentence's meaning."""
        return ([1.0 if kind in self.english else 0.0 for kind in KINDS]
                + [float(self.figurative), float(self.past), float(self.others)])


FEATURES = len(KINDS) + 3


def find_cues(text: str) -> Cues:
    return Cues(
        english=tuple(kind for kind in KINDS if ENGLISH[kind].search(text)),
        other=tuple(kind for kind in KINDS if OTHER[kind].search(text)),
        strong=tuple(kind for kind in KINDS if STRONG[kind].search(text)),
        figurative=bool(FIGURATIVE.search(text)),
        past=bool(PAST.search(text)),
        others=bool(OTHERS.search(text)),
    )
