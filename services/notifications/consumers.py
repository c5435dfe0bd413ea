"""The notifications consumer group: postal and agency events (the facts and dates), the tracker's stages
and the clock alerts, in batches, each applied once (the inbox) by the Learner."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topics import AGENCY_EVENTS, CLOCK_ALERTS, POSTAL_EVENTS, STAGE_CHANGED, Topic
from services.notifications.handlers import Learner
from services.shared.consuming import BatchProcessor, ConsumerMetrics, KafkaDeadLetterSink, subscribe_batches

TOPICS: tuple[Topic, ...] = (POSTAL_EVENTS, AGENCY_EVENTS, STAGE_CHANGED, CLOCK_ALERTS)


def subscribe(
    broker: KafkaBroker, *, engine: AsyncEngine, learner: Learner, metrics: ConsumerMetrics, group_id: str
) -> Any:
    processor = BatchProcessor(
        consumer=group_id,
        engine=engine,
        apply=learner,
        dead_letters=KafkaDeadLetterSink(broker),
        metrics=metrics,
    )
    return subscribe_batches(
        broker,
        topics=TOPICS,
        group_id=group_id,
        processor=processor,
        description="Plans the citizens' and desks' messages from the dossiers' facts and stages.",
    )
