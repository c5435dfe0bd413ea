"""services/shared/compat/aiokafka_internals.py against the installed aiokafka, with a real producer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from importlib.metadata import version

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from services.shared.compat import InternalsChangedError, aiokafka_internals
from services.shared.compat.aiokafka_internals import sender_stopped, sequence_numbers, skip_sequence_number
from tests.compat.topics import own_topic
from tests.fixtures.kafka import KafkaLogin


@pytest.fixture
async def idle_producer() -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent producer as services make them, never connected (nothing listens on port 9)."""
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", acks="all", enable_idempotence=True)
    yield producer
    await producer.stop()


async def test_the_installed_aiokafka_has_every_private_part_the_compat_module_uses(
    idle_producer: AIOKafkaProducer,
) -> None:
    aiokafka_internals.check(idle_producer)


async def test_a_missing_private_part_names_aiokafka_its_version_and_the_module_to_update(
    idle_producer: AIOKafkaProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(idle_producer, "_sender")
    expected = (
        f"aiokafka {version('aiokafka')} no longer has AIOKafkaProducer._sender: "
        "services/shared/compat/aiokafka_internals.py must be updated"
    )
    with pytest.raises(InternalsChangedError, match=re.escape(expected)):
        aiokafka_internals.check(idle_producer)


async def test_a_sender_without_its_task_is_named_too(
    idle_producer: AIOKafkaProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idle_producer, "_sender", object())
    with pytest.raises(
        InternalsChangedError, match=re.escape("no longer has AIOKafkaProducer._sender.sender_task")
    ):
        aiokafka_internals.check(idle_producer)


@pytest.mark.kafka
async def test_the_sender_is_alive_while_the_producer_runs_and_stopped_after(kafka_admin: KafkaLogin) -> None:
    producer = AIOKafkaProducer(**kafka_admin.options(), acks="all", enable_idempotence=True)
    assert not sender_stopped(producer)  # never started: no task yet
    await producer.start()
    try:
        assert not sender_stopped(producer)
    finally:
        await producer.stop()
    assert sender_stopped(producer)


@pytest.mark.kafka
async def test_sequence_numbers_count_the_records_sent_and_a_skip_makes_a_gap(
    kafka_admin: KafkaLogin,
) -> None:
    topic = await own_topic(kafka_admin)
    producer = AIOKafkaProducer(**kafka_admin.options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        aiokafka_internals.check(producer)
        await producer.send_and_wait(topic, b"one", key=b"k", partition=0)
        await producer.send_and_wait(topic, b"two", key=b"k", partition=0)
        partition = TopicPartition(topic, 0)
        assert sequence_numbers(producer)[partition] == 2
        skip_sequence_number(producer, partition)
        assert sequence_numbers(producer)[partition] == 3
    finally:
        await producer.stop()


def test_aiokafka_still_logs_a_failed_coordinator_lookup_with_its_error_as_the_argument() -> None:
    aiokafka_internals.check_coordinator_log()


def test_a_renamed_coordinator_logger_names_aiokafka_and_the_module_to_update(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aiokafka_internals, "COORDINATOR_LOGGER", "aiokafka.consumer.coordinator")
    expected = (
        f"aiokafka {version('aiokafka')} no longer has its group coordinator's logger "
        "aiokafka.consumer.coordinator: services/shared/compat/aiokafka_internals.py must be updated"
    )
    with pytest.raises(InternalsChangedError, match=re.escape(expected)):
        aiokafka_internals.check_coordinator_log()


def test_a_changed_log_line_is_named_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        aiokafka_internals,
        "_COORDINATOR_LOOKUP_FAILED",
        'log.error("Coordinator lookup failed", exc_info=err)',
    )
    with pytest.raises(InternalsChangedError, match=re.escape("the coordinator lookup's log line")):
        aiokafka_internals.check_coordinator_log()
