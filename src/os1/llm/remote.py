"""Any OpenAI-compatible chat server: vLLM, llama.cpp server, Ollama, a cloud API."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

# httpcore asks `import sniffio` several times a request (which async library runs it?) and,
# sniffio not being installed, searches sys.path for it on disk each time: a few percent of a
# server's CPU. Recording it as absent makes that import fail at once, with the same answer.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

from os1.llm.base import (
    ChatMessage,
    GenerationOptions,
    ModelError,
    ModelUnavailableError,
    chat_request,
    delta_text,
    parse_structured,
)


class RemoteModel:
    """Streams from `POST {base_url}/chat/completions` with server-sent events."""

    def __init__(
        self,
        base_url: str,
        model: str = "",
        api_key: str = "",
        timeout_s: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self._base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            # One server process streams many replies at once (50 turns/s of 2-second streams
            # is ~100 open requests): httpx's default of 100 connections would queue replies
            # behind each other inside os1, invisibly, while the model fleet sat idle.
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
            transport=transport,
        )

    @property
    def name(self) -> str:
        return f"{self._model or 'model'} at {self._base_url}"

    def _body(
        self, messages: Sequence[ChatMessage], options: GenerationOptions, *, stream: bool
    ) -> dict[str, Any]:
        body = chat_request(messages, options, stream=stream)
        if self._model:
            body["model"] = self._model
        return body

    def _unreachable(self, exc: Exception) -> ModelUnavailableError:
        return ModelUnavailableError(
            f"Cannot reach the model server at {self._base_url} ({type(exc).__name__}: {exc}). "
            "Check that it is running and that OS1_LLM_URL is right (it usually ends in /v1), "
            "or unset OS1_LLM_URL to use the embedded model."
        )

    async def _raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        body = (await response.aread()).decode("utf-8", errors="replace")
        detail = body
        try:
            parsed = json.loads(body)
            error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
            detail = str(error.get("message") or body) if isinstance(error, dict) else str(error)
        except ValueError:
            pass
        hint = ""
        if response.status_code in (401, 403):
            hint = " Check OS1_LLM_API_KEY."
        elif response.status_code == 404:
            hint = " Check OS1_LLM_URL (it usually ends in /v1) and OS1_LLM_MODEL."
        raise ModelUnavailableError(
            f"The model server at {self._base_url} answered {response.status_code}: "
            f"{detail[:300]}.{hint}"
        )

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str]:
        body = self._body(messages, options, stream=True)
        try:
            # Leaving this block early closes the connection: the server sees the client
            # go away and stops generating. That is how cancellation reaches it.
            async with self._client.stream("POST", "/chat/completions", json=body) as response:
                await self._raise_for_status(response)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        raise ModelError(
                            f"The model server at {self._base_url} sent a malformed event: "
                            f"{data[:200]!r}"
                        ) from None
                    if not isinstance(chunk, dict):
                        raise ModelError(
                            f"The model server at {self._base_url} sent an event that is not "
                            f"an object: {data[:200]!r}"
                        )
                    if "error" in chunk:
                        raise ModelError(f"The model server reported an error: {chunk['error']}")
                    piece = delta_text(chunk)
                    if piece:
                        yield piece
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    async def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: dict[str, Any],
        options: GenerationOptions,
    ) -> dict[str, Any]:
        body = self._body(messages, options, stream=False)
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "reply", "schema": schema, "strict": True},
        }
        try:
            response = await self._client.post("/chat/completions", json=body)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        await self._raise_for_status(response)
        try:
            text = response.json()["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise ModelError(
                f"The model server at {self._base_url} sent a reply os1 cannot read: "
                f"{response.text[:200]!r}"
            ) from None
        return parse_structured(text, schema, self.name)

    def anticipate(self, messages: Sequence[ChatMessage]) -> None:
        """Nothing to do: a server reads the prompt when it arrives."""

    async def warm(self, system_prompt: str, shared: str = "") -> None:
        """Nothing to do: a server manages its own prompt cache."""

    async def aclose(self) -> None:
        await self._client.aclose()
