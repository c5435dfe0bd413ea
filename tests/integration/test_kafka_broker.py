"""The real broker the other integration tests stand on: the registry's topics, and writes that last."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import RecordMetadata

from contracts.topics import POSTAL_EVENTS, Topic, all_topics
from services.shared.kafka_admin import TopicMismatchError, create_topics
from tests.fixtures.kafka import KafkaBroker, KafkaLogin

pytestmark = pytest.mark.kafka


async def test_every_registry_topic_exists_with_its_partition_count(kafka_admin: KafkaLogin) -> None:
    found = {t["topic"]: len(t["partitions"]) for t in await _admin(kafka_admin, "describe_topics")}

    assert {t.name: found.get(t.name) for t in all_topics()} == {t.name: t.partitions for t in all_topics()}


async def test_every_registry_topic_has_its_retention_and_one_in_sync_replica(
    kafka_admin: KafkaLogin,
) -> None:
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, t.name, {"retention.ms": None, "min.insync.replicas": None})
        for t in all_topics()
    ]
    responses = await _admin(kafka_admin, "describe_configs", resources)
    configs = {
        resource["resource_name"]: {e["config_names"]: e["config_value"] for e in resource["config_entries"]}
        for response in responses
        for resource in response.to_object()["resources"]
    }

    assert configs == {
        t.name: {"retention.ms": str(t.retention_ms), "min.insync.replicas": "1"} for t in all_topics()
    }


async def test_creating_the_registry_topics_again_changes_nothing(kafka_admin: KafkaLogin) -> None:
    await create_topics(kafka_admin.bootstrap, all_topics(), security=kafka_admin.security)

    described = {t["topic"]: t for t in await _admin(kafka_admin, "describe_topics")}
    assert len(described[POSTAL_EVENTS.name]["partitions"]) == POSTAL_EVENTS.partitions


async def test_topic_with_fewer_partitions_than_the_registry_is_refused(kafka_admin: KafkaLogin) -> None:
    name = f"scratch.fewer-partitions.{uuid.uuid4().hex}"
    await create_topics(
        kafka_admin.bootstrap,
        [Topic(name=name, partitions=1, description="scratch")],
        security=kafka_admin.security,
    )
    try:
        with pytest.raises(TopicMismatchError, match=f"{name} has 1, needs 3"):
            await create_topics(
                kafka_admin.bootstrap,
                [Topic(name=name, partitions=3, description="scratch")],
                security=kafka_admin.security,
            )
    finally:
        await _admin(kafka_admin, "delete_topics", [name])


async def test_message_sent_with_acks_all_and_idempotence_is_consumed_back(kafka_admin: KafkaLogin) -> None:
    key, value = _dossier_message()

    sent = await _produce(kafka_admin, key, value)

    assert await _consume_at(kafka_admin, sent) == (key, value)


async def test_acknowledged_message_survives_a_clean_restart(kafka_broker: KafkaBroker) -> None:
    key, value = _dossier_message()
    sent = await _produce(kafka_broker.admin, key, value)

    await asyncio.to_thread(kafka_broker.stop)
    await asyncio.to_thread(kafka_broker.start)

    assert await _consume_at(kafka_broker.admin, sent) == (key, value)


async def test_acknowledged_message_survives_a_kill_and_restart(kafka_broker: KafkaBroker) -> None:
    key, value = _dossier_message()
    sent = await _produce(kafka_broker.admin, key, value)

    await asyncio.to_thread(kafka_broker.kill)
    await asyncio.to_thread(kafka_broker.start)

    assert await _consume_at(kafka_broker.admin, sent) == (key, value)


def _dossier_message() -> tuple[bytes, bytes]:
    dossier_id = uuid.uuid4().hex
    return dossier_id.encode(), f'{{"subject": "{dossier_id}"}}'.encode()


async def _admin(kafka: KafkaLogin, method: str, *args: Any) -> Any:
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        return await getattr(admin, method)(*args)
    finally:
        await admin.close()


async def _produce(kafka: KafkaLogin, key: bytes, value: bytes) -> RecordMetadata:
    producer = AIOKafkaProducer(**kafka.options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        return await producer.send_and_wait(POSTAL_EVENTS.name, value=value, key=key)
    finally:
        await producer.stop()


async def _consume_at(kafka: KafkaLogin, sent: RecordMetadata) -> tuple[bytes, bytes]:
    partition = TopicPartition(sent.topic, sent.partition)
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    return record.key, record.value
