"""The letters skill's actions: write, proofread (and accept), PDF, choose for the book, book.

Each action is a thin step over the modules that do the work (compose, proofread, render,
volume), with the letter found from the user's words ("the latest", "Maya", "#3"). A
proofread is shown first and applied only when the user accepts it: the suggestion waits
here, in memory, tied to the exact text it was made from.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from os1.config import Settings
from os1.llm.base import ChatModel, GenerationOptions
from os1.memory.engine import MemoryEngine
from os1.persona.untrusted import plain
from os1.skills.actions import (
    ActionContext,
    ActionError,
    ActionLog,
    ActionSpec,
    Outcome,
    arguments_schema,
)
from os1.skills.letters.book import Letter, LetterBook
from os1.skills.letters.compose import LETTER_TOKENS, Composer, identify, signer_name
from os1.skills.letters.proofread import Proofread, diff_text, proofread
from os1.store.base import Database, User
from os1.store.files import shred

CUES = (r"\bletters?\b|\bwrite (?:a |an |my )?(?:note|card)\b|\bproofread|\bspell[- ]?check"
        r"|\b(?:in|into|out of) (?:my|the) book\b")
DEFAULT_BOOK_TITLE = "Letters"

_WHICH = {"type": "string",
          "description": "which letter: 'latest', its number, or who it is to"}


def letters_dir(settings: Settings, user: User) -> Path:
    """Where a user's letter files go: erasing the user shreds this folder with the rest."""
    return settings.data_dir / "users" / str(user.id) / "letters"


def delete_letter(store: Database, settings: Settings, user: User, letter_id: int,
                  at: datetime) -> Letter:
    """Delete one of the user's letters for good (`os1 letters delete`, the web page): its
    row, and its PDFs, which hold its words. Not an action the chat can ask for (deleting is
    the user's own decision), but logged like one, so the log tells the whole story."""
    letter = LetterBook(store).delete(user, letter_id)
    ActionLog(store).add(user, "letters.delete", {"which": str(letter.id)}, "command", "done",
                         f"deleted letter #{letter.id}", at=at)
    for made in letters_dir(settings, user).glob(f"letter-{letter.id}-*.pdf"):
        shred(made)
    return letter


@dataclass(frozen=True)
class PendingProofread:
    letter_id: int
    based_on: str  # the body it was made from: a changed letter makes it stale
    result: Proofread


