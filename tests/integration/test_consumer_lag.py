"""One definition of consumer lag, on the real broker: per partition, the end offset minus the group's
committed offset, and for a partition the group never committed, the end minus the log start. The local
run's wait for the consumers and the lag the turnaround service exports agree with it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from aiokafka.structs import OffsetAndMetadata

from services.shared.consumer_lag import consumer_lag
from services.stack.lag import consumer_lag as stack_lag
from services.turnaround.adapters.lag import ConsumerLagMonitor
from tests.fixtures.kafka import KafkaLogin

pytestmark = pytest.mark.kafka

RECORDS = 10
COMMITTED_AT = 4  # partition 0: the group committed 4 of 10
LOG_START = 7  # partition 1: never committed, records before 7 deleted
# partition 2: never committed, log from 0


@pytest.fixture
async def topic_and_group(kafka_admin: KafkaLogin) -> AsyncIterator[tuple[str, str]]:
    topic = f"lag-test-{uuid.uuid4().hex}"
    group = f"lag-test-{uuid.uuid4().hex}"
    admin = AIOKafkaAdminClient(**kafka_admin.options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        producer = AIOKafkaProducer(**kafka_admin.options(), acks="all")
        await producer.start()
        try:
            for partition in range(3):
                sent = [producer.send(topic, b"x", partition=partition) for _ in range(RECORDS)]
                await asyncio.gather(*[await s for s in sent])
        finally:
            await producer.stop()
        await admin.delete_records({TopicPartition(topic, 1): RecordsToDelete(LOG_START)})
        committer = AIOKafkaConsumer(**kafka_admin.options(), group_id=group, enable_auto_commit=False)
        await committer.start()
        try:
            committer.assign([TopicPartition(topic, 0)])
            await committer.commit({TopicPartition(topic, 0): OffsetAndMetadata(COMMITTED_AT, "")})
        finally:
            await committer.stop()
        yield topic, group
    finally:
        await admin.delete_topics([topic])
        await admin.close()


EXPECTED = {0: RECORDS - COMMITTED_AT, 1: RECORDS - LOG_START, 2: RECORDS}


async def test_lag_counts_from_the_commit_or_for_a_partition_never_committed_from_the_log_start(
    kafka_admin: KafkaLogin, topic_and_group: tuple[str, str]
) -> None:
    topic, group = topic_and_group

    lag = await consumer_lag(
        kafka_admin.bootstrap, {group: [topic]}, client_id="lag-test", security=kafka_admin.security
    )

    assert lag == {group: {TopicPartition(topic, p): records for p, records in EXPECTED.items()}}


async def test_the_local_run_and_the_exported_metric_report_that_same_lag(
    kafka_admin: KafkaLogin, topic_and_group: tuple[str, str]
) -> None:
    topic, group = topic_and_group
    total = sum(EXPECTED.values())

    waited_for = await stack_lag(kafka_admin.bootstrap, {group: (topic,)}, security=kafka_admin.security)
    exported = await ConsumerLagMonitor(
        kafka_admin.bootstrap, {group: [topic]}, client_id="lag-test", security=kafka_admin.security
    ).measure()

    assert waited_for == {group: total}
    assert exported.lag == {(group, topic): total}
