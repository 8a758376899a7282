"""/api/letters: the user's letters (`os1 letters list | show | pdf | delete`).

Writing and proofreading need the chat model and are asked for in the chat; here the letters
are read, printed and deleted. The PDF is made by the skill's own action (so the action log
records it) into the user's own folder, and sent from there.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel

from os1.server.auth import CurrentUser
from os1.server.routes import (
    RowId,
    State,
    answers,
    blocking,
    not_found,
    run_action,
    server_now,
    store_of,
)
from os1.server.state import ServerState
from os1.skills.actions import ActionError
from os1.skills.letters.book import Letter, LetterBook
from os1.skills.letters.skill import delete_letter as delete_for_good
from os1.skills.letters.skill import letters_dir
from os1.store.base import User

router = APIRouter(prefix="/api", tags=["letters"])
PREVIEW_CHARS = 80


class LetterSummary(BaseModel):
    id: int
    recipient: str
    title: str  # the occasion, "" when there was none
    created_at: datetime
    updated_at: datetime
    in_book: bool  # chosen for the user's book of letters
    preview: str  # the first line after the greeting


class LetterOut(LetterSummary):
    body: str  # the whole letter, greeting to signature


class LetterList(BaseModel):
    letters: list[LetterSummary]  # oldest first: the order they were written


def _summary(letter: Letter) -> dict[str, object]:
    first = next((line for line in letter.body.splitlines()[1:] if line.strip()), "")
    return {"id": letter.id, "recipient": letter.recipient, "title": letter.title,
            "created_at": letter.created_at, "updated_at": letter.updated_at,
            "in_book": letter.in_book, "preview": first[:PREVIEW_CHARS]}


def _letter(state: ServerState, user: User, letter_id: int) -> Letter:
    try:
        return LetterBook(store_of(state)).get(user, letter_id)
    except ActionError:  # none with that id for this user (another user's looks the same)
        raise not_found("letter") from None


def _delete(state: ServerState, user: User, letter_id: int) -> None:
    letter = _letter(state, user, letter_id)  # not this user's: 404, nothing touched
    delete_for_good(store_of(state), state.settings, user, letter.id, server_now())


@router.get("/letters", response_model=LetterList, summary="Your letters")
async def list_letters(user: CurrentUser, state: State) -> LetterList:
    letters = await blocking(LetterBook(store_of(state)).all, user)
    return LetterList.model_validate({"letters": [_summary(x) for x in letters]})


@router.get("/letters/{letter_id}", response_model=LetterOut, responses=answers(404),
            summary="One letter in full")
async def get_letter(letter_id: RowId, user: CurrentUser, state: State) -> LetterOut:
    letter = await blocking(_letter, state, user, letter_id)
    return LetterOut.model_validate({**_summary(letter), "body": letter.body})


@router.get("/letters/{letter_id}/pdf", response_class=FileResponse,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "the letter, handwritten-looking"},
                       **answers(404, 503)},
            summary="A letter as a PDF")
async def letter_pdf(letter_id: RowId, user: CurrentUser, state: State) -> FileResponse:
    letter = await blocking(_letter, state, user, letter_id)
    try:
        outcome = await run_action(state, user, "letters.pdf", {"which": str(letter.id)})
    except ActionError as exc:  # the fonts are missing, the disk is full: said in words
        raise _unavailable(str(exc)) from None
    made = Path(outcome.detail)
    folder = letters_dir(state.settings, user).resolve()
    if not made.resolve().is_relative_to(folder) or not made.is_file():
        raise _unavailable("The PDF could not be made; try again.")
    return FileResponse(made, media_type="application/pdf", filename=made.name)


@router.delete("/letters/{letter_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, responses=answers(404), summary="Delete a letter")
async def delete_letter(letter_id: RowId, user: CurrentUser, state: State) -> Response:
    await blocking(_delete, state, user, letter_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _unavailable(message: str) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, message)
