"""The post office's consumer group, on services/shared/consuming.py: agency.events.v1 (group
``post-office.agency-events``) tells it when a dossier ends at the agency (services/post_office/
agency_facts.py). Records that break the contract go to agency.events.v1.dlt with their reason; the
inbox makes a redelivered event a no-op; offsets are committed after the batch's transaction."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topics import AGENCY_EVENTS
from services.post_office.agency_facts import AgencyFacts
from services.shared.consuming import BatchProcessor, ConsumerMetrics, KafkaDeadLetterSink, subscribe_batches


def subscribe(
    broker: KafkaBroker,
    *,
    engine: AsyncEngine,
    facts: AgencyFacts,
    metrics: ConsumerMetrics,
    group_id: str,
    max_records: int = 500,
) -> None:
    processor = BatchProcessor(
        consumer=group_id,
        engine=engine,
        apply=facts,
        dead_letters=KafkaDeadLetterSink(broker),
        metrics=metrics,
    )
    subscribe_batches(
        broker,
        topics=[AGENCY_EVENTS],
        group_id=group_id,
        processor=processor,
        max_records=max_records,
        description="Learns when a dossier ends at the agency with no result for the post to carry back, "
        "so the purposes of the contact the post office holds end.",
    )