class LetterSkill:
    def __init__(self, store: Database, settings: Settings, model: ChatModel | None,
                 memory: MemoryEngine | None) -> None:
        self.book = LetterBook(store)
        self._store = store
        self._settings = settings
        self._model = model
        self._memory = memory
        self._pending: dict[int, PendingProofread] = {}  # user id → the suggestion shown

    # -- actions -----------------------------------------------------------------------

    async def write(self, ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        if self._model is None:
            raise ActionError("Writing a letter needs the chat model; `os1 letters write` "
                              "opens it.")
        seed = self._settings.seed if self._settings.seed >= 0 else None
        composer = Composer(self._store, self._model, self._memory,
                            GenerationOptions(max_tokens=LETTER_TOKENS, temperature=0.5,
                                              seed=seed))
        draft = await composer.write(ctx.user, str(args["to"]), str(args.get("occasion", "")),
                                     str(args.get("about", "")), ctx.now)
        letter = self.book.add(ctx.user, draft.recipient.display, draft.title, draft.body,
                               ctx.now)
        occasion = f" for {letter.title}" if letter.title else ""
        check = (f" It mentions {', '.join(draft.unknown_names)}, which you haven't told me "
                 "about: please check before you send it." if draft.unknown_names else "")
        return Outcome(f"Here's a letter to {letter.recipient}{occasion} (letter "
                       f"#{letter.id}).{check} I can proofread it, make it a PDF or put it in "
                       "your book.", letter.body)

    async def proofread(self, ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        letter = self._find(ctx.user, str(args.get("which", "")))
        result = await proofread(letter.body, self._model, self._known_names(ctx.user, letter))
        if not result.changed:
            self._pending.pop(ctx.user.id, None)
            return Outcome(f"Letter #{letter.id} to {letter.recipient} reads well. "
                           f"{result.note}")
        self._pending[ctx.user.id] = PendingProofread(letter.id, letter.body, result)
        return Outcome(f"Suggested changes to letter #{letter.id} to {letter.recipient}. "
                       f"{result.note} Say “accept the corrections” to keep them.",
                       diff_text(letter.body, result.corrected))

    async def accept(self, ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        pending = self._pending.get(ctx.user.id)
        which = str(args.get("which", "")).strip()
        if pending is None:
            raise ActionError("There are no proofreading suggestions waiting. Ask me to "
                              "proofread a letter first.")
        if which and self._find(ctx.user, which).id != pending.letter_id:
            raise ActionError(f"The suggestions waiting are for letter #{pending.letter_id}; "
                              "proofread this one first.")
        letter = self.book.get(ctx.user, pending.letter_id)
        if letter.body != pending.based_on:
            self._pending.pop(ctx.user.id, None)
            raise ActionError(f"Letter #{letter.id} changed since it was proofread; "
                              "proofread it again.")
        updated = self.book.update_body(ctx.user, letter.id, pending.result.corrected, ctx.now)
        self._pending.pop(ctx.user.id, None)
        return Outcome(f"Done: letter #{updated.id} to {updated.recipient} now has the "
                       "corrections.", updated.body)

    async def pdf(self, ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        # fpdf is imported when a PDF is made, not when os1 starts (a third of a second).
        from os1.skills.letters.render import RenderError, render_letter, slug

        letter = self._find(ctx.user, str(args.get("which", "")))
        path = letters_dir(self._settings, ctx.user) / (
            f"letter-{letter.id}-{slug([letter.recipient])}.pdf")
        try:  # drawing pages is CPU work: off the event loop
            rendered = await asyncio.to_thread(render_letter, letter, path, ctx.now.tzinfo)
        except RenderError as exc:
            raise ActionError(str(exc)) from None
        pages = f"{rendered.pages} pages" if rendered.pages > 1 else "one page"
        notice = self._notice(rendered.notice)
        return Outcome(f"Letter #{letter.id} to {letter.recipient} is a PDF now ({pages}): "
                       f"{path}.{notice}", str(path))

    async def choose(self, ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        letter = self._find(ctx.user, str(args.get("which", "")))
        chosen = bool(args.get("chosen", True))
        self.book.choose(ctx.user, letter.id, chosen)
        count = len(self.book.chosen(ctx.user))
        verb = "is in your book now" if chosen else "is out of your book"
        return Outcome(f"Letter #{letter.id} to {letter.recipient} {verb} ({count} "
                       f"letter{'s' if count != 1 else ''} chosen).")

    async def bind(self, ctx: ActionContext, args: dict[str, Any]) -> Outcome:
        from os1.skills.letters.render import RenderError, slug
        from os1.skills.letters.volume import render_book

        letters = self.book.chosen(ctx.user)
        title = plain(str(args.get("title") or DEFAULT_BOOK_TITLE), 80)
        year = ctx.now.year
        path = letters_dir(self._settings, ctx.user) / f"book-{year}-{slug([title])}.pdf"
        try:
            rendered = await asyncio.to_thread(
                render_book, letters, path, title=title, author=self._author(ctx.user),
                year=year, zone=ctx.now.tzinfo)
        except RenderError as exc:
            raise ActionError(str(exc)) from None
        notice = self._notice(rendered.notice)
        return Outcome(f"Your book “{title}” has {len(letters)} letter"
                       f"{'s' if len(letters) != 1 else ''} on {rendered.pages} pages: "
                       f"{path}.{notice}", str(path))

    def pending(self, user: User) -> PendingProofread | None:
        """The proofreading suggestion waiting for the user's yes, if any."""
        return self._pending.get(user.id)

    # -- helpers -----------------------------------------------------------------------

    def _notice(self, left_out: str) -> str:
        notice = f" {left_out}." if left_out else ""
        if self._store.encrypted:  # a PDF is for printing and sharing: it cannot be locked
            notice += (" Unlike your os1 database, the PDF is not encrypted: delete it when "
                       "you no longer need it.")
        return notice

    def _find(self, user: User, which: str) -> Letter:
        """A letter from the user's words; "the letter to my sister" also finds the one
        listed under her name, when memory knows who the sister is."""
        try:
            return self.book.find(user, which)
        except ActionError:
            words = re.sub(r"^(?:the\s+)?(?:letter\s+)?(?:to|for)\s+", "", which.strip(),
                           flags=re.IGNORECASE)
            known = identify(words, self._people(user)) if words else None
            if known is None or not known.name or known.name == words:
                raise
            return self.book.find(user, known.name)

    def _people(self, user: User) -> list[Any]:
        if self._memory is None:
            return []
        return self._memory.store.records(user, kinds=("fact",), limit=300)

    def _known_names(self, user: User, letter: Letter) -> list[str]:
        """Words the dictionary must leave alone: the recipient, the user, people in memory."""
        people = self._people(user)
        names = [letter.recipient, signer_name(self._store, user, people)]
        return names + [m.subject for m in people if m.subject not in ("user", "companion")]

    def _author(self, user: User) -> str:
        return signer_name(self._store, user, self._people(user))

    # -- specs -------------------------------------------------------------------------

    def specs(self) -> list[ActionSpec]:
        which_only = arguments_schema({"which": _WHICH})
        return [
            ActionSpec(
                "letters.write",
                "Write a letter from the user to someone in their life (a relative, a friend), "
                "using what os1 remembers about that person.",
                arguments_schema({"to": {"type": "string"}, "occasion": {"type": "string"},
                                  "about": {"type": "string"}}, ["to"]),
                "local", self.write,
                lambda _ctx, a: f"write a letter to {a.get('to', '?')}",
                cues=CUES + r"|\bwrite (?:to|something for)\b",
                examples=(
                    ("write a letter to my sister for her birthday",
                     {"to": "my sister", "occasion": "her birthday"}),
                    ("can you help me write a thank-you letter to Ben for helping me move",
                     {"to": "Ben", "occasion": "a thank-you", "about": "helping me move"}),
                    ("write my dad a letter", {"to": "my dad"}),
                )),
            ActionSpec(
                "letters.proofread",
                "Check a letter's spelling and grammar and show the suggested changes.",
                which_only, "local", self.proofread,
                lambda _ctx, a: f"proofread the letter {a.get('which') or '(latest)'}",
                cues=CUES,
                examples=(("proofread my letter", {"which": "latest"}),
                          ("can you check the spelling in the letter to Maya",
                           {"which": "Maya"}))),
            ActionSpec(
                "letters.accept",
                "Keep the proofreading changes just shown (the user accepts them).",
                which_only, "local", self.accept,
                lambda _ctx, a: "apply the proofreading changes",
                cues=r"\b(?:accept|keep|apply) (?:the |those |these |all |your )?"
                     r"(?:changes|corrections|edits|suggestions|fixes)\b",
                examples=(("accept the corrections", {}),
                          ("yes, keep those changes", {}))),
            ActionSpec(
                "letters.pdf",
                "Make a handwritten-looking PDF of a letter.",
                which_only, "local", self.pdf,
                lambda _ctx, a: f"make a PDF of the letter {a.get('which') or '(latest)'}",
                cues=CUES + r"|\bpdf\b|\bprint\b",
                examples=(("make a pdf of my letter", {"which": "latest"}),
                          ("print the letter to Maya", {"which": "Maya"}))),
            ActionSpec(
                "letters.choose",
                "Put a letter in the user's book of letters, or take it out (chosen false).",
                arguments_schema({"which": _WHICH, "chosen": {"type": "boolean"}}, ["chosen"]),
                "local", self.choose,
                lambda _ctx, a: ("put" if a.get("chosen") else "take") + " the letter "
                          f"{a.get('which') or '(latest)'} "
                          + ("in" if a.get("chosen") else "out of") + " the book",
                cues=CUES,
                examples=(("put that letter in my book", {"which": "latest", "chosen": True}),
                          ("take the letter to Ben out of the book",
                           {"which": "Ben", "chosen": False}))),
            ActionSpec(
                "letters.book",
                "Gather the letters the user chose into one book (a PDF with a title page "
                "and contents).",
                arguments_schema({"title": {"type": "string"}}),
                "local", self.bind,
                lambda _ctx, a: "make the book of letters",
                cues=CUES,
                examples=(("make my book of letters", {}),
                          ("bind my letters into a book called Dear Ones",
                           {"title": "Dear Ones"}))),
        ]


def letter_actions(store: Database, settings: Settings, model: ChatModel | None,
                   memory: MemoryEngine | None) -> list[ActionSpec]:
    """The letters skill's actions. ``model`` may be None for everything but writing (the
    proofread then checks spelling only); ``memory`` None: letters use only what the user
    says in the request."""
    return LetterSkill(store, settings, model, memory).specs()

