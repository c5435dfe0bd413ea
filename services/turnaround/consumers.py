"""The turnaround consumer group: postal and agency events, in batches, into the clock projector."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS, Topic
from services.shared.consuming import BatchProcessor, ConsumerMetrics, KafkaDeadLetterSink, subscribe_batches
from services.turnaround.handlers import ClockProjector

TOPICS: tuple[Topic, ...] = (POSTAL_EVENTS, AGENCY_EVENTS)


def subscribe(
    broker: KafkaBroker,
    *,
    engine: AsyncEngine,
    projector: ClockProjector,
    metrics: ConsumerMetrics,
    group_id: str,
) -> Any:
    processor = BatchProcessor(
        consumer=group_id,
        engine=engine,
        apply=projector,
        dead_letters=KafkaDeadLetterSink(broker),
        metrics=metrics,
    )
    return subscribe_batches(
        broker,
        topics=TOPICS,
        group_id=group_id,
        processor=processor,
        description="Runs the legal clocks of each dossier from its postal and agency events.",
    )
