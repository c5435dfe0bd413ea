"""Officers report through the HTTP API; every accepted report is on agency.events.v1 when the answer
comes, every refused one publishes nothing. Real broker, real PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from contracts.enums import SupplementBreach
from contracts.envelope import decode
from contracts.events import (
    AgencyEvent,
    DelayNotified,
    DossierReceived,
    DossierRegisteredForReturnV2,
    SupplementReceived,
    SupplementRequested,
)
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_APPLICANT
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from contracts.values import dossier_id_for_agency_code, dossier_id_for_item, make_s10
from services.shared.calendar import VN_TZ
from tests.agency.conftest import (
    AGENCY,
    OTHER_AGENCY,
    THREE_DAYS,
    Clock,
    Tokens,
    TopicReader,
    bearer,
    new_agency_dossier_code,
    new_item_id,
    postal_journey,
    send,
    wait_for_status,
)
from tests.fixtures.kafka import KafkaLogin

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def vn(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


async def filed_by_post(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, signed_at: datetime
) -> str:
    """A passport dossier the post office accepted for AGENCY and handed over at `signed_at`."""
    item_id = new_item_id()
    await send(producer, POSTAL_EVENTS, postal_journey(item_id, signed_at))
    await wait_for_status(client, item_id, tokens.officer, "FILED")
    return item_id


async def post(
    client: httpx.AsyncClient, path: str, token: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await client.post(path, json=body, headers=bearer(token))


def key(item_id: str) -> set[bytes]:
    return {dossier_id_for_item(item_id).encode()}


async def test_dossier_handed_over_by_post_is_received_with_its_legal_due_date_once_kafka_acknowledged(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, kafka_admin: KafkaLogin
) -> None:
    # Signed after the 15:00 cut-off on the eve of Tết 2026: filed Monday 23 February.
    signed_at = vn(2026, 2, 13, 15, 30)
    item_id = await filed_by_post(client, producer, tokens, signed_at)
    code = new_agency_dossier_code()

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        response = await post(
            client,
            f"/dossiers/{item_id.lower()}/received",
            tokens.officer,
            {"agency_dossier_code": code, "appointment_date": "2026-03-06"},
        )
        assert response.status_code == 201, response.text
        published = await events.read(key(item_id), at_least=1)

    body = response.json()
    assert body["event_type"] == "agency.dossier_received"
    assert body["dossier"]["filing_day"] == "2026-02-23"
    assert body["dossier"]["legal_due_date"] == "2026-03-05", "8 working days from Monday 23 February"
    assert body["dossier"]["appointment_later_than_legal"] is True
    assert body["dossier"]["status"] == "RECEIVED"
    [record] = published
    envelope = decode(record.value, record.key)
    assert str(envelope.id) == body["event_id"]
    assert envelope.source == f"/agencies/{AGENCY}"
    event = envelope.data
    assert isinstance(event, DossierReceived)
    assert (event.agency_dossier_code, event.item_id, event.officer_id) == (code, item_id, "officer-0003")
    assert event.filed_at == signed_at
    assert event.legal_due_date == date(2026, 3, 5)
    assert event.appointment_later_than_legal is True


async def test_each_status_of_a_received_dossier_is_published_in_order(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, kafka_admin: KafkaLogin
) -> None:
    item_id = await filed_by_post(client, producer, tokens, vn(2026, 3, 2))
    code = new_agency_dossier_code()

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        received = await post(
            client,
            f"/dossiers/{item_id}/received",
            tokens.officer,
            {"agency_dossier_code": code, "appointment_date": "2026-03-12"},
        )
        processing = await client.post(f"/dossiers/{code}/processing", headers=bearer(tokens.officer))
        delayed = await post(
            client,
            f"/dossiers/{code}/delay-notified",
            tokens.officer,
            {"new_due_date": "2026-03-19", "reason": "Cần xác minh thêm", "issued_on": "2026-03-11"},
        )
        ready = await post(
            client,
            f"/dossiers/{code}/result-ready",
            tokens.officer,
            {"outcome": "APPROVED", "result_reference": "HC-2026-000123"},
        )
        published = await events.read(key(item_id), at_least=4)

    answers = [received, processing, delayed, ready]
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert [a.json()["dossier"]["status"] for a in answers] == [
        "RECEIVED",
        "PROCESSING",
        "PROCESSING",
        "RESULT_READY",
    ]
    assert delayed.json()["dossier"]["due_date"] == "2026-03-19"
    assert delayed.json()["dossier"]["delay_breach"] is False
    envelopes = [decode(r.value, r.key) for r in published]
    assert [e.type for e in envelopes] == [
        "agency.dossier_received",
        "agency.dossier_processing",
        "agency.delay_notified",
        "agency.result_ready",
    ]
    assert [str(e.id) for e in envelopes] == [a.json()["event_id"] for a in answers]
    view = await client.get(f"/dossiers/{item_id}", headers=bearer(tokens.operator))
    assert view.status_code == 200
    assert (view.json()["status"], view.json()["outcome"]) == ("RESULT_READY", "APPROVED")


async def test_supplement_request_stops_the_clock_and_its_receipt_restarts_it_from_zero(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    clock: Clock,
) -> None:
    item_id = await filed_by_post(client, producer, tokens, vn(2026, 3, 2))
    code = new_agency_dossier_code()
    clock.frozen = vn(2026, 3, 2, 11)  # received before the supplement is requested
    await post(
        client,
        f"/dossiers/{item_id}/received",
        tokens.officer,
        {"agency_dossier_code": code, "appointment_date": "2026-03-12"},
    )

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        clock.frozen = vn(2026, 3, 4)
        requested = await post(
            client,
            f"/dossiers/{code}/supplement-requested",
            tokens.officer,
            {"missing_documents": ["Ảnh chân dung 4x6"], "reason": "Ảnh không đúng quy cách"},
        )
        clock.frozen = vn(2026, 3, 10, 16, 5)
        restarted = await post(
            client,
            f"/dossiers/{code}/supplement-received",
            tokens.officer,
            {"received_at": "2026-03-10T16:00:00+07:00"},
        )
        published = await events.read(key(item_id), at_least=2)

    assert requested.status_code == 201, requested.text
    assert requested.json()["dossier"]["status"] == "AWAITING_SUPPLEMENT"
    assert requested.json()["dossier"]["due_date"] is None
    assert restarted.status_code == 201, restarted.text
    dossier = restarted.json()["dossier"]
    assert (dossier["status"], dossier["filing_day"]) == ("RECEIVED", "2026-03-11")
    assert dossier["legal_due_date"] == dossier["due_date"] == "2026-03-23"
    event = decode(published[-1].value, published[-1].key).data
    assert isinstance(event, SupplementReceived)
    assert event.received_at == vn(2026, 3, 10, 16)


async def test_a_second_supplement_request_after_the_window_is_recorded_and_published_with_its_breaches(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    clock: Clock,
) -> None:
    # Received Thursday 12 February 2026; Tết (14–22 February) is not worked: the window ends on the 24th.
    item_id = await filed_by_post(client, producer, tokens, vn(2026, 2, 12, 9))
    code = new_agency_dossier_code()
    clock.frozen = vn(2026, 2, 12, 10)
    receipt = await post(
        client,
        f"/dossiers/{item_id}/received",
        tokens.officer,
        {"agency_dossier_code": code, "appointment_date": "2026-02-26"},
    )
    assert receipt.status_code == 201, receipt.text
    ask = {"missing_documents": ["Ảnh chân dung 4x6"], "reason": "Ảnh không đúng quy cách"}

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        clock.frozen = vn(2026, 2, 24, 16)
        first = await post(client, f"/dossiers/{code}/supplement-requested", tokens.officer, ask)
        clock.frozen = vn(2026, 2, 25, 9)
        back = await post(
            client,
            f"/dossiers/{code}/supplement-received",
            tokens.officer,
            {"received_at": "2026-02-25T09:00:00+07:00"},
        )
        clock.frozen = vn(2026, 2, 25, 10)
        second = await post(client, f"/dossiers/{code}/supplement-requested", tokens.officer, ask)
        assert first.status_code == back.status_code == second.status_code == 201, (
            first.text,
            back.text,
            second.text,
        )
        published = await events.read(key(item_id), at_least=3)

    assert first.status_code == back.status_code == second.status_code == 201, second.text
    assert second.json()["dossier"]["status"] == "AWAITING_SUPPLEMENT", "recorded: the citizen was asked"
    assert second.json()["dossier"]["supplement_requests"] == 2
    requests = [
        e for e in (decode(r.value, r.key).data for r in published) if isinstance(e, SupplementRequested)
    ]
    assert [(e.request_number, e.breach, e.window_ends_on) for e in requests] == [
        (1, False, date(2026, 2, 24)),
        (2, True, date(2026, 2, 24)),
    ]
    assert requests[1].breach_reasons == (
        SupplementBreach.SECOND_SUPPLEMENT_REQUEST,
        SupplementBreach.LATE_SUPPLEMENT_REQUEST,
    )
    assert requests[1].rule_set == "decree_118_2025"


async def test_late_apology_slip_is_flagged_as_a_breach_and_a_second_one_is_refused_with_409(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, kafka_admin: KafkaLogin
) -> None:
    item_id = await filed_by_post(client, producer, tokens, vn(2026, 3, 2))
    code = new_agency_dossier_code()
    await post(
        client,
        f"/dossiers/{item_id}/received",
        tokens.officer,
        {"agency_dossier_code": code, "appointment_date": "2026-03-12"},
    )
    slip = {"new_due_date": "2026-03-19", "reason": "Chờ ý kiến cơ quan liên quan", "issued_on": "2026-03-12"}

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        late = await post(client, f"/dossiers/{code}/delay-notified", tokens.officer, slip)
        second = await post(
            client, f"/dossiers/{code}/delay-notified", tokens.officer, {**slip, "new_due_date": "2026-03-26"}
        )
        published = await events.read(key(item_id), at_least=1)

    assert late.status_code == 201, late.text
    assert late.json()["dossier"]["delay_breach"] is True, "issued on the due date itself"
    assert late.json()["dossier"]["due_date"] == "2026-03-19"
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["reason"] == "delay_already_notified"
    [record] = published
    event = decode(record.value, record.key).data
    assert isinstance(event, DelayNotified)
    assert (event.previous_due_date, event.breach) == (date(2026, 3, 12), True)


async def test_result_ready_before_the_dossier_is_received_is_refused_with_409_and_nothing_is_published(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, kafka_admin: KafkaLogin
) -> None:
    item_id = await filed_by_post(client, producer, tokens, vn(2026, 3, 2))

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        response = await post(
            client,
            f"/dossiers/{item_id}/result-ready",
            tokens.officer,
            {"outcome": "DENIED", "result_reference": "QD-2026-0001"},
        )
        published = await events.read(key(item_id))

    assert response.status_code == 409
    assert response.json()["reason"] == "not_received"
    assert published == []


async def test_nothing_can_be_reported_after_withdrawal(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, kafka_admin: KafkaLogin
) -> None:
    item_id = await filed_by_post(client, producer, tokens, vn(2026, 3, 2))

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        withdrawn = await post(
            client, f"/dossiers/{item_id}/withdrawn", tokens.officer, {"reason": "Rút hồ sơ"}
        )
        after = [
            await post(
                client,
                f"/dossiers/{item_id}/received",
                tokens.officer,
                {"agency_dossier_code": new_agency_dossier_code(), "appointment_date": "2026-03-12"},
            ),
            await client.post(f"/dossiers/{item_id}/processing", headers=bearer(tokens.officer)),
            await post(client, f"/dossiers/{item_id}/refused", tokens.officer, {"reason": "x"}),
            await client.post(f"/dossiers/{item_id}/withdrawn", headers=bearer(tokens.officer)),
        ]
        published = await events.read(key(item_id), at_least=1)

    assert withdrawn.status_code == 201
    assert [(r.status_code, r.json()["reason"]) for r in after] == [(409, "dossier_withdrawn")] * 4
    assert [decode(r.value, r.key).type for r in published] == ["agency.dossier_withdrawn"]


async def test_refused_dossier_takes_no_further_report(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens
) -> None:
    item_id = await filed_by_post(client, producer, tokens, vn(2026, 3, 2))

    refused = await post(
        client, f"/dossiers/{item_id}/refused", tokens.officer, {"reason": "Không thuộc thẩm quyền"}
    )
    again = await post(
        client,
        f"/dossiers/{item_id}/received",
        tokens.officer,
        {"agency_dossier_code": new_agency_dossier_code(), "appointment_date": "2026-03-12"},
    )

    assert refused.status_code == 201 and refused.json()["dossier"]["status"] == "REFUSED"
    assert (again.status_code, again.json()["reason"]) == (409, "dossier_refused")


async def test_report_on_another_agencys_dossier_is_forbidden_and_nothing_is_published(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, kafka_admin: KafkaLogin
) -> None:
    item_id = await filed_by_post(client, producer, tokens, vn(2026, 3, 2))
    body = {"agency_dossier_code": new_agency_dossier_code(OTHER_AGENCY), "appointment_date": "2026-03-12"}

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        other_agency = await post(client, f"/dossiers/{item_id}/received", tokens.other_officer, body)
        clerk = await post(client, f"/dossiers/{item_id}/received", tokens.clerk, body)
        operator = await post(client, f"/dossiers/{item_id}/received", tokens.operator, body)
        published = await events.read(key(item_id))

    assert (other_agency.status_code, other_agency.json()["reason"]) == (403, "another_agency")
    assert (clerk.status_code, clerk.json()["reason"]) == (403, "not_an_agency")
    assert (operator.status_code, operator.json()["reason"]) == (403, "not_an_agency")
    assert published == []
    peek = await client.get(f"/dossiers/{item_id}", headers=bearer(tokens.other_officer))
    assert (peek.status_code, peek.json()["reason"]) == (403, "another_agency")
    assert (await client.get(f"/dossiers/{item_id}", headers=bearer(tokens.officer))).json()[
        "status"
    ] == "FILED"


async def test_unknown_dossier_is_404_a_mistyped_item_id_422_and_a_missing_credential_401(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    unknown = await client.post(
        f"/dossiers/{make_s10('EB', 99999998)}/processing", headers=bearer(tokens.officer)
    )
    anonymous = await client.post(f"/dossiers/{make_s10('EB', 99999998)}/processing")
    forged = await client.get(f"/dossiers/{make_s10('EB', 99999998)}", headers=bearer("not.a.token"))
    mistyped = await client.post("/dossiers/EB123456780VN/processing", headers=bearer(tokens.officer))

    assert (unknown.status_code, unknown.json()["reason"]) == (404, "unknown_dossier")
    assert (anonymous.status_code, anonymous.json()["reason"]) == (401, "unauthenticated")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert forged.status_code == 401
    assert (mistyped.status_code, mistyped.json()["reason"]) == (422, "item_id_check_digit")
    assert "does not match" in mistyped.json()["detail"]


async def test_invalid_input_is_refused_with_422_without_echoing_personal_data(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens
) -> None:
    item_id = await filed_by_post(client, producer, tokens, vn(2026, 3, 2))
    phone = "0912 34"
    registration = {
        "agency_dossier_code": new_agency_dossier_code(),
        "procedure_code": THREE_DAYS,
        "filing_channel": "IN_PERSON",
        "filed_at": "2026-03-02T09:00:00+07:00",
        "applicant": {**SAMPLE_APPLICANT.model_dump(), "phone": phone},
        "delivery_address": SAMPLE_ADDRESS.model_dump(),
    }

    bad_phone = await post(client, "/dossiers", tokens.officer, registration)
    bad_code = await post(
        client,
        f"/dossiers/{item_id}/received",
        tokens.officer,
        {"agency_dossier_code": "H22-2026-7", "appointment_date": "2026-03-12"},
    )
    unknown_procedure = await post(
        client,
        f"/dossiers/{item_id}/received",
        tokens.officer,
        {
            "agency_dossier_code": new_agency_dossier_code(),
            "appointment_date": "2026-03-12",
            "procedure_code": "9.999999",
        },
    )
    malformed = await client.post(
        f"/dossiers/{item_id}/refused",
        content=b'{"reason": ',
        headers={**bearer(tokens.officer), "content-type": "application/json"},
    )

    assert (bad_phone.status_code, bad_phone.json()["reason"]) == (422, "invalid_request")
    assert [e["loc"] for e in bad_phone.json()["errors"]] == [["body", "applicant", "phone"]]
    assert phone not in bad_phone.text and SAMPLE_APPLICANT.name not in bad_phone.text
    assert SAMPLE_ADDRESS.line not in bad_phone.text
    assert (bad_code.status_code, bad_code.json()["reason"]) == (422, "invalid_request")
    assert (unknown_procedure.status_code, unknown_procedure.json()["reason"]) == (422, "unknown_procedure")
    assert (malformed.status_code, malformed.json()["reason"]) == (400, "malformed_json")


async def test_dossier_filed_in_person_is_registered_for_return_by_post_and_then_followed_by_its_code(
    client: httpx.AsyncClient, tokens: Tokens, kafka_admin: KafkaLogin
) -> None:
    code = new_agency_dossier_code()
    dossier_id = dossier_id_for_agency_code(code)
    registration = {
        "agency_dossier_code": code,
        "procedure_code": THREE_DAYS,
        "filing_channel": "IN_PERSON",
        "filed_at": "2026-03-02T09:00:00+07:00",
        "applicant": SAMPLE_APPLICANT.model_dump(),
        "delivery_address": SAMPLE_ADDRESS.model_dump(),
    }

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        registered = await post(client, "/dossiers", tokens.officer, registration)
        received = await post(
            client,
            f"/dossiers/{code.lower()}/received",
            tokens.officer,
            {"agency_dossier_code": code, "appointment_date": "2026-03-05"},
        )
        again = await post(client, "/dossiers", tokens.officer, registration)
        not_ours = await post(client, "/dossiers", tokens.other_officer, registration)
        published = await events.read({dossier_id.encode()}, at_least=2)

    assert registered.status_code == 201, registered.text
    assert registered.headers["location"] == f"/dossiers/{code}"
    assert registered.json()["dossier"]["dossier_id"] == dossier_id
    assert registered.json()["dossier"]["service_form"] == "RECEIVE_RESULT"
    assert received.status_code == 201, received.text
    assert received.json()["dossier"]["legal_due_date"] == "2026-03-05"
    assert (again.status_code, again.json()["reason"]) == (409, "already_registered")
    assert (not_ours.status_code, not_ours.json()["reason"]) == (422, "code_of_another_agency")
    first = decode(published[0].value, published[0].key).data
    assert isinstance(first, DossierRegisteredForReturnV2)  # the address stays in the agency's vault
    assert [decode(r.value, r.key).type for r in published] == [
        "agency.dossier_registered_for_return",
        "agency.dossier_received",
    ]


def _samples(text: str) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
    return Counter(
        {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
    )


async def test_metrics_count_published_events_and_refusals_by_bounded_labels(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens
) -> None:
    # Other tests count into the same registry: the test measures what its own requests added.
    before = _samples((await client.get("/metrics")).text)
    item_id = await filed_by_post(client, producer, tokens, vn(2026, 3, 2))
    code = new_agency_dossier_code()
    received = await post(
        client,
        f"/dossiers/{item_id}/received",
        tokens.officer,
        {"agency_dossier_code": code, "appointment_date": "2026-03-12"},
    )
    slip = {"new_due_date": "2026-03-19", "reason": "Chờ ý kiến cơ quan liên quan", "issued_on": "2026-03-11"}
    first = await post(client, f"/dossiers/{code}/delay-notified", tokens.officer, slip)
    second = await post(client, f"/dossiers/{code}/delay-notified", tokens.officer, slip)
    text = (await client.get("/metrics")).text
    after = _samples(text)

    assert (received.status_code, first.status_code, second.status_code) == (201, 201, 409)
    added = after - before
    http = (("channel", "http"),)
    assert added[("agency_events_published_total", (*http, ("type", "agency.dossier_received")))] == 1
    assert added[("agency_events_published_total", (*http, ("type", "agency.delay_notified")))] == 1
    assert added[("agency_reports_rejected_total", (*http, ("reason", "delay_already_notified")))] == 1
    # The dossier's acceptance and handover were consumed before it could be received.
    applied = sum(
        n
        for (name, labels), n in added.items()
        if name == "dossier_consumer_records_total" and ("outcome", "applied") in labels
    )
    assert applied >= 2
    # Never an item, code or dossier id as a label value.
    assert item_id not in text and code not in text


# --------------------------------------------------------------------------- when a report happened

SIGNED = vn(2026, 3, 10, 8)  # Tuesday 10 March 2026, the handover record is signed at 08:00
MORNING = vn(2026, 3, 10, 9, 30)
AFTERNOON = vn(2026, 3, 10, 16, 30)  # recorded after the 15:00 cut-off

# Each report, the state it needs (None: filed, "received", "awaiting": a supplement was requested) and
# a body without its occurrence time.
REPORTS: list[tuple[str, str | None, dict[str, Any]]] = [
    ("received", None, {"appointment_date": "2026-03-20"}),
    ("refused", None, {"reason": "Không thuộc thẩm quyền"}),
    ("supplement-requested", "received", {"missing_documents": ["Ảnh"], "reason": "Thiếu ảnh"}),
    ("supplement-received", "awaiting", {}),
    ("processing", "received", {}),
    ("delay-notified", "received", {"new_due_date": "2026-03-27", "reason": "Cần xác minh thêm"}),
    ("withdrawn", None, {}),
    ("result-ready", "received", {"outcome": "APPROVED", "result_reference": "HC-2026-9"}),
]


async def in_state(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, state: str | None
) -> tuple[str, str]:
    """A dossier handed over at SIGNED, received at 08:30 and asked for a supplement at 09:00 as `state`
    says; returns its item id and agency dossier code."""
    item_id = await filed_by_post(client, producer, tokens, SIGNED)
    code = new_agency_dossier_code()
    if state in ("received", "awaiting"):
        receipt = {"agency_dossier_code": code, "appointment_date": "2026-03-20"}
        at = {"occurred_at": "2026-03-10T08:30:00+07:00"}
        answer = await post(client, f"/dossiers/{item_id}/received", tokens.officer, receipt | at)
        assert answer.status_code == 201, answer.text
    if state == "awaiting":
        request = {"missing_documents": ["Ảnh"], "reason": "x", "occurred_at": "2026-03-10T09:00:00+07:00"}
        answer = await post(client, f"/dossiers/{item_id}/supplement-requested", tokens.officer, request)
        assert answer.status_code == 201, answer.text
    return item_id, code


def _body(path: str, code: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"agency_dossier_code": code, **body} if path == "received" else body


@pytest.mark.parametrize(("path", "state", "body"), REPORTS, ids=[r[0] for r in REPORTS])
async def test_a_report_recorded_later_is_published_at_the_time_it_happened_with_its_recording_time(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    clock: Clock,
    path: str,
    state: str | None,
    body: dict[str, Any],
) -> None:
    clock.frozen = AFTERNOON
    item_id, code = await in_state(client, producer, tokens, state)

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        response = await post(
            client,
            f"/dossiers/{item_id}/{path}",
            tokens.officer,
            _body(path, code, body) | {"occurred_at": "2026-03-10T02:30:00Z"},  # 09:30 in Hà Nội
        )
        assert response.status_code == 201, response.text
        published = await events.read(key(item_id), at_least=1)

    [record] = published
    envelope = decode(record.value, record.key)
    assert str(envelope.id) == response.json()["event_id"]
    assert envelope.time == MORNING
    assert isinstance(envelope.data, AgencyEvent)
    assert envelope.data.recorded_at == AFTERNOON


async def test_a_morning_receipt_recorded_in_the_afternoon_after_the_cut_off_keeps_the_mornings_due_date(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, clock: Clock
) -> None:
    clock.frozen = AFTERNOON
    by_post = await filed_by_post(client, producer, tokens, SIGNED)
    after_supplement, _ = await in_state(client, producer, tokens, "awaiting")
    morning = {"occurred_at": "2026-03-10T09:30:00+07:00"}

    receipt = await post(
        client,
        f"/dossiers/{by_post}/received",
        tokens.officer,
        {"agency_dossier_code": new_agency_dossier_code(), "appointment_date": "2026-03-20"} | morning,
    )
    supplement = await post(
        client, f"/dossiers/{after_supplement}/supplement-received", tokens.officer, morning
    )

    assert receipt.status_code == 201, receipt.text
    received = receipt.json()["dossier"]
    assert (received["filing_day"], received["legal_due_date"]) == ("2026-03-10", "2026-03-20")
    assert datetime.fromisoformat(received["received_at"]) == MORNING
    assert supplement.status_code == 201, supplement.text
    restarted = supplement.json()["dossier"]
    assert (restarted["filing_day"], restarted["due_date"]) == ("2026-03-10", "2026-03-20"), (
        "the supplement arrived before the cut-off: the clock restarts on the 10th, not the 11th"
    )


@pytest.mark.parametrize(("path", "state", "body"), REPORTS, ids=[r[0] for r in REPORTS])
async def test_a_time_without_an_offset_is_refused_with_422_naming_the_field(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    path: str,
    state: str | None,
    body: dict[str, Any],
) -> None:
    item_id = await filed_by_post(client, producer, tokens, SIGNED)

    response = await post(
        client,
        f"/dossiers/{item_id}/{path}",
        tokens.officer,
        _body(path, new_agency_dossier_code(), body) | {"occurred_at": "2026-03-10T09:30:00"},
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "time_without_offset"
    assert "occurred_at" in response.json()["detail"]
    assert "2026-03-10T09:30" not in response.text, "the submitted value is not echoed"


@pytest.mark.parametrize(
    ("occurred_at", "status", "reason"),
    [
        ("2026-03-10T16:32:00+07:00", 201, None),  # two minutes ahead: within the default skew
        ("2026-03-10T16:32:01+07:00", 422, "time_in_future"),
        ("2026-03-11T09:00:00+07:00", 422, "time_in_future"),
        ("2026-03-10T07:59:59+07:00", 409, "before_previous_fact"),
        ("2026-03-10T08:00:00+07:00", 201, None),  # the very moment of the handover
        ("9999-12-31T23:30:00+00:00", 422, "invalid_request"),  # no such day in Hà Nội
        ("0001-01-01T00:00:00+14:00", 422, "invalid_request"),
    ],
)
async def test_a_receipt_in_the_future_or_before_the_handover_is_refused_and_nothing_is_published(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    clock: Clock,
    occurred_at: str,
    status: int,
    reason: str | None,
) -> None:
    clock.frozen = AFTERNOON
    item_id = await filed_by_post(client, producer, tokens, SIGNED)
    body = {"agency_dossier_code": new_agency_dossier_code(), "appointment_date": "2026-03-20"}

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        response = await post(
            client, f"/dossiers/{item_id}/received", tokens.officer, body | {"occurred_at": occurred_at}
        )
        assert response.status_code == status, response.text
        published = await events.read(key(item_id), at_least=1 if status == 201 else 0)

    if reason is None:
        assert len(published) == 1
        return
    assert response.json()["reason"] == reason
    assert published == []
    if reason == "before_previous_fact":
        detail = response.json()["detail"]
        assert "agency.dossier_received" in detail and "postal.dossier_handed_to_agency" in detail
        assert "2026-03-10T07:59:59+07:00" in detail and "2026-03-10T08:00:00+07:00" in detail


async def test_a_result_ready_before_the_receipt_is_refused_with_409_naming_both_facts(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, clock: Clock
) -> None:
    clock.frozen = AFTERNOON
    _, code = await in_state(client, producer, tokens, "received")  # received at 08:30

    response = await post(
        client,
        f"/dossiers/{code}/result-ready",
        tokens.officer,
        {"outcome": "DENIED", "result_reference": "QD-1", "occurred_at": "2026-03-10T08:15:00+07:00"},
    )

    assert response.status_code == 409, response.text
    assert response.json()["reason"] == "before_previous_fact"
    detail = response.json()["detail"]
    assert "agency.result_ready" in detail and "agency.dossier_received" in detail
    assert "2026-03-10T08:15:00+07:00" in detail and "2026-03-10T08:30:00+07:00" in detail
