"""A tracker catching up on a backlog reads the postal and agency topics level in time: a dossier's
agency events are not applied before the postal events that happened earlier, so no dossier is folded
again from its whole history (services.shared.alignment). The agency topic holds fewer records per hour,
and a consumer reading both at the same pace in records would run ahead on it."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from bench.events import Population
from services.tracker.adapters.tables import event
from services.tracker.app import build
from services.tracker.consumers import TOPICS
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.tracker.support import eventually, settings_for

DOSSIERS = 150


async def test_a_backlog_of_both_topics_is_applied_in_time_order_without_folding_a_dossier_again(
    migrated_database: str, kafka_admin: KafkaLogin, tracker_kafka: KafkaLogin
) -> None:
    # Small fetches and batches, so the backlog takes many rounds, as a large one does with the defaults.
    settings = settings_for(
        migrated_database, tracker_kafka, max_batch=40, fetch_partition_bytes=16_384, consumers=1
    )
    await start_group_at_end(kafka_admin, settings.consumer_group, TOPICS)
    # Whole journeys, published in the order they happened (no offline scanner: no event is truly late).
    population = Population(DOSSIERS, first=uuid.uuid4().int % 10**7 * 10, late_share=0.0)
    producer = AIOKafkaProducer(**kafka_admin.options(), acks="all", enable_idempotence=True)
    await producer.start()
    by_topic: dict[str, int] = {}
    try:
        sent = []
        # One record a millisecond, as live traffic is stamped: published in a burst, most records of
        # a millisecond would be of equal time to the merge, whatever their order.
        start = int(time.time() * 1000)
        for n, record in enumerate(population.records()):
            sent.append(
                await producer.send(record.topic, record.value, key=record.key, timestamp_ms=start + n)
            )
            by_topic[record.topic] = by_topic.get(record.topic, 0) + 1
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    published = sum(by_topic.values())
    assert len(by_topic) == 2 and min(by_topic.values()) * 2 < published, "both topics, unevenly filled"

    tracker = build(settings)
    try:
        async with tracker.consuming():

            async def all_stored() -> bool:
                async with tracker.engine.connect() as conn:
                    return await conn.scalar(select(func.count()).select_from(event)) == published

            await eventually(all_stored, within=120, what=f"the tracker to store {published} events")
            refolded = tracker.registry.get_sample_value("tracker_refolds_total")
            assert refolded == 0, f"{refolded} dossiers were folded again from their whole history"
    finally:
        await tracker.dispose()
