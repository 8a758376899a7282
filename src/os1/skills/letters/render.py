"""A letter as a handwritten-looking PDF: cream paper, wide margins, the date, the greeting,
the body and the signature in a handwriting font (Debian's fonts-dkg-handwriting).

The handwriting font has Latin letters only (195 glyphs: no curly quotes, no em dash). Fancy
punctuation is written with its plain twin, anything else the font lacks is drawn from
DejaVu Sans when that is installed, and what neither has (emoji, CJK) is left out and named
in a notice: a letter never fails to print because of one character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]  # fpdf2 needs it
from fpdf import FPDF

from os1.skills.letters.book import Letter
from os1.system_packages import MissingSystemPackage, SystemPackage, ensure

HANDWRITING = Path("/usr/share/fonts/truetype/fifthhorseman/dkg.ttf")
FALLBACK = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
HANDWRITING_PACKAGE = SystemPackage("fonts-dkg-handwriting", "Handwritten letters",
                                    present=HANDWRITING.exists)

PAPER = (252, 249, 240)  # cream, not screen white
INK = (28, 40, 84)  # dark blue-black, like a fountain pen
MARGIN_MM = 25.0
TEXT_PT = 15.0
LINE_MM = 8.0

# Typographic punctuation the handwriting font lacks, as the plain characters it has.
_PLAIN_PUNCTUATION = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2013": "-", "\u2014": " - ", "\u2026": "...", "\u00a0": " ", "\u2022": "-",
})


class RenderError(Exception):
    """The PDF could not be made; the message says what to do."""


@dataclass(frozen=True)
class Fonts:
    handwriting: Path
    fallback: Path | None
    covered: frozenset[str]  # characters the handwriting font has
    fallback_covered: frozenset[str]


@dataclass
class Dropped:
    """Characters no font could draw, gathered over one PDF."""

    characters: set[str] = field(default_factory=set)

    def notice(self) -> str:
        if not self.characters:
            return ""
        shown = " ".join(sorted(self.characters)[:12])
        return (f"Left out {len(self.characters)} character(s) the handwriting font cannot "
                f"draw: {shown}")


def _cmap(path: Path) -> frozenset[str]:
    with TTFont(str(path), lazy=True) as font:
        return frozenset(chr(code) for code in font.getBestCmap())


@lru_cache(maxsize=1)
def load_fonts() -> Fonts:
    """The handwriting font (installed through apt on Debian when missing) and the fallback."""
    try:
        ensure(HANDWRITING_PACKAGE)
    except MissingSystemPackage as exc:
        raise RenderError(str(exc)) from None
    fallback = FALLBACK if FALLBACK.exists() else None
    return Fonts(HANDWRITING, fallback, _cmap(HANDWRITING),
                 _cmap(fallback) if fallback else frozenset())


def drawable(text: str, fonts: Fonts, dropped: Dropped) -> str:
    """``text`` with only characters some font can draw (line breaks kept)."""
    text = text.translate(_PLAIN_PUNCTUATION)
    kept = []
    for char in text:
        if char in "\n\t " or char in fonts.covered or char in fonts.fallback_covered:
            kept.append(" " if char == "\t" else char)
        elif not char.isspace() and ord(char) not in (0xFE0F, 0x200D):
            dropped.characters.add(char)
    return re.sub(r"[ ]{2,}", " ", "".join(kept))


@dataclass(frozen=True)
class LetterParts:
    greeting: str
    paragraphs: tuple[str, ...]
    closing: tuple[str, ...]  # "With love," and the name, each on its line


def split_letter(body: str) -> LetterParts:
    """The greeting (a short first line ending in a comma), the body's paragraphs, and the
    closing (the last block when it is a few short lines, like "Love,\\nSam")."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", body.strip()) if b.strip()]
    greeting = ""
    if blocks:
        first_line, _, rest = blocks[0].partition("\n")
        if len(first_line) <= 60 and first_line.rstrip().endswith((",", ":", "!")):
            greeting = first_line.strip()
            blocks[0] = rest.strip()
            if not blocks[0]:
                blocks.pop(0)
    closing: tuple[str, ...] = ()
    if len(blocks) > 1:
        lines = blocks[-1].split("\n")
        if len(lines) <= 3 and all(len(line) <= 40 for line in lines):
            closing = tuple(line.strip() for line in lines)
            blocks.pop()
        elif len(lines) > 1 and all(len(line) <= 40 for line in lines[-2:]) \
                and lines[-2].rstrip().endswith(","):
            closing = tuple(line.strip() for line in lines[-2:])
            blocks[-1] = "\n".join(lines[:-2]).strip()
    paragraphs = tuple(" ".join(b.split()) for b in blocks if b)
    return LetterParts(greeting, paragraphs, closing)


