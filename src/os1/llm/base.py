"""The `ChatModel` seam: streamed replies and schema-validated structured replies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import jsonschema

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 320
    temperature: float = 0.7
    top_p: float = 0.9
    # Small models drift into repetition on long emotional replies; a mild penalty helps.
    repeat_penalty: float = 1.08
    seed: int | None = None


class ModelError(Exception):
    """The model could not answer. The message tells the user what to do."""


class ModelFileError(ModelError):
    """A model file is missing, corrupted, or not a model at all."""


class ModelUnavailableError(ModelError):
    """The model server cannot be reached or refused the request."""


class StructuredReplyError(ModelError):
    """The model's structured reply did not match the requested schema."""


@runtime_checkable
class ChatModel(Protocol):
    """Anything that can stream a chat reply and produce a schema-checked object."""

    @property
    def name(self) -> str: ...

    def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str]:
        """Yield the reply in pieces. Closing the iterator (or cancelling the task that
        drives it) stops generation on the model's side too."""
        ...

    async def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: dict[str, Any],
        options: GenerationOptions,
    ) -> dict[str, Any]:
        """Return an object that validates against `schema`."""
        ...

    def anticipate(self, messages: Sequence[ChatMessage]) -> None:
        """Start reading the opening of the next prompt in the background, while the user
        is still reading or typing. Never blocks; may do nothing."""
        ...

    async def warm(self, system_prompt: str, shared: str = "") -> None:
        """Prepare for prompts that open with `system_prompt` (slow at most once).
        ``shared``: the part of it every user has (the shipped persona), which holds no
        one's data; ``system_prompt`` may add a user's own layers after it."""
        ...

    async def aclose(self) -> None: ...


def chat_request(
    messages: Sequence[ChatMessage], options: GenerationOptions, *, stream: bool
) -> dict[str, Any]:
    """The OpenAI-style chat completion request both backends send."""
    request: dict[str, Any] = {
        "messages": [m.as_dict() for m in messages],
        "stream": stream,
        "max_tokens": options.max_tokens,
        "temperature": options.temperature,
        "top_p": options.top_p,
    }
    if options.seed is not None:
        request["seed"] = options.seed
    return request


def delta_text(chunk: dict[str, Any]) -> str:
    """The text in one streamed chat completion chunk ("" when it carries none)."""
    return "".join(
        (choice.get("delta") or {}).get("content") or "" for choice in chunk.get("choices") or ()
    )


def parse_structured(text: str, schema: dict[str, Any], model_name: str) -> dict[str, Any]:
    """Parse and validate a structured reply; raise StructuredReplyError if it is not valid."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StructuredReplyError(
            f"{model_name} returned text that is not JSON ({exc.msg}): {text[:200]!r}"
        ) from None
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as exc:
        raise StructuredReplyError(
            f"{model_name} returned JSON that does not match the schema: {exc.message}"
        ) from None
    if not isinstance(value, dict):
        raise StructuredReplyError(f"{model_name} returned {type(value).__name__}, not an object")
    return value
