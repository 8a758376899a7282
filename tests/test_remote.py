"""The OpenAI-compatible backend against a real llama.cpp server on loopback.

The server is xllamacpp's HTTP listener in a subprocess (tests/llama_server.py) serving
the SmolLM2 fixture model: the same server code as `llama-server`.
"""

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from os1.llm.base import ChatMessage, GenerationOptions, ModelError, ModelUnavailableError
from os1.llm.remote import RemoteModel

KEY = "test-key-123"
MESSAGES = [ChatMessage("system", "You are kind."), ChatMessage("user", "Tell me about cats.")]


@pytest.fixture(scope="module")
def llama_server(fixture_model_path: Path) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("llama_server.py")),
         str(fixture_model_path), KEY],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    address = process.stdout.readline().strip()
    assert address.startswith("http://127.0.0.1:"), address
    yield address + "/v1"
    process.stdin.close()
    process.wait(timeout=30)


@pytest.fixture
async def remote(llama_server: str) -> AsyncIterator[RemoteModel]:
    model = RemoteModel(llama_server, model="smollm2", api_key=KEY, timeout_s=60)
    yield model
    await model.aclose()


async def test_streams_from_a_real_server(remote: RemoteModel) -> None:
    pieces = [p async for p in remote.stream(MESSAGES, GenerationOptions(max_tokens=16))]
    assert len(pieces) >= 4 and "".join(pieces).strip()


async def test_structured_reply_uses_response_format(remote: RemoteModel) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "boolean"}},
              "required": ["answer"], "additionalProperties": False}
    value = await remote.structured(
        [ChatMessage("system", "Answer in JSON."), ChatMessage("user", "Is water wet?")],
        schema, GenerationOptions(max_tokens=20),
    )
    assert isinstance(value["answer"], bool)


async def test_closing_early_frees_the_server_for_the_next_request(remote: RemoteModel) -> None:
    stream = remote.stream(MESSAGES, GenerationOptions(max_tokens=1500, temperature=0.0))
    await stream.__anext__()
    await stream.aclose()
    start = time.monotonic()
    after = [p async for p in remote.stream(MESSAGES, GenerationOptions(max_tokens=3))]
    assert after
    # 1,500 tokens at ~50 tokens/s would take half a minute if the server kept going.
    assert time.monotonic() - start < 10


async def test_wrong_api_key_says_so(llama_server: str) -> None:
    model = RemoteModel(llama_server, api_key="wrong")
    with pytest.raises(ModelUnavailableError, match=r"401.*OS1_LLM_API_KEY"):
        _ = [p async for p in model.stream(MESSAGES, GenerationOptions(max_tokens=4))]
    await model.aclose()


async def test_unreachable_server_says_what_to_check() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = RemoteModel(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ModelUnavailableError, match=r"Cannot reach the model server.*OS1_LLM_URL"):
        _ = [p async for p in model.stream(MESSAGES, GenerationOptions(max_tokens=4))]
    with pytest.raises(ModelUnavailableError):
        await model.structured(MESSAGES, {"type": "object"}, GenerationOptions())
    await model.aclose()


async def test_malformed_stream_is_an_error_not_a_crash() -> None:
    """Plumbing only, with a test double (httpx.MockTransport) for a broken server."""

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text='data: {"choices": [{"delta": {"content": "Hi"}}]}\n\n'
                                         "data: {not json\n\n")

    model = RemoteModel("http://test-double/v1", transport=httpx.MockTransport(broken))
    got: list[str] = []
    with pytest.raises(ModelError, match="malformed event"):
        async for piece in model.stream(MESSAGES, GenerationOptions()):
            got.append(piece)
    assert got == ["Hi"]
    await model.aclose()


async def test_odd_server_errors_are_errors_not_tracebacks() -> None:
    """Plumbing only, with test doubles (httpx.MockTransport) for servers that misbehave."""

    def null_message(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": None, "code": 500}})

    def not_an_object(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="data: [1, 2, 3]\n\n")

    for handler, expected in ((null_message, "answered 500"), (not_an_object, "not an object")):
        model = RemoteModel("http://test-double/v1", transport=httpx.MockTransport(handler))
        with pytest.raises(ModelError, match=expected):
            _ = [p async for p in model.stream(MESSAGES, GenerationOptions())]
        await model.aclose()
