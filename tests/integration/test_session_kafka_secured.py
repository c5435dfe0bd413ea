"""The session's broker, that every Kafka test uses, is the secured one: a client that does not log in is
refused, so a test that forgets the security options fails at once instead of passing on PLAINTEXT."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import GroupAuthorizationFailedError, KafkaConnectionError, TopicAuthorizationFailedError

from contracts.topics import AGENCY_EVENTS, AGENCY_INTAKE, POSTAL_EVENTS, by_name
from services.shared.consumer_lag import consumer_lag
from tests.fixtures.kafka import KafkaBroker, KafkaLogin

pytestmark = pytest.mark.kafka


async def _send(bootstrap: str, topic: str, **options: object) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **options)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=uuid.uuid4().bytes)
    finally:
        await producer.stop()


async def test_the_session_broker_refuses_a_plaintext_client(kafka_broker: KafkaBroker) -> None:
    if kafka_broker.data_dir is None:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS points at an external broker, secured or not by its operator")
    with pytest.raises(KafkaConnectionError):
        await _send(kafka_broker.bootstrap, POSTAL_EVENTS.name)


async def test_a_services_login_on_the_session_broker_has_only_its_own_rights(
    kafka_broker: KafkaBroker,
) -> None:
    if kafka_broker.data_dir is None:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS points at an external broker with logins of its operator")
    post_office = kafka_broker.for_service("post_office")
    await _send(post_office.bootstrap, POSTAL_EVENTS.name, **post_office.security.client_options())
    with pytest.raises(TopicAuthorizationFailedError):
        await _send(post_office.bootstrap, AGENCY_EVENTS.name, **post_office.security.client_options())


async def test_the_turnaround_may_describe_every_services_groups_for_their_lag_but_not_join_them(
    kafka_broker: KafkaBroker, kafka_admin: KafkaLogin
) -> None:
    """The pipeline dashboard shows every group's lag, which the turnaround exports: its principal may
    describe the other services' groups and the topics they read (deploy/kafka/acls.tsv), and no more."""
    if kafka_broker.data_dir is None:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS points at an external broker with logins of its operator")
    run = uuid.uuid4().hex[:10]
    groups = {f"tracker-lag-{run}": [POSTAL_EVENTS.name], f"agency.intake-lag-{run}": [AGENCY_INTAKE.name]}
    for group, (topic,) in groups.items():
        committer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **kafka_admin.options())
        await committer.start()
        try:
            committer.assign([TopicPartition(topic, 0)])
            await committer.commit({TopicPartition(topic, 0): 0})
        finally:
            await committer.stop()

    turnaround = kafka_broker.for_service("turnaround")
    lag = await consumer_lag(turnaround.bootstrap, groups, "lag-acl-test", security=turnaround.security)

    for group, (topic,) in groups.items():
        assert {tp.partition for tp in lag[group]} == set(range(by_name(topic).partitions)), group
    joiner = AIOKafkaConsumer(
        POSTAL_EVENTS.name, group_id=f"tracker-lag-{run}", **turnaround.options(), request_timeout_ms=10_000
    )
    with pytest.raises(GroupAuthorizationFailedError):
        try:
            await asyncio.wait_for(joiner.start(), timeout=60)
            await asyncio.wait_for(joiner.getone(), timeout=60)
        finally:
            await joiner.stop()
