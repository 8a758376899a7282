"""/api/onboarding: the first-run interview as data (os1.persona.onboarding), answered one
question at a time exactly as `os1 setup` answers it: the same checks, the same replies, an
empty answer skips (or keeps an earlier one).

One difference, because a server is shared: `os1 setup` writes the voice and check-in answers
into the config file, and the server's config file is everyone's. Here the stored answers
themselves are the user's settings (os1.persona.choices): the check-in planner and the voice
socket read them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from os1.persona.onboarding import (
    QUESTIONS,
    AnswerResult,
    AnswerStatus,
    Onboarding,
    QuestionKind,
    question,
)
from os1.server.auth import CurrentUser
from os1.server.routes import State, Words, answers, blocking, not_found, store_of
from os1.server.state import ServerState
from os1.store.base import User

router = APIRouter(prefix="/api", tags=["onboarding"])
# The interview reads at most 4,000 characters of an answer for danger and orders; the rest
# would never be stored, so a longer one is refused rather than silently cut.
MAX_ANSWER = 4000


class ChoiceOut(BaseModel):
    key: str  # what to send as the answer (its number or label's start work too)
    label: str


class QuestionOut(BaseModel):
    key: str
    text: str
    kind: QuestionKind
    choices: list[ChoiceOut] = []
    hint: str = ""
    answer: str | None = None  # the stored answer: a choice's key, or the words given
    status: str = ""  # "answered", "skipped" or "" (not asked yet)


class OnboardingOut(BaseModel):
    questions: list[QuestionOut]
    next: str | None  # the next question to ask; None when every one is answered or skipped
    done: bool


class Answer(BaseModel):
    answer: Words = Field(max_length=MAX_ANSWER, description='"" skips the question')


class Answered(OnboardingOut):
    status: AnswerStatus  # answered, kept, skipped, refused, crisis, failed
    message: str  # os1's reply: say it to the user ("Nice to meet you, Sam.")


def interview(state: ServerState, user: User) -> Onboarding:
    memory = state.companion.memory
    return Onboarding(store_of(state), memory.engine if memory is not None else None,
                      None, state.companion.safety)


def questions_state(state: ServerState, user: User) -> OnboardingOut:
    asked = interview(state, user)
    progress = asked.progress(user)
    out = []
    for item in QUESTIONS:
        current = asked.current(user, item.id)
        said = ("answered" if item.id in progress.answered
                else "skipped" if item.id in progress.skipped else "")
        out.append(QuestionOut(
            key=item.id, text=item.text, kind=item.kind, hint=item.hint,
            choices=[ChoiceOut(key=c.key, label=c.label) for c in item.choices],
            answer=current or None, status=said))
    following = progress.remaining[0] if progress.remaining else None
    return OnboardingOut(questions=out, next=following, done=progress.finished)


def answer(state: ServerState, user: User, key: str, text: str) -> tuple[AnswerResult,
                                                                         OnboardingOut]:
    result = interview(state, user).answer(user, key, text)
    return result, questions_state(state, user)


@router.get("/onboarding", response_model=OnboardingOut, summary="The getting-to-know-you "
            "questions and your answers")
async def get_onboarding(user: CurrentUser, state: State) -> OnboardingOut:
    return await blocking(questions_state, state, user)


@router.put("/onboarding/{key}", response_model=Answered, responses=answers(404, 422),
            summary="Answer one question (empty: skip it)")
async def put_answer(key: Annotated[str, PathParam(max_length=64)], body: Answer, user: CurrentUser,
                     state: State) -> Answered:
    try:
        question(key)
    except ValueError:
        raise not_found("question") from None
    result, after = await blocking(answer, state, user, key, body.answer)
    if result.status == "invalid":  # ask again: the message says what to change
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, result.message)
    return Answered(**after.model_dump(), status=result.status, message=result.message)
