"""Agency systems publish reports on agency.intake.v1 directly: the same rules as the API apply. Valid
reports are republished on agency.events.v1 with their own event id; the others go to
agency.intake.v1.dlt with the reason and the original bytes. Real broker, real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.enums import Outcome
from contracts.envelope import Envelope, decode, kafka_record
from contracts.events import AgencyEvent, DossierReceived, ResultReady
from contracts.sources import agency_source
from contracts.topics import AGENCY_EVENTS, AGENCY_INTAKE, POSTAL_EVENTS
from contracts.values import dossier_id_for_item
from services.shared.calendar import VN_TZ
from services.shared.consuming import DLT_DETAIL, DLT_REASON, DLT_TOPIC, dead_letter_topic
from tests.agency.conftest import (
    AGENCY,
    OTHER_AGENCY,
    PASSPORT,
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

SIGNED_AT = datetime(2026, 3, 2, 10, 0, tzinfo=VN_TZ)  # passport: legally due Thursday 12 March
LEGAL_DUE = date(2026, 3, 12)
DLT = dead_letter_topic(AGENCY_INTAKE.name)


async def filed_by_post(client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens) -> str:
    item_id = new_item_id()
    await send(producer, POSTAL_EVENTS, postal_journey(item_id, SIGNED_AT))
    await wait_for_status(client, item_id, tokens.officer, "FILED")
    return item_id


def receipt(item_id: str, agency: str = AGENCY, **changes: Any) -> DossierReceived:
    fields: dict[str, Any] = {
        "agency_code": agency,
        "officer_id": "desk-system-1",
        "agency_dossier_code": new_agency_dossier_code(agency),
        "procedure_code": PASSPORT,
        "item_id": item_id,
        "filed_at": SIGNED_AT,
        "legal_due_date": LEGAL_DUE,
        "appointment_date": LEGAL_DUE,
        "appointment_later_than_legal": False,
        **changes,
    }
    return DossierReceived(**fields)


def envelope(
    item_id: str, event: AgencyEvent, source: str | None = None, time: datetime | None = None
) -> Envelope[Any]:
    return Envelope.new(
        event,
        subject=dossier_id_for_item(item_id),
        source=source or agency_source(event.agency_code),
        time=time or datetime(2026, 3, 2, 11, 0, tzinfo=VN_TZ),
        id=uuid.uuid4(),
    )


def as_an_agency_system_writes_it(message: Envelope[Any]) -> bytes:
    """Indented JSON with a field this system does not know: not the bytes this system would encode."""
    document = json.loads(kafka_record(message).value)
    document["x_desk_software"] = "Một cửa điện tử 3.2"
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


async def test_valid_report_is_republished_with_its_own_event_id_once_and_recorded(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, kafka_admin: KafkaLogin
) -> None:
    item_id = await filed_by_post(client, producer, tokens)
    received = envelope(item_id, receipt(item_id))
    key = {dossier_id_for_item(item_id).encode()}

    async with (
        TopicReader(kafka_admin, AGENCY_EVENTS) as events,
        TopicReader(kafka_admin, DLT) as dlt,
    ):
        # The agency system retries its publication: the same event twice.
        await send(producer, AGENCY_INTAKE, [received, received])
        await wait_for_status(client, item_id, tokens.officer, "RECEIVED")
        republished = await events.read(key, at_least=1)
        dead = await dlt.read(key)

    assert {str(decode(r.value, r.key).id) for r in republished} == {str(received.id)}
    assert decode(republished[0].value, republished[0].key).data == received.data
    assert dead == [], "the retry is recognised as the same event, not a second receipt"


async def test_reports_the_rules_refuse_go_to_the_dead_letter_topic_with_the_reason_and_original_bytes(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, kafka_admin: KafkaLogin
) -> None:
    ours = [await filed_by_post(client, producer, tokens) for _ in range(5)]
    unknown = new_item_id()
    desk = {"agency_code": AGENCY, "officer_id": "desk-system-1"}
    ready = ResultReady(
        **desk, agency_dossier_code=new_agency_dossier_code(), outcome=Outcome.DENIED, result_reference="QD-1"
    )
    first_receipt = envelope(ours[4], receipt(ours[4]))
    cases: list[tuple[Envelope[Any], str]] = [
        (envelope(ours[0], receipt(ours[0], agency=OTHER_AGENCY)), "another_agency"),
        (envelope(ours[1], receipt(ours[1]), source=agency_source(OTHER_AGENCY)), "source_mismatch"),
        (envelope(ours[2], ready), "not_received"),
        (
            envelope(
                ours[3],
                receipt(ours[3], legal_due_date=date(2026, 3, 13), appointment_date=date(2026, 3, 13)),
            ),
            "inconsistent",
        ),
        (envelope(unknown, receipt(unknown)), "unknown_dossier"),
        (envelope(ours[4], receipt(ours[4])), "already_received"),
    ]
    malformed_key = str(uuid.uuid4()).encode()
    keys = {dossier_id_for_item(i).encode() for i in [*ours, unknown]}

    async with (
        TopicReader(kafka_admin, AGENCY_EVENTS) as events,
        TopicReader(kafka_admin, DLT) as dlt,
    ):
        await send(producer, AGENCY_INTAKE, [first_receipt])
        sent: dict[bytes, bytes] = {}
        for message, _ in cases:
            raw = as_an_agency_system_writes_it(message)
            sent[str(message.id).encode()] = raw
            await producer.send_and_wait(AGENCY_INTAKE.name, raw, key=message.subject.encode())
        await producer.send_and_wait(AGENCY_INTAKE.name, b'{"specversion": "1.0", "id": ', key=malformed_key)
        dead = await dlt.read(keys | {malformed_key}, at_least=len(cases) + 1)
        republished = await events.read(keys)

    reasons = {r.key: dict(r.headers)[DLT_REASON].decode() for r in dead}
    assert reasons[malformed_key] == "malformed_json"
    by_id = {json.loads(r.value)["id"].encode(): r for r in dead if r.key != malformed_key}
    for message, reason in cases:
        letter = by_id[str(message.id).encode()]
        headers = dict(letter.headers)
        assert headers[DLT_REASON].decode() == reason, headers[DLT_DETAIL].decode()
        assert headers[DLT_TOPIC].decode() == AGENCY_INTAKE.name
        assert letter.value == sent[str(message.id).encode()], "the original bytes, not a re-encoding"
        assert letter.key == message.subject.encode()
    assert [str(decode(r.value, r.key).id) for r in republished] == [str(first_receipt.id)]
    metrics = (await client.get("/metrics")).text
    assert 'agency_intake_dead_letters_total{reason="not_received"}' in metrics
    assert 'agency_intake_dead_letters_total{reason="malformed_json"}' in metrics


async def test_an_officer_and_an_agency_system_share_one_state_machine(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, kafka_admin: KafkaLogin
) -> None:
    item_id = await filed_by_post(client, producer, tokens)
    code = new_agency_dossier_code()
    key = {dossier_id_for_item(item_id).encode()}
    await send(producer, AGENCY_INTAKE, [envelope(item_id, receipt(item_id, agency_dossier_code=code))])
    await wait_for_status(client, item_id, tokens.officer, "RECEIVED")

    async with TopicReader(kafka_admin, DLT) as dlt:
        by_officer = await client.post(
            f"/dossiers/{code}/result-ready",
            json={"outcome": "APPROVED", "result_reference": "HC-2026-7"},
            headers=bearer(tokens.officer),
        )
        ready = ResultReady(
            agency_code=AGENCY,
            officer_id="desk-system-1",
            agency_dossier_code=code,
            outcome=Outcome.APPROVED,
            result_reference="HC-2026-7",
        )
        await send(producer, AGENCY_INTAKE, [envelope(item_id, ready)])
        dead = await dlt.read(key, at_least=1)

    assert by_officer.status_code == 201, by_officer.text
    assert [dict(r.headers)[DLT_REASON].decode() for r in dead] == ["result_already_ready"]


async def test_agency_systems_report_times_are_checked_like_an_officers(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    clock: Clock,
) -> None:
    clock.frozen = datetime(2026, 3, 2, 12, 0, tzinfo=VN_TZ)
    ours = [await filed_by_post(client, producer, tokens) for _ in range(3)]  # handed over at 10:00
    at = datetime(2026, 3, 2, 10, 30, tzinfo=VN_TZ)
    recorded = datetime(2026, 3, 2, 11, 45, tzinfo=VN_TZ)
    valid = envelope(ours[0], receipt(ours[0], recorded_at=recorded), time=at)
    cases: list[tuple[Envelope[Any], str]] = [
        (envelope(ours[1], receipt(ours[1]), time=clock.frozen + timedelta(seconds=121)), "time_in_future"),
        (envelope(ours[2], receipt(ours[2]), time=SIGNED_AT - timedelta(seconds=1)), "before_previous_fact"),
    ]
    keys = {dossier_id_for_item(i).encode() for i in ours}

    async with (
        TopicReader(kafka_admin, AGENCY_EVENTS) as events,
        TopicReader(kafka_admin, DLT) as dlt,
    ):
        await send(producer, AGENCY_INTAKE, [valid, *(message for message, _ in cases)])
        dead = await dlt.read(keys, at_least=len(cases))
        republished = await events.read(keys, at_least=1)

    reasons = {json.loads(r.value)["id"]: dict(r.headers)[DLT_REASON].decode() for r in dead}
    assert reasons == {str(message.id): reason for message, reason in cases}
    [record] = republished
    republished_receipt = decode(record.value, record.key)
    assert republished_receipt.time == at
    assert isinstance(republished_receipt.data, AgencyEvent)
    assert republished_receipt.data.recorded_at == recorded
    view = await client.get(f"/dossiers/{ours[0]}", headers=bearer(tokens.officer))
    assert datetime.fromisoformat(view.json()["received_at"]) == at
