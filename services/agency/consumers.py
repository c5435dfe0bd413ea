"""The agency service's consumer groups, on services/shared/consuming.py.

- postal.events.v1 (group `agency.postal`): learns which agency each dossier is addressed to and its
  filing time (acceptance and handover records).
- agency.intake.v1 (group `agency.intake`): the reports agency systems publish directly. Contract
  violations are dead-lettered by the BatchProcessor; reports the rules refuse (another agency's dossier,
  a conflict with the dossier's state, …) go to agency.intake.v1.dlt too, with the rule's reason and the
  original bytes. Valid ones are republished on agency.events.v1 with their own event id.

Everything a batch publishes (republished events, dead letters) is acknowledged by Kafka before the
batch's transaction commits: a failure rolls the batch back and retries it, which may publish the same
event ids again (consumers deduplicate) and the same dead letters again (at least once, never lost).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextvars import ContextVar

from faststream.kafka import KafkaBroker
from pydantic_core import from_json
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.envelope import Envelope, encode
from contracts.events import Event
from contracts.topics import AGENCY_INTAKE, POSTAL_EVENTS
from services.agency.handlers import AgencyDesk
from services.agency.metrics import AgencyMetrics
from services.shared.consuming import (
    BatchProcessor,
    ConsumerMetrics,
    DeadLetter,
    DeadLetterSink,
    KafkaDeadLetterSink,
    RawRecord,
    subscribe_batches,
)

# The raw records of the batch being processed, by event id: a dead letter keeps the original bytes.
_BATCH: ContextVar[dict[str, RawRecord]] = ContextVar("agency_intake_batch")


class IntakeProcessor(BatchProcessor):
    """A BatchProcessor whose applier can reach the raw record of each event it rejects."""

    async def process(self, records: Sequence[RawRecord]) -> None:
        token = _BATCH.set(_by_event_id(records))
        try:
            await super().process(records)
        finally:
            _BATCH.reset(token)


def _by_event_id(records: Sequence[RawRecord]) -> dict[str, RawRecord]:
    index: dict[str, RawRecord] = {}
    for record in records:
        try:
            document = from_json(record.value)
            if isinstance(document, dict) and isinstance(document.get("id"), str):
                index.setdefault(str(uuid.UUID(document["id"])), record)
        except ValueError:
            continue  # not an envelope: the BatchProcessor dead-letters it
    return index


def _raw_record(envelope: Envelope[Event]) -> RawRecord:
    record = _BATCH.get({}).get(str(envelope.id))
    if record is not None:
        return record
    # Unreachable while the batch index is set; kept so a dead letter is never lost for want of bytes.
    return RawRecord(AGENCY_INTAKE.name, -1, -1, envelope.subject.encode(), encode(envelope))


class CountingDeadLetterSink:
    """Counts intake dead letters by reason, then hands them to the Kafka sink."""

    def __init__(self, sink: DeadLetterSink, metrics: AgencyMetrics) -> None:
        self._sink = sink
        self._metrics = metrics

    async def __call__(self, letters: Sequence[DeadLetter], consumer: str) -> None:
        await self._sink(letters, consumer)
        for letter in letters:
            self._metrics.intake_dead_letters.labels(letter.reason).inc()


def subscribe(
    broker: KafkaBroker,
    *,
    engine: AsyncEngine,
    desk: AgencyDesk,
    metrics: AgencyMetrics,
    consumer_metrics: ConsumerMetrics,
    postal_group_id: str,
    intake_group_id: str,
    max_records: int = 500,
) -> None:
    postal = BatchProcessor(
        consumer=postal_group_id,
        engine=engine,
        apply=desk.learn_from_postal,
        dead_letters=KafkaDeadLetterSink(broker),
        metrics=consumer_metrics,
    )
    subscribe_batches(
        broker,
        topics=[POSTAL_EVENTS],
        group_id=postal_group_id,
        processor=postal,
        max_records=max_records,
        description="Learns which agency each dossier is addressed to, and its filing time.",
    )

    dead_letters = CountingDeadLetterSink(KafkaDeadLetterSink(broker), metrics)

    async def take_in(conn: AsyncConnection, events: Sequence[Envelope[Event]]) -> None:
        rejected = await desk.take_in(conn, events)
        if rejected:
            letters = [DeadLetter(_raw_record(env), why.reason.value, why.detail) for env, why in rejected]
            await dead_letters(letters, intake_group_id)

    intake = IntakeProcessor(
        consumer=intake_group_id,
        engine=engine,
        apply=take_in,
        dead_letters=dead_letters,
        metrics=consumer_metrics,
    )
    subscribe_batches(
        broker,
        topics=[AGENCY_INTAKE],
        group_id=intake_group_id,
        processor=intake,
        max_records=max_records,
        description="Validates the reports agency systems publish directly; republishes the valid ones.",
    )
