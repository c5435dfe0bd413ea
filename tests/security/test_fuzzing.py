"""Schemathesis against each committed OpenAPI document (contracts/openapi/*.json: post office, agency,
tracker, turnaround, notifications, and any document added later), over HTTP to the running stack (real
broker and PostgreSQL behind it): schema-valid and schema-breaking requests for every operation the
documents list — path, query, headers (arbitrary extra headers, and the Authorization header itself) and
body generated — sent as an operator, as a caller bound to a post office or an agency, and with a
generated or missing credential. No answer may be a server error, and every answer must be one the
document declares: its status, content type, headers and body schema (times included: RFC 3339 with
+07:00).

Deterministic (derandomised Hypothesis, no example database); FUZZ_EXAMPLES sets the examples per
operation and mode (default 25: about 1,300 requests over the five services, 2-3 minutes here).
"""

from __future__ import annotations

import os
import time
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
    "turnaround": ("operator", "agency_x", "post_office_a"),
    "notifications": ("operator", "agency_x", "post_office_a"),
}
# The documents of the services this package starts; another document without a service would be
# fuzzed against nothing.
STARTED = {"post_office", "agency", "tracker", "turnaround", "notifications"}
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
    per_operation: dict[str, int] = field(default_factory=dict)


def _known_path_parameters(stack: Stack, operation: Any) -> dict[str, str]:
    """The journey's dossier under each name a path gives it (tests/security/conftest.py)."""
    journey = stack.journey
    values = {"dossier_id": journey.dossier_id, "ref": journey.item_id, "reference": journey.item_id}
    names = [p.name for p in operation.path_parameters]
    return {name: values[name] for name in names} if names and all(n in values for n in names) else {}


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
        # Random ids name no dossier, so reads would only ever answer 404: reads of the journey's dossier
        # too, so the fuzzer also checks full answers against the document. Reads only: a fuzzed report
        # on the journey's dossier would change what the other tests of the package look at.
        known = _known_path_parameters(stack, operation)
        if known and operation.method.upper() == "GET" and (token := stack.tokens.get(callers[0])):
            fixed.append(
                operation.as_strategy(
                    generation_mode=mode,
                    headers={"Authorization": f"Bearer {token}"},
                    path_parameters=known,
                )
            )
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
            key = f"{operation.label} ({mode.value})"
            run.per_operation[key] = run.per_operation.get(key, 0) + 1
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


def test_every_service_the_stack_runs_has_a_committed_document_and_nothing_else_does() -> None:
    assert set(SERVICES) == STARTED


@pytest.mark.parametrize("service", SERVICES)
def test_fuzzed_requests_get_no_server_error_and_answers_the_document_declares(
    stack: Stack, service: str
) -> None:
    run = Run()
    operations = [
        r.ok().label
        for r in schemathesis.openapi.from_path(DOCUMENTS / f"{service}.json").get_all_operations()
        if isinstance(r, Ok)
    ]
    started = time.monotonic()
    fuzz(stack, service, run)
    print(
        f"\nfuzzing {service}: {len(operations)} operations, {run.requests} cases in "
        f"{time.monotonic() - started:.0f} s, statuses {dict(sorted(run.statuses.items()))}"
    )
    assert not run.failures, "\n\n".join(run.failures)
    unfuzzed = [
        f"{label} ({mode.value})"
        for label in operations
        for mode in GenerationMode
        if run.per_operation.get(f"{label} ({mode.value})", 0) == 0
    ]
    assert not unfuzzed, f"operations that got no request: {unfuzzed}"
    assert not [code for code in run.statuses if code >= 500], run.statuses
