"""Every contract event travels through the real broker intact, and a dossier's events stay in order
on one partition."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.envelope import Envelope, decode
from contracts.events import EVENT_TYPES, Event, topic_for
from contracts.samples import sample_envelope
from contracts.topics import DOSSIER_TOPICS
from services.shared.kafka import EventPublisher, make_broker
from tests.fixtures.kafka import KafkaLogin

pytestmark = pytest.mark.kafka

DOSSIERS = 24


async def _end_offsets(kafka: KafkaLogin) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(**kafka.options())
    await consumer.start()
    try:
        partitions = [TopicPartition(t.name, p) for t in DOSSIER_TOPICS for p in range(t.partitions)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def _read_from(kafka: KafkaLogin, start: dict[TopicPartition, int], expected: int) -> list[Any]:
    """Read every record written after `start` on the dossier topics, with an independent client."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        async with asyncio.timeout(60):
            while len(records) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                for tp_records in batch.values():
                    records.extend(tp_records)
    finally:
        await consumer.stop()
    return records


async def test_every_event_of_every_dossier_arrives_intact_on_one_partition_in_publication_order(
    kafka_admin: KafkaLogin,
) -> None:
    dossiers = [str(uuid.uuid4()) for _ in range(DOSSIERS)]
    # Interleave dossiers as real traffic does; within a dossier, events go in journey order.
    published: list[Envelope[Event]] = [
        sample_envelope(key, dossier) for key in EVENT_TYPES for dossier in dossiers
    ]
    start = await _end_offsets(kafka_admin)

    broker = make_broker(kafka_admin.bootstrap, security=kafka_admin.security, client_id="contract-test")
    await broker.connect()
    try:
        publisher = EventPublisher(broker, timeout_s=30)

        # Several concurrent publishers, as several API requests would be; each dossier's events
        # are still published one after another.
        async def publish_dossier(dossier: str) -> None:
            for envelope in published:
                if envelope.subject == dossier:
                    await publisher.publish(envelope)

        await asyncio.gather(*(publish_dossier(d) for d in dossiers))
    finally:
        await broker.stop()

    records = await _read_from(kafka_admin, start, expected=len(published))
    assert len(records) == len(published)

    by_id = {str(e.id): e for e in published}
    seen_order: dict[tuple[str, str], list[str]] = defaultdict(list)
    partitions_of: dict[str, set[int]] = defaultdict(set)
    for record in records:
        envelope = decode(record.value, record.key)
        original = by_id[str(envelope.id)]
        assert envelope == original
        assert record.topic == topic_for(envelope.type).name
        assert record.key == envelope.subject.encode()
        assert dict(record.headers)["ce_type"] == envelope.type.encode()
        partitions_of[envelope.subject].add(record.partition)
        seen_order[(envelope.subject, record.topic)].append(str(envelope.id))

    # All topics have the same partition count, so a dossier maps to the same partition on each.
    assert all(len(parts) == 1 for parts in partitions_of.values()), partitions_of
    assert len({next(iter(p)) for p in partitions_of.values()}) > 1, "dossiers should spread over partitions"
    for (dossier, topic), ids in seen_order.items():
        expected = [str(e.id) for e in published if e.subject == dossier and topic_for(e.type).name == topic]
        assert ids == expected, f"events of {dossier} on {topic} arrived out of order"
    assert {(by_id[i].type, by_id[i].schemaversion) for ids in seen_order.values() for i in ids} == set(
        EVENT_TYPES
    )
