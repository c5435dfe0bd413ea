"""The tracker's consumer group on postal.events.v1 and agency.events.v1: a thin subscriber around the
shared BatchProcessor (decode, dead-letter, apply in one transaction with the inbox, then commit offsets).

It mirrors services.shared.consuming.subscribe_batches and adds two consumer options the shared helper
does not pass through: static group membership and the session timeout, so a restarted replica gets
its partitions back at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import AckPolicy

from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS, Topic
from services.shared.alignment import TimeAlignment
from services.shared.consuming import BatchProcessor, RawRecord, undecoded
from services.shared.kafka_authorisation import watch_consumer
from services.shared.kafka_groups import group_membership
from services.shared.logs import log_event
from services.tracker.settings import TrackerSettings

logger = logging.getLogger(__name__)

TOPICS: tuple[Topic, ...] = (POSTAL_EVENTS, AGENCY_EVENTS)
FAULT_EXIT_CODE = 75


class TrackerBatchProcessor(BatchProcessor):
    """The shared processor, with a fault-injection hook for the crash test: after ``exit_after_commits``
    batches were committed to the database, the process exits before their offsets reach Kafka."""

    def __init__(self, *, exit_after_commits: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._exit_after = exit_after_commits
        self._committed = 0

    async def process(self, records: Sequence[RawRecord]) -> None:
        await super().process(records)
        if self._exit_after is not None and records:
            self._committed += 1
            if self._committed >= self._exit_after:
                log_event(logger, "fault_injected_exit", logging.WARNING, batches=self._committed)
                logging.shutdown()
                os._exit(FAULT_EXIT_CODE)


def subscribe(broker: KafkaBroker, processor: BatchProcessor, settings: TrackerSettings) -> list[Any]:
    """``settings.consumers`` members of the group, sharing the processor. A batch is applied while its
    member waits for nothing else; the members interleave on the event loop, so one's database round
    trips leave the CPU to another's decoding and folding (one member alone keeps it idle a third of
    the time). Each partition still belongs to one member: every dossier's events stay in order."""
    return [_member(broker, processor, settings, n) for n in range(1, settings.consumers + 1)]


def _member(broker: KafkaBroker, processor: BatchProcessor, settings: TrackerSettings, n: int) -> Any:
    instance = settings.group_instance_id
    if instance is not None and settings.consumers > 1:
        # Static membership names each member; the same names after a restart keep the partitions.
        instance = f"{instance}-{n}"
    subscriber = broker.subscriber(
        *[topic.name for topic in TOPICS],
        group_id=settings.consumer_group,
        group_instance_id=instance,
        batch=True,
        max_records=settings.max_batch,
        batch_timeout_ms=settings.batch_timeout_ms,
        max_partition_fetch_bytes=settings.fetch_partition_bytes,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=min(3_000, settings.session_timeout_ms // 3),
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        decoder=undecoded,
        # /ready stays false until this member has joined the group.
        listener=group_membership(broker).listener(settings.consumer_group),
        description="Every postal and agency event, folded into each dossier's stage, custody and history.",
    )
    # A principal refused its group or topics logs it, shows it in /ready and keeps retrying.
    watch_consumer(broker, subscriber, settings.consumer_group, [topic.name for topic in TOPICS])

    alignment = TimeAlignment()

    @subscriber
    async def on_dossier_events(msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        consumer = msg.consumer if isinstance(msg.consumer, AIOKafkaConsumer) else None
        if consumer is not None:  # not FastStream's in-memory test consumer
            # In a catch-up the agency topic runs ahead of the postal one in time: the batch is merged
            # by record time, and what must wait for the other topic is held for a later batch.
            records = tuple(await alignment.release(consumer, records))
        if records:
            await processor.process([RawRecord.of(record) for record in records])
        # Offsets reach Kafka only after the projection committed (and dead letters were acknowledged),
        # and never past a record held for a later batch.
        if consumer is None:
            await msg.ack()
            return
        assigned = consumer.assignment()
        offsets = {tp: offset for tp, offset in alignment.committable().items() if tp in assigned}
        if offsets:
            await consumer.commit(offsets)

    return subscriber
