"""The outbox relay against the real broker: what subscribers of tracker.stage-changed.v1 rely on when it
publishes stage changes in record batches per partition (issue 19) — each dossier's changes on the
partition Kafka's own clients give its key, in the order the projection committed them, with the bytes
and headers the projection stored; rows leave the outbox only once Kafka acknowledged them."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from itertools import cycle

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord
from sqlalchemy import func, select

from contracts.enums import ServiceForm
from contracts.envelope import MAX_ENVELOPE_BYTES, EncodedEnvelope, kafka_record
from contracts.errors import ContractError
from contracts.topics import STAGE_CHANGED
from services.shared.kafka import BrokerUnavailableError, EventPublisher
from services.tracker.adapters.outbox import STAGE_CHANGED_TYPE, STAGE_CHANGED_VERSION, to_stage_of
from services.tracker.adapters.tables import outbox
from services.tracker.app import Tracker, build
from tests.fixtures.kafka import KafkaLogin
from tests.tracker.journeys import journey, new_dossier
from tests.tracker.support import end_offsets, read_from, records_of, settings_for

pytestmark = pytest.mark.postgres

# Enough dossiers that a partition gets several of aiokafka's 16 KiB record batches in one round.
DOSSIERS = 90


@pytest.fixture
async def publishing_tracker(migrated_database: str, tracker_kafka: KafkaLogin) -> AsyncIterator[Tracker]:
    """A tracker that publishes with its own principal and consumes nothing (tests feed its processor)."""
    built = build(settings_for(migrated_database, tracker_kafka), consume=False)
    await built.broker.connect()
    try:
        yield built
    finally:
        await built.broker.stop()
        await built.dispose()


async def stored_changes(tracker: Tracker) -> list[tuple[str, str, str]]:
    """(event id, dossier id, payload) of the outbox, in commit order."""
    async with tracker.engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.event_id, outbox.c.dossier_id, outbox.c.payload).order_by(outbox.c.seq)
        )
        return [(r.event_id, r.dossier_id, r.payload) for r in rows]


async def outbox_size(tracker: Tracker) -> int:
    async with tracker.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox)) or 0)


@pytest.mark.kafka
async def test_each_dossiers_stage_changes_reach_the_partition_of_its_key_in_commit_order_as_stored(
    publishing_tracker: Tracker, kafka_admin: KafkaLogin
) -> None:
    tracker = publishing_tracker
    forms = cycle(ServiceForm)
    events = [e for _ in range(DOSSIERS) for e in journey(new_dossier(next(forms)))]
    await tracker.processor.process(records_of(events))
    stored = await stored_changes(tracker)
    assert len(stored) > DOSSIERS * 3
    start = await end_offsets(kafka_admin, STAGE_CHANGED)

    while await tracker.relay.drain_once():
        pass

    assert await outbox_size(tracker) == 0
    ids = {event_id.encode() for event_id, _, _ in stored}

    def ours(record: ConsumerRecord[bytes, bytes]) -> bool:
        return dict(record.headers).get("ce_id") in ids

    records = await read_from(kafka_admin, start, ours, len(stored), within=60)
    assert len(records) == len(stored)
    partitions = list(range(STAGE_CHANGED.partitions))
    kafkas_choice = DefaultPartitioner()
    for record in records:
        assert record.key is not None
        assert record.partition == kafkas_choice(record.key, partitions, partitions)
    # Per dossier, the topic holds its changes in the order the projection committed them, byte for
    # byte, with the headers kafka_record gives a stored envelope.
    on_topic: dict[str, list[tuple[bytes, list[tuple[str, bytes]]]]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None and record.value is not None
        on_topic.setdefault(record.key.decode(), []).append((record.value, list(record.headers)))
    expected: dict[str, list[tuple[bytes, list[tuple[str, bytes]]]]] = {}
    for event_id, dossier_id, payload in stored:
        envelope = EncodedEnvelope(
            event_id, STAGE_CHANGED_TYPE, STAGE_CHANGED_VERSION, dossier_id, payload.encode()
        )
        expected.setdefault(dossier_id, []).append((payload.encode(), kafka_record(envelope).headers))
    assert on_topic == expected
    reached = Counter(to_stage_of(payload) for _, _, payload in stored)
    for stage, count in reached.items():
        assert tracker.registry.get_sample_value(
            "tracker_stage_changes_published_total", {"to_stage": stage}
        ) == float(count)


async def test_stage_changes_kafka_did_not_acknowledge_stay_in_the_outbox(tracker: Tracker) -> None:
    # This tracker's broker is never connected (its Kafka is nowhere): every publication fails.
    events = [e for form in ServiceForm for e in journey(new_dossier(form))]
    await tracker.processor.process(records_of(events))
    before = await stored_changes(tracker)
    assert before

    with pytest.raises(BrokerUnavailableError):
        await tracker.relay.drain_once()

    assert await stored_changes(tracker) == before


async def test_an_oversize_stored_envelope_is_refused_before_anything_is_sent(tracker: Tracker) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    oversize = b" " * (MAX_ENVELOPE_BYTES + 1)
    envelopes = [
        EncodedEnvelope("a", STAGE_CHANGED_TYPE, STAGE_CHANGED_VERSION, dossier.dossier_id, b"{}"),
        EncodedEnvelope("b", STAGE_CHANGED_TYPE, STAGE_CHANGED_VERSION, dossier.dossier_id, oversize),
    ]
    with pytest.raises(ContractError):
        await EventPublisher(tracker.broker).publish_many(envelopes)


def test_the_stage_reached_is_read_from_the_stored_json_whatever_its_layout() -> None:
    compact = '{"id":"x","data":{"from_stage":"ACCEPTED","to_stage":"IN_TRANSIT","late":false}}'
    spaced = '{"id": "x", "data": {"from_stage": "ACCEPTED", "to_stage": "IN_TRANSIT", "late": false}}'
    assert to_stage_of(compact) == to_stage_of(spaced) == "IN_TRANSIT"
