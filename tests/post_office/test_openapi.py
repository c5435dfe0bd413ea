"""The committed OpenAPI document is the app's, and it declares every answer the API gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from services.post_office import openapi

REPO = Path(__file__).resolve().parents[2]


def test_the_committed_openapi_document_does_not_drift_from_the_app() -> None:
    assert not openapi.drifted(), "run: python -m services.post_office.openapi"


def test_the_openapi_check_command_exits_zero_when_nothing_drifted() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.post_office.openapi", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr


def test_every_operation_declares_its_refusals_as_problem_json_and_requires_a_bearer_credential() -> None:
    document = openapi.document()

    operations = [(method, op) for path in document["paths"].values() for method, op in path.items()]
    assert len(operations) == 16  # with the access and erasure requests and their audit
    assert sum(method == "get" for method, _ in operations) == 3  # the contact read and the two audits
    for method, operation in operations:
        responses = operation["responses"]
        # A read takes no body: nothing malformed or too large to refuse; one without parameters has
        # nothing to refuse as invalid either.
        invalid = {"422"} if method == "post" or operation.get("parameters") else set()
        refusals = {"401", "403", "503"} | invalid | ({"400", "413"} if method == "post" else set())
        assert refusals <= set(responses), operation["operationId"]
        for status, response in responses.items():
            media = set(response.get("content", {}))
            assert media == ({"application/problem+json"} if int(status) >= 400 else {"application/json"})
        assert responses["503"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
        assert operation["security"] == [{"HTTPBearer": []}]


def test_the_document_is_rendered_deterministically() -> None:
    assert openapi.render(openapi.document()) == openapi.render(openapi.document())
