"""The committed OpenAPI document of the agency API is the one the code serves, and declares every
answer an operation can give (it is fuzzed with schemathesis)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.agency import openapi


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(openapi.document())
    return parsed


def test_committed_openapi_document_does_not_drift_from_the_code() -> None:
    assert openapi.PATH.read_text(encoding="utf-8") == openapi.document(), (
        "run: python -m services.agency.openapi"
    )


def test_openapi_check_exits_zero_when_nothing_drifted() -> None:
    assert openapi.main(["--check"]) == 0


def test_every_operation_declares_its_refusals_as_problem_json(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            # An operation without parameters or body has nothing to refuse as invalid.
            invalid = {"422"} if method == "post" or operation.get("parameters") else set()
            expected = {"401", "403", "503"} | invalid | ({"404"} if "{ref}" in path else set())
            if method == "post":
                # A person's access or erasure request has no state to conflict with: no 409.
                expected |= {"400"} if path.startswith("/personal-data/") else {"400", "409"}
            assert expected <= codes, f"{method} {path} lacks {sorted(expected - codes)}"
            for code, response in operation["responses"].items():
                media = set(response.get("content", {}))
                if int(code) >= 400:
                    assert media == {"application/problem+json"}, f"{method} {path} {code}"
            assert operation["responses"]["503"]["headers"]["Retry-After"]


def test_personal_data_in_requests_is_marked(document: dict[str, Any]) -> None:
    registration = document["components"]["schemas"]["ApplicantContact"]["properties"]

    assert registration["phone"]["x-personal-data"] is True
    assert registration["name"]["x-personal-data"] is True