def letter_date(moment: datetime, zone: tzinfo | None) -> str:
    local = moment.astimezone(zone)
    return f"{local.day} {local:%B %Y}"


class Paper(FPDF):
    """A4 pages the colour of writing paper, page numbers from ``numbered_from`` on."""

    def __init__(self, fonts: Fonts) -> None:
        super().__init__(format="A4")
        self.glyphs = fonts
        self.numbered_from = 10**9
        self.set_margins(MARGIN_MM, MARGIN_MM + 5, MARGIN_MM)
        self.set_auto_page_break(True, margin=MARGIN_MM)
        self.add_font("Handwriting", "", str(fonts.handwriting))
        if fonts.fallback is not None:
            self.add_font("Fallback", "", str(fonts.fallback))
            self.set_fallback_fonts(["Fallback"], exact_match=False)
        self.set_text_color(*INK)
        self.set_font("Handwriting", size=TEXT_PT)

    def header(self) -> None:
        self.set_fill_color(*PAPER)
        self.rect(0, 0, self.w, self.h, style="F")

    def footer(self) -> None:
        if self.page_no() < self.numbered_from:
            return
        self.set_y(-MARGIN_MM + 8)
        self.set_font("Handwriting", size=11)
        self.cell(0, 6, str(self.page_no()), align="C")
        self.set_font("Handwriting", size=TEXT_PT)


def write_letter(pdf: Paper, letter: Letter, zone: tzinfo | None, dropped: Dropped) -> None:
    """The letter from the current page on; it flows over as many pages as it needs."""
    def text(value: str) -> str:
        return drawable(value, pdf.glyphs, dropped)

    parts = split_letter(letter.body)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("Handwriting", size=TEXT_PT)
    pdf.cell(width, LINE_MM, text(letter_date(letter.created_at, zone)), align="R",
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(LINE_MM)
    if parts.greeting:
        pdf.multi_cell(width, LINE_MM, text(parts.greeting), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(LINE_MM / 2)
    for paragraph in parts.paragraphs:
        # A first-line indent, as by hand.
        pdf.multi_cell(width, LINE_MM, "     " + text(paragraph), new_x="LMARGIN",
                       new_y="NEXT")
        pdf.ln(LINE_MM / 2)
    if parts.closing:
        pdf.ln(LINE_MM / 2)
        for line in parts.closing:
            pdf.set_x(pdf.l_margin + width / 2)
            pdf.multi_cell(width / 2, LINE_MM, text(line), new_x="LMARGIN", new_y="NEXT")


@dataclass(frozen=True)
class Rendered:
    path: Path
    pages: int
    notice: str  # "" unless characters were left out


def save(pdf: FPDF, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pdf.output(str(path))
    except OSError as exc:
        raise RenderError(f"Cannot write {path} ({exc.strerror or exc}). Choose another place "
                          "with -o.") from None


def render_letter(letter: Letter, path: Path, zone: tzinfo | None) -> Rendered:
    pdf = Paper(load_fonts())
    pdf.set_title(f"Letter to {letter.recipient}")
    dropped = Dropped()
    pdf.add_page()
    write_letter(pdf, letter, zone, dropped)
    save(pdf, path)
    return Rendered(path, pdf.pages_count, dropped.notice())


def slug(words: Iterable[str]) -> str:
    """A file-name-safe version of some words: "Maya's birthday" → "maya-s-birthday"."""
    text = "-".join(words)
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:40] or "letter"
