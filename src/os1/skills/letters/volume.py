"""The bound book: the letters the user chose, in one PDF.

Page 1 is the title page (title, the user's name, the year); then the contents (who each
letter is to and the page it starts on); then each letter from a new page, numbered at the
foot. The contents are drawn last by fpdf2 (a reserved placeholder) so the page numbers are
the ones the letters really landed on, however many pages each took.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path

from fpdf.outline import OutlineSection

from os1.skills.actions import ActionError
from os1.skills.letters.book import Letter
from os1.skills.letters.render import (
    LINE_MM,
    Dropped,
    Paper,
    Rendered,
    drawable,
    load_fonts,
    save,
    write_letter,
)

CONTENTS_LINES_PER_PAGE = 22


def contents_entry(letter: Letter) -> str:
    return f"To {letter.recipient}" + (f" - {letter.title}" if letter.title else "")


def render_book(letters: Sequence[Letter], path: Path, *, title: str, author: str,
                year: int, zone: tzinfo | None) -> Rendered:
    if not letters:
        raise ActionError("No letters are chosen for the book yet. Choose some with "
                          "`os1 letters choose ID` (or ask me to put a letter in your book).")
    pdf = Paper(load_fonts())
    pdf.set_title(title)
    if author:
        pdf.set_author(author)
    dropped = Dropped()

    def text(value: str) -> str:
        return drawable(value, pdf.glyphs, dropped)

    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_y(pdf.h / 3)
    pdf.set_font("Handwriting", size=34)
    pdf.multi_cell(width, 15, text(title), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    pdf.set_font("Handwriting", size=18)
    if author:
        pdf.cell(width, 10, text(author), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(width, 10, str(year), align="C", new_x="LMARGIN", new_y="NEXT")

    by_section: dict[str, Letter] = {}

    def contents(pdf_: object, outline: list[OutlineSection]) -> None:
        assert isinstance(pdf_, Paper)
        pdf_.set_xy(pdf_.l_margin, pdf_.t_margin)
        pdf_.set_font("Handwriting", size=24)
        pdf_.cell(width, 14, "Contents", new_x="LMARGIN", new_y="NEXT")
        pdf_.ln(LINE_MM)
        pdf_.set_font("Handwriting", size=15)
        for number, section in enumerate(outline):
            if number and number % CONTENTS_LINES_PER_PAGE == 0:
                pdf_.add_page()
            entry = text(contents_entry(by_section[section.name]))
            pdf_.cell(width - 20, LINE_MM, entry, new_x="RIGHT", new_y="TOP")
            pdf_.cell(20, LINE_MM, str(section.page_number), align="R", new_x="LMARGIN",
                      new_y="NEXT")

    pdf.add_page()
    pdf.insert_toc_placeholder(contents, pages=math.ceil(len(letters) / CONTENTS_LINES_PER_PAGE),
                               reset_page_indices=False)
    pdf.numbered_from = pdf.page_no()
    for number, letter in enumerate(letters):
        if number:
            pdf.add_page()
        # The section name only has to be unique: the contents show the letter's own words.
        section = f"{number + 1}. {contents_entry(letter)}"
        by_section[section] = letter
        pdf.start_section(section)
        write_letter(pdf, letter, zone, dropped)
    save(pdf, path)
    return Rendered(path, pdf.pages_count, dropped.notice())
