"""Poison among valid events: malformed JSON, something that is not an envelope, an unknown event type, an
unknown schema version, data that breaks the schema, an oversize payload, a key that is not the dossier —
on postal.events.v1 (read by the tracker) and agency.intake.v1 (read by the agency service). Each ends in
the topic's dead-letter topic with its reason, original key and bytes, and the valid events behind it on
the same partition are applied."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from contracts.enums import ItemKind
from contracts.envelope import MAX_ENVELOPE_BYTES, Envelope, encode, kafka_record
from contracts.events import Event
from contracts.samples import sample_envelope
from contracts.sources import agency_source
from contracts.topics import AGENCY_EVENTS, AGENCY_INTAKE, POSTAL_EVENTS, Topic
from contracts.values import dossier_id_for_agency_code, dossier_id_for_item
from services.shared.consuming import DLT_CONSUMER, DLT_REASON
from services.tracker.adapters import repository
from services.tracker.app import build
from services.tracker.consumers import TOPICS as TRACKER_TOPICS
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.reliability import apps
from tests.reliability.support import end_offsets, eventually, read_range
from tests.tracker.support import settings_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

REASONS = (
    "malformed_json",
    "not_an_envelope",
    "unknown_type",
    "unknown_version",
    "invalid_data",
    "oversize",
    "key_mismatch",
)


def _poison(valid: Envelope[Event], other_dossier: str) -> list[tuple[str, bytes, bytes]]:
    """(reason, key, value) of each kind of poison, made from a valid envelope of the same dossier."""
    key = valid.subject.encode()
    document = json.loads(encode(valid))

    def changed(change: Callable[[dict[str, Any]], None]) -> bytes:
        copy = json.loads(json.dumps(document))
        copy["id"] = str(uuid.uuid4())
        copy.pop("dataschema", None)
        change(copy)
        return json.dumps(copy, ensure_ascii=False).encode()

    def unknown_type(d: dict[str, Any]) -> None:
        d["type"] = d["data"]["type"] = valid.type.split(".")[0] + ".dossier_teleported"

    def unknown_version(d: dict[str, Any]) -> None:
        d["schemaversion"] = d["data"]["version"] = 99

    def invalid_data(d: dict[str, Any]) -> None:
        d["data"]["agency_code"] = "not an agency code"

    def oversize(d: dict[str, Any]) -> None:
        d["padding"] = "x" * (MAX_ENVELOPE_BYTES + 1)  # an unknown attribute, ignored but for its size

    return [
        ("malformed_json", key, encode(valid)[:-7]),
        ("not_an_envelope", key, b'["an", "array", "is", "not", "an", "envelope"]'),
        ("unknown_type", key, changed(unknown_type)),
        ("unknown_version", key, changed(unknown_version)),
        ("invalid_data", key, changed(invalid_data)),
        ("oversize", key, changed(oversize)),
        ("key_mismatch", other_dossier.encode(), changed(lambda d: None)),
    ]


async def _send(kafka: KafkaLogin, topic: Topic, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        **kafka.options(), acks="all", enable_idempotence=True, max_request_size=2 * 2**20
    )
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic.name, value, key=key)
    finally:
        await producer.stop()


def _valid(envelope: Envelope[Event]) -> tuple[bytes, bytes]:
    record = kafka_record(envelope)
    return record.key, record.value


async def _dead_letters(
    kafka: KafkaLogin, topic: Topic, start: Any, consumer: str, count: int
) -> dict[str, tuple[bytes | None, bytes]]:
    """reason → (key, value) of the dead letters `consumer` wrote since `start`."""
    assert topic.dead_letter is not None

    async def written() -> dict[str, tuple[bytes | None, bytes]] | None:
        ends = await end_offsets(kafka, [topic.dead_letter])  # type: ignore[list-item]
        records = await read_range(
            kafka, start, ends, lambda r: dict(r.headers).get(DLT_CONSUMER) == consumer.encode()
        )
        found = {dict(r.headers)[DLT_REASON].decode(): (r.key, r.value) for r in records}
        assert len(found) == len(records), "one dead letter per poison record, none for a valid one"
        return found if len(found) >= count else None

    return await eventually(written, within=60, what=f"{count} dead letters on {topic.dead_letter.name}")


async def test_poison_on_the_postal_topic_is_dead_lettered_with_its_reason_and_the_tracker_goes_on(
    migrated_database: str, kafka_admin: KafkaLogin, tracker_kafka: KafkaLogin
) -> None:
    item_id, other = apps.new_item_id(), apps.new_item_id()
    dossier_id = dossier_id_for_item(item_id)
    accepted = sample_envelope("postal.dossier_accepted", dossier_id, item_id=item_id)
    in_transit = sample_envelope(
        "postal.dossier_in_transit",
        dossier_id,
        time=accepted.time + timedelta(hours=2),
        item_id=item_id,
        item_kind=ItemKind.DOSSIER,
    )
    poison = _poison(accepted, dossier_id_for_item(other))
    settings = settings_for(migrated_database, tracker_kafka)
    await start_group_at_end(kafka_admin, settings.consumer_group, TRACKER_TOPICS)
    assert POSTAL_EVENTS.dead_letter is not None
    dlt_start = await end_offsets(kafka_admin, [POSTAL_EVENTS.dead_letter])
    tracker = build(settings)
    try:
        async with tracker.consuming():
            await _send(
                kafka_admin,
                POSTAL_EVENTS,
                [_valid(accepted), *((k, v) for _, k, v in poison), _valid(in_transit)],
            )
            letters = await _dead_letters(
                kafka_admin, POSTAL_EVENTS, dlt_start, settings.consumer_group, len(REASONS)
            )

            async def applied() -> Any:
                async with tracker.engine.connect() as conn:
                    row = await repository.get_dossier(conn, dossier_id)
                return row if row is not None and row.event_count == 2 else None

            row = await eventually(applied, within=30, what="the valid events around the poison")
    finally:
        await tracker.dispose()
    assert sorted(letters) == sorted(REASONS)
    assert {reason: letters[reason] for reason, _, _ in poison} == {r: (k, v) for r, k, v in poison}, (
        "each dead letter keeps the original key and bytes"
    )
    assert row.stage == "IN_TRANSIT"


async def test_poison_on_the_intake_topic_is_dead_lettered_and_the_valid_reports_are_republished(
    migrated_database: str, kafka_admin: KafkaLogin, agency_kafka: KafkaLogin
) -> None:
    code, other = apps.new_agency_dossier_code(), apps.new_agency_dossier_code()
    dossier_id = dossier_id_for_agency_code(code)
    filed_at = datetime.now(UTC) - timedelta(hours=3)

    def report(event_type: str, at: datetime, **fields: Any) -> Envelope[Event]:
        envelope = sample_envelope(
            event_type, dossier_id, time=at, agency_code=apps.AGENCY, agency_dossier_code=code, **fields
        )
        return envelope.model_copy(update={"source": agency_source(apps.AGENCY)})

    registered = report(
        "agency.dossier_registered_for_return", filed_at, procedure_code=apps.BY_POST, filed_at=filed_at
    )
    refused = report("agency.dossier_refused", filed_at + timedelta(hours=1))
    poison = _poison(registered, dossier_id_for_agency_code(other))
    assert AGENCY_INTAKE.dead_letter is not None
    dlt_start = await end_offsets(kafka_admin, [AGENCY_INTAKE.dead_letter])
    events_start = await end_offsets(kafka_admin, [AGENCY_EVENTS])
    async with apps.agency(migrated_database, agency_kafka) as agency:
        group = agency.app_settings["intake_group_id"]  # type: ignore[attr-defined]
        await _send(
            kafka_admin,
            AGENCY_INTAKE,
            [_valid(registered), *((k, v) for _, k, v in poison), _valid(refused)],
        )
        letters = await _dead_letters(kafka_admin, AGENCY_INTAKE, dlt_start, group, len(REASONS))

        async def republished() -> list[Any] | None:
            ends = await end_offsets(kafka_admin, [AGENCY_EVENTS])
            found = await read_range(kafka_admin, events_start, ends, lambda r: r.key == dossier_id.encode())
            return found if len(found) >= 2 else None

        records = await eventually(republished, within=30, what="the valid reports on agency.events.v1")
        status = (await agency.get(f"/dossiers/{code}")).json()["status"]
    assert sorted(letters) == sorted(REASONS)
    assert {reason: letters[reason] for reason, _, _ in poison} == {r: (k, v) for r, k, v in poison}
    # Every agency service reading the intake topic republishes (another one of the session may run):
    # the same events, under the same ids.
    once = {str(e.id): e.type for e in (Envelope[Event].model_validate_json(r.value) for r in records)}
    assert list(once.values()) == [
        "agency.dossier_registered_for_return",
        "agency.dossier_refused",
    ]
    assert status == "REFUSED"
