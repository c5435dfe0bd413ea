"""Schemathesis against each committed OpenAPI document (contracts/openapi/*.json), over HTTP to the running
stack (real broker and PostgreSQL behind it): schema-valid and schema-breaking requests for every operation,
sent as an operator, as a caller bound to a post office or an agency, and anonymously. No answer may be a
server error, and every answer must be one the document declares: its status, content type, headers and
body schema.

Deterministic (derandomised Hypothesis, no example database); FUZZ_EXAMPLES sets the examples per
operation and mode (default 25).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.conftest import Stack

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

DOCUMENTS = Path(__file__).resolve().parents[2] / "contracts" / "openapi"
SERVICES = sorted(path.stem for path in DOCUMENTS.glob("*.json"))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CALLERS = {
    "post_office": ("operator", "post_office_a"),
    "agency": ("agency_x", "operator"),
    "tracker": ("operator", "agency_x", "post_office_a"),
}
CHECKS: dict[GenerationMode, list[Callable[..., Any]]] = {
    GenerationMode.POSITIVE: [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ],
    GenerationMode.NEGATIVE: [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ],
}


# Operations that accept a request the schema calls invalid, by design: an offline batch rejects each
# malformed scan alone, in its 200 answer, so that one corrupted record does not block the other 999.
TOLERANT = {"POST /v1/scans/batches"}


@dataclass
class Run:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def fuzz(stack: Stack, service: str, run: Run) -> None:
    schema = schemathesis.openapi.from_path(DOCUMENTS / f"{service}.json")
    session = requests.Session()
    callers = CALLERS.get(service, ("operator",))

    def strategy(operation: Any, mode: GenerationMode) -> Any:
        """Cases sent with each caller's credential; "generated" lets Schemathesis make up the header
        (random bearer tokens, a missing or malformed header), which must all be refused."""
        fixed = [
            operation.as_strategy(generation_mode=mode, headers={"Authorization": f"Bearer {token}"})
            for caller in callers
            if (token := stack.tokens.get(caller))
        ]
        return st.one_of(*fixed, operation.as_strategy(generation_mode=mode))

    def test_of(operation: Any, mode: GenerationMode) -> Callable[[], None]:
        checks = [
            check
            for check in CHECKS[mode]
            if not (check is negative_data_rejection and operation.label in TOLERANT)
        ]

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy(operation, mode))
        def call(case: Any) -> None:
            response = case.call(base_url=stack.urls[service], session=session, timeout=30)
            run.requests += 1
            run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=checks)

        return call

    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"{service}: the document is valid OpenAPI"
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                test_of(operation, mode)()
            except (Exception, BaseExceptionGroup) as failure:
                run.failures.append(f"{operation.label} ({mode.value}):\n{str(failure)[:3000]}")


@pytest.mark.parametrize("service", SERVICES)
def test_fuzzed_requests_get_no_server_error_and_answers_the_document_declares(
    stack: Stack, service: str
) -> None:
    run = Run()
    fuzz(stack, service, run)
    print(f"\nfuzzing {service}: {run.requests} requests, statuses {dict(sorted(run.statuses.items()))}")
    assert run.requests >= EXAMPLES
    assert not run.failures, "\n\n".join(run.failures)
