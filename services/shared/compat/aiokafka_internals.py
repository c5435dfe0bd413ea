"""aiokafka's private parts: the producer's sender task, its idempotence sequence numbers, and the shape
of the group coordinator's "lookup failed" log record.

Checked by tests/compat/test_aiokafka_internals.py; pyproject.toml bounds aiokafka to the tested line.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition

from services.shared.compat import InternalsChangedError, module_path

LIBRARY = "aiokafka"
MODULE = module_path(__name__)


def sender_stopped(producer: AIOKafkaProducer) -> bool:
    """Whether the producer's sender task has ended, so no record of this producer will ever be sent.

    aiokafka has no public "is the producer alive": after the broker refuses its sequence numbers
    (OutOfOrderSequenceNumber and the like) the sender task ends, and every later send waits for
    nothing. services.shared.kafka.ProducerRecovery replaces such a producer.
    """
    task = producer._sender.sender_task
    return task is not None and bool(task.done())


def sequence_numbers(producer: AIOKafkaProducer) -> dict[TopicPartition, int]:
    """TESTS ONLY: the next sequence number of each partition this idempotent producer has sent to.

    aiokafka keeps them in its transaction manager and exposes no list of partitions; the reliability
    test needs the partition its record went to.
    """
    return dict(producer._txn_manager._sequence_numbers)


def skip_sequence_number(producer: AIOKafkaProducer, partition: TopicPartition) -> None:
    """TESTS ONLY: what aiokafka 0.14 does to a batch that expires while its partition has no leader —
    the batch takes a sequence number and is never sent, so the broker sees a gap. No public API makes
    that gap; tests/reliability/test_producer_recovery.py makes it to prove the producer is replaced."""
    producer._txn_manager.increment_sequence_number(partition, 1)


# aiokafka's group coordinator logs each failed coordinator lookup here, at ERROR, every 100 ms while a
# fresh broker's coordinator is starting; services.shared.kafka_groups turns those into one INFO line.
COORDINATOR_LOGGER = "aiokafka.consumer.group_coordinator"
_COORDINATOR_LOOKUP_FAILED = 'log.error("Group Coordinator Request failed: %s", err)'


def coordinator_lookup_error(record: logging.LogRecord) -> object:
    """The error of a "Group Coordinator Request failed" record of COORDINATOR_LOGGER, None if none.

    aiokafka raises nothing a caller could catch while it retries the lookup; it only logs, with the
    error as the record's one argument. Neither the logger's name nor that argument is documented.
    """
    return record.args[0] if isinstance(record.args, tuple) and record.args else None


def check_coordinator_log() -> None:
    """Raise InternalsChangedError unless aiokafka still logs failed coordinator lookups as above."""
    from aiokafka.consumer import group_coordinator

    logger = getattr(group_coordinator, "log", None)
    if not isinstance(logger, logging.Logger) or logger.name != COORDINATOR_LOGGER:
        raise InternalsChangedError(LIBRARY, f"its group coordinator's logger {COORDINATOR_LOGGER}", MODULE)
    if _COORDINATOR_LOOKUP_FAILED not in inspect.getsource(group_coordinator):
        raise InternalsChangedError(
            LIBRARY, f"the coordinator lookup's log line {_COORDINATOR_LOOKUP_FAILED}", MODULE
        )


def check(producer: AIOKafkaProducer) -> None:
    """Raise InternalsChangedError unless `producer` (idempotent, started or not) has the parts above."""
    sender = _require(producer, "_sender", "AIOKafkaProducer._sender")
    if not hasattr(sender, "sender_task"):
        raise InternalsChangedError(LIBRARY, "AIOKafkaProducer._sender.sender_task", MODULE)
    manager = _require(producer, "_txn_manager", "AIOKafkaProducer._txn_manager")
    sequences = _require(manager, "_sequence_numbers", "AIOKafkaProducer._txn_manager._sequence_numbers")
    if not isinstance(sequences, dict):
        raise InternalsChangedError(
            LIBRARY, "a dict of partitions in AIOKafkaProducer._txn_manager._sequence_numbers", MODULE
        )
    if not callable(getattr(manager, "increment_sequence_number", None)):
        raise InternalsChangedError(
            LIBRARY, "AIOKafkaProducer._txn_manager.increment_sequence_number", MODULE
        )


def _require(owner: Any, name: str, described: str) -> Any:
    try:
        return getattr(owner, name)
    except AttributeError:
        raise InternalsChangedError(LIBRARY, described, MODULE) from None
