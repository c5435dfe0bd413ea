"""The notifications API's document is committed at contracts/openapi/notifications.json like the others:
it is the one the code serves, a check fails on drift, and it declares every answer the staff read gives
(the document is fuzzed with schemathesis, tests/security/test_fuzzing.py). The providers' receipt
endpoints are not in it: they exist only where their provider's secret is set, and answer the providers'
signatures, not bearer credentials (services/notifications/openapi.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.notifications import openapi


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(openapi.render())
    return parsed


def test_committed_openapi_document_does_not_drift_from_the_code() -> None:
    assert openapi.OUTPUT.read_text(encoding="utf-8") == openapi.render(), (
        "run: python -m services.notifications.openapi"
    )


def test_openapi_check_exits_zero_when_nothing_drifted() -> None:
    assert openapi.main(["--check"]) == 0


def test_openapi_check_exits_one_when_the_committed_document_drifted(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "notifications.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(openapi, "OUTPUT", stale)

    assert openapi.main(["--check"]) == 1


def test_the_messages_operation_declares_its_refusals_as_problem_json(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1/dossiers/{dossier_id}/messages"]["get"]

    assert {"200", "401", "404", "422", "503"} <= set(operation["responses"])
    for code, response in operation["responses"].items():
        if int(code) >= 400:
            assert set(response["content"]) == {"application/problem+json"}, code
            schema = response["content"]["application/problem+json"]["schema"]
            assert {"status", "reason", "detail"} <= set(schema["required"]), code
    assert operation["responses"]["401"]["headers"]["WWW-Authenticate"]
    assert operation["security"] == [{"HTTPBearer": []}]


def test_the_document_describes_no_field_that_could_hold_personal_data(document: dict[str, Any]) -> None:
    shown = set(document["components"]["schemas"]["MessageOutcome"]["properties"])

    assert not shown & {"to", "address", "phone", "email", "body", "text", "subject", "parameters"}
