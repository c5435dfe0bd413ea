"""A consumer group applies each event once, dead-letters what it cannot use, and commits offsets only
after its work is stored — against the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Envelope, kafka_record
from contracts.events import POSTAL, Event
from contracts.samples import sample_envelope
from contracts.topics import POSTAL_EVENTS
from services.shared.consuming import (
    DLT_REASON,
    BatchProcessor,
    ConsumerMetrics,
    KafkaDeadLetterSink,
    subscribe_batches,
)
from services.shared.db.engine import make_engine
from services.shared.db.schema import processed_event
from services.shared.kafka import make_broker
from tests.fixtures.kafka import KafkaLogin

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def _end_offsets(kafka: KafkaLogin, topic: str, partitions: int) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(**kafka.options())
    await consumer.start()
    try:
        return dict(await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)]))
    finally:
        await consumer.stop()


async def _read_dead_letters(
    kafka: KafkaLogin, start: dict[TopicPartition, int], keys: set[bytes]
) -> list[Any]:
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        async with asyncio.timeout(30):
            # Until every key has a dead letter: one key can have several (a poison event published
            # twice is dead-lettered twice), so counting records is not enough.
            while not keys <= {r.key for r in found}:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    found.extend(r for r in records if r.key in keys)
    finally:
        await consumer.stop()
    return found


async def test_each_event_is_applied_once_poison_is_dead_lettered_and_offsets_follow_the_commit(
    kafka_admin: KafkaLogin, migrated_database: str
) -> None:
    dossiers = [str(uuid.uuid4()) for _ in range(3)]
    valid = [sample_envelope(model.key(), d) for d in dossiers for model in POSTAL]
    breaking = valid[4]  # the handler fails on this one for a reason retrying cannot fix
    applied: list[str] = []

    async def apply(conn: AsyncConnection, events: Sequence[Envelope[Event]]) -> None:
        for envelope in events:
            if envelope.id == breaking.id:
                raise ValueError("this event trips a bug in the handler")
        applied.extend(str(e.id) for e in events)

    poison_keys = {str(uuid.uuid4()).encode() for _ in range(3)}
    malformed_key, unknown_type_key, mismatched_key = sorted(poison_keys)
    unknown = json.loads(kafka_record(valid[0]).value)
    unknown["type"] = "postal.dossier_teleported"
    unknown["subject"] = unknown_type_key.decode()
    del unknown["dataschema"]

    dlt = POSTAL_EVENTS.dead_letter
    assert dlt is not None
    dlt_start = await _end_offsets(kafka_admin, dlt.name, dlt.partitions)

    producer = AIOKafkaProducer(**kafka_admin.options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        # Every valid event twice (a producer retry), interleaved with poison.
        for envelope in valid + valid:
            record = kafka_record(envelope)
            await producer.send_and_wait(POSTAL_EVENTS.name, record.value, key=record.key)
        await producer.send_and_wait(POSTAL_EVENTS.name, b"{not json", key=malformed_key)
        await producer.send_and_wait(POSTAL_EVENTS.name, json.dumps(unknown).encode(), key=unknown_type_key)
        await producer.send_and_wait(POSTAL_EVENTS.name, kafka_record(valid[1]).value, key=mismatched_key)
    finally:
        await producer.stop()

    engine = make_engine(migrated_database)
    group = f"test-consumer-{uuid.uuid4().hex[:8]}"
    broker = make_broker(kafka_admin.bootstrap, security=kafka_admin.security, client_id=group)
    processor = BatchProcessor(
        consumer=group,
        engine=engine,
        apply=apply,
        dead_letters=KafkaDeadLetterSink(broker),
        metrics=ConsumerMetrics(CollectorRegistry()),
    )
    subscribe_batches(broker, topics=[POSTAL_EVENTS], group_id=group, processor=processor)
    partitions = [TopicPartition(POSTAL_EVENTS.name, p) for p in range(POSTAL_EVENTS.partitions)]
    ends = await _end_offsets(kafka_admin, POSTAL_EVENTS.name, POSTAL_EVENTS.partitions)
    checker = AIOKafkaConsumer(**kafka_admin.options(), group_id=group, enable_auto_commit=False)
    await checker.start()
    await broker.start()
    try:
        expected = {str(e.id) for e in valid} - {str(breaking.id)}
        async with asyncio.timeout(60):
            while not expected <= set(applied):
                await asyncio.sleep(0.2)
        dead = await _read_dead_letters(kafka_admin, dlt_start, poison_keys | {breaking.subject.encode()})
        # The topic also holds earlier tests' records: the group works through them all, and commits
        # every partition to its end once the work is stored.
        behind: list[TopicPartition] = partitions
        async with asyncio.timeout(90):
            while behind:
                behind = [tp for tp in partitions if (await checker.committed(tp) or 0) < ends[tp]]
                await asyncio.sleep(0.3)
    finally:
        await broker.stop()
        await checker.stop()

    ours = [i for i in applied if i in expected]
    assert Counter(ours) == Counter(expected), "every valid event applied exactly once"
    reasons = {r.key: dict(r.headers)[DLT_REASON].decode() for r in dead}
    assert reasons[malformed_key] == "malformed_json"
    assert reasons[unknown_type_key] == "unknown_type"
    assert reasons[mismatched_key] == "key_mismatch"
    assert reasons[breaking.subject.encode()] == "processing_failed"
    original = next(r for r in dead if r.key == malformed_key)
    assert original.value == b"{not json", "the dead letter keeps the original bytes"

    async with engine.connect() as conn:
        inbox = set(
            (
                await conn.execute(
                    select(processed_event.c.event_id).where(
                        processed_event.c.consumer == group, processed_event.c.event_id.in_(expected)
                    )
                )
            ).scalars()
        )
        stored = await conn.scalar(
            select(func.count()).select_from(processed_event).where(processed_event.c.consumer == group)
        )
    await engine.dispose()
    assert inbox == expected, "each applied event is in the inbox"
    # Offsets follow the commit: every record the group committed past was applied (in the inbox) —
    # the events of the whole topic, ours and earlier tests', each once.
    assert stored == len(set(applied)), "every applied event was stored before its offset was committed"
