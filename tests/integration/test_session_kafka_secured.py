"""The session's broker, that every Kafka test uses, is the secured one: a client that does not log in is
refused, so a test that forgets the security options fails at once instead of passing on PLAINTEXT."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from tests.fixtures.kafka import KafkaBroker

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
