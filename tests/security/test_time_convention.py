"""One time convention across the stack (tests/security/conftest.py drives a journey whose every time is
sent in UTC): every time an API answers with, and every time an event carries, is RFC 3339 with the
offset +07:00; a time sent without an offset is refused with 422 `time_without_offset` naming the field,
never the value."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from contracts.topics import all_topics
from contracts.values import make_s10
from tests.reliability.support import end_offsets, read_range
from tests.security.conftest import AGENCY_X, APPLICANT, BY_POST, OFFICE_A, RECIPIENT, Stack
from tests.unit.test_time_convention import assert_written_in_vietnam_time

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

NAIVE = "2026-03-02T09:30:00"


def _last4(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit())[-4:]


async def test_every_time_the_apis_answer_with_is_written_in_vietnam_time(stack: Stack) -> None:
    journey = stack.journey
    reads: dict[str, list[tuple[str, str, dict[str, str]]]] = {
        "tracker": [
            ("operator", f"/dossiers/{d}", {})
            for d in (journey.dossier_id, journey.registered_id, journey.filed_id)
        ]
        + [
            ("operator", "/dossiers", {"agency": AGENCY_X}),
            ("operator", "/anomalies", {}),
            (
                "anonymous",
                f"/public/dossiers/{journey.item_id}",
                {"phone_last4": _last4(APPLICANT.phone)},
            ),
            (
                "anonymous",
                f"/public/dossiers/{journey.registered_code}",
                {"phone_last4": _last4(RECIPIENT.phone)},
            ),
        ],
        "agency": [
            ("agency_x", f"/dossiers/{ref}", {})
            for ref in (journey.item_id, journey.registered_code, journey.filed_item_id)
        ],
        "turnaround": [
            ("operator", f"/dossiers/{d}/clocks", {}) for d in (journey.dossier_id, journey.registered_id)
        ],
    }
    seen: dict[str, int] = {}
    for service, calls in reads.items():
        for role, path, params in calls:
            async with stack.client(service, role) as http:
                response = await http.get(path, params=params)
            assert response.status_code == 200, (service, path, response.text)
            seen[service] = seen.get(service, 0) + len(assert_written_in_vietnam_time(response.json()))
    print(f"\ntimes checked in API answers: {seen}")
    # The journey has times in each service's answers; none checked would prove nothing.
    assert seen["tracker"] >= 20 and seen["agency"] >= 3 and seen["turnaround"] >= 3, seen


async def test_every_event_the_stack_published_writes_its_times_in_vietnam_time(stack: Stack) -> None:
    ends = await end_offsets(stack.kafka_admin, all_topics())
    records = await read_range(stack.kafka_admin, stack.topics_start, ends, lambda r: r.value is not None)
    by_topic: dict[str, int] = {}
    for record in records:
        assert record.value is not None
        document = json.loads(record.value)
        paths = assert_written_in_vietnam_time(document)
        assert ".time" in paths, f"{record.topic}: an envelope has a time"
        by_topic[record.topic] = by_topic.get(record.topic, 0) + 1
    print(f"\nevents checked: {by_topic}")
    assert {"postal.events.v1", "agency.events.v1", "tracker.stage-changed.v1"} <= set(by_topic), by_topic


def _refusals() -> list[tuple[str, str, str, dict[str, Any], str]]:
    """(service, role, path, body with one naive time, the field) — a request each API would take
    but for that time."""
    scan_id, item = str(uuid.uuid4()), make_s10("EB", uuid.uuid4().int % 10**8)
    return [
        (
            "post_office",
            "post_office_a",
            "/v1/scans/in-transit",
            {
                "kind": "IN_TRANSIT",
                "scan_id": scan_id,
                "item_id": item,
                "scanned_at": NAIVE,
                "post_office_code": OFFICE_A,
                "direction": "DEPARTED",
            },
            "scanned_at",
        ),
        (
            "agency",
            "agency_x",
            "/dossiers",
            {
                "agency_dossier_code": f"{AGENCY_X}-260302-{uuid.uuid4().int % 9000 + 1:04d}",
                "procedure_code": BY_POST,
                "filing_channel": "IN_PERSON",
                "filed_at": NAIVE,
                "applicant": APPLICANT.body(),
                "delivery_address": APPLICANT.address(),
            },
            "filed_at",
        ),
    ]


@pytest.mark.parametrize(
    ("service", "role", "path", "body", "field"),
    [pytest.param(*case, id=f"{case[0]} {case[2]} {case[4]}") for case in _refusals()],
)
async def test_a_time_without_offset_is_refused_with_a_reason_naming_the_field(
    stack: Stack, service: str, role: str, path: str, body: dict[str, Any], field: str
) -> None:
    async with stack.client(service, role) as http:
        response = await http.post(path, json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["reason"] == "time_without_offset"
    assert field in problem["detail"]
    assert NAIVE not in response.text, "the value is not echoed"
