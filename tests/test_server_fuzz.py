"""The API fuzzed from its own OpenAPI document (schemathesis, in process over ASGI): every
operation, as a logged-in user, with generated bodies, paths and queries. No answer may be a
server error, and every answer must be one the document declares, in the shape it declares.

Bounded: a few examples per operation, so the whole file stays well under a minute. The app
is the real one on a real companion (the fixture model) and a fresh SQLite database per
operation."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from os1.app import close_companion
from os1.config import Settings
from os1.llm.embedded import EmbeddedModel
from server_helpers import app_with, bearer, server_settings, sign_up

__all__ = ["server_settings"]  # a fixture, used by name

EXAMPLES = 6  # per operation
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
async def fuzzed_app(server_settings: Settings, fixture_model: EmbeddedModel
                     ) -> AsyncIterator[FastAPI]:
    app = app_with(server_settings, fixture_model)
    yield app
    await close_companion(app.state.os1.companion)


def _fuzz(operation: Any, headers: dict[str, str], answers: Counter[int]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        answers[response.status_code] += 1

    run()


def _without_lifespan(app: FastAPI) -> Any:
    """The app with its start-up and shutdown left out: schemathesis would keep its lifespan
    open until the process exits (and close the companion then, after this test's fixture
    has). Nothing fuzzed needs the warm-up."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app(scope, receive, send)

    return asgi


def test_every_operation_answers_as_documented(fuzzed_app: FastAPI) -> None:
    """One Hypothesis run per operation (schemathesis's pytest plugin is not used: its lazy
    loader does not work with this pytest), failures gathered so one report lists them all.
    Each operation gets a user of its own: one that logs out or erases itself must not leave
    the rest fuzzing only the 401 path."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", _without_lifespan(fuzzed_app))
    client = TestClient(fuzzed_app)
    failures: list[str] = []
    answers: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        headers = bearer(sign_up(client, f"fuzzer{operations}"))
        try:
            _fuzz(operation, headers, answers)
        except (Exception, BaseExceptionGroup) as exc:  # keep going, report them all
            failures.append(f"{operation.label}: {exc}")
    print(f"{operations} operations, answers: {dict(sorted(answers.items()))}")
    assert operations >= 4
    assert not failures, "\n\n".join(failures)
    assert sum(n for code, n in answers.items() if code < 300) > operations  # not all refused


def test_the_document_covers_the_contract(fuzzed_app: FastAPI) -> None:
    document = TestClient(fuzzed_app).get("/api/openapi.json").json()
    paths = document["paths"]
    assert {"/api/accounts", "/api/sessions", "/api/sessions/current",
            "/api/health"} <= set(paths)
    sign_up_op = paths["/api/accounts"]["post"]
    assert {"201", "409", "413", "422", "429"} <= set(sign_up_op["responses"])
    secured = [op for ops in paths.values() for op in ops.values() if op.get("security")]
    assert all({"401", "429"} <= set(op["responses"]) for op in secured)


def test_ids_past_64_bits_are_not_server_errors(fuzzed_app: FastAPI) -> None:
    """What random generation finds only sometimes, asked every time: a path id too big for
    the database's integers must read as "no such thing" (or be refused), never a 500."""
    client = TestClient(fuzzed_app, raise_server_exceptions=False)
    headers = bearer(sign_up(client, "counter"))
    document = client.get("/api/openapi.json").json()
    asked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            numbers = [p["name"] for p in operation.get("parameters", [])
                       if p["in"] == "path" and p["schema"].get("type") == "integer"]
            for huge in (2**63, 2**64, -(2**63) - 1):
                url = path
                for name in numbers:
                    url = url.replace("{" + name + "}", str(huge))
                if url == path:
                    continue
                asked += 1
                response = client.request(method.upper(), url, headers=headers,
                                          json={"text": "x", "password": "x"})
                assert response.status_code < 500, f"{method.upper()} {url}: {response.text}"
    assert asked or not any("{" in path for path in document["paths"])
