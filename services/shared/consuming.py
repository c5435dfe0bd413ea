"""Consuming dossier events without loss, twice-application or a stuck partition.

The contract every consumer of this system keeps:
- a batch of records is decoded; what breaks the contract goes to the dead-letter topic with the
  reason, the original key and bytes;
- the valid events are applied in ONE database transaction together with their ids in the consumer's
  inbox (`processed_event`), so an event already in the inbox is skipped — redelivery is harmless;
- only after that transaction commits (and the dead letters are acknowledged by Kafka) are the offsets
  committed;
- a database or broker outage is retried with capped exponential backoff, holding the partition (order
  per dossier is kept) until it comes back; so is any other failure outside the handler, because a
  batch given up on would be skipped by the next batch's offset commit;
- an event that makes the handler fail for any other reason is isolated: the batch is replayed one
  record at a time and only the failing record is dead-lettered (`processing_failed`), so one bad
  record cannot block a partition forever.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import AckPolicy
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.envelope import Envelope, decode
from contracts.errors import ContractError, Reason
from contracts.events import Event
from contracts.topics import Topic, by_name
from services.shared.db import bulk
from services.shared.db.availability import is_database_unavailable
from services.shared.db.schema import processed_event
from services.shared.kafka import BrokerUnavailableError, OutgoingRecord, RecordSender
from services.shared.kafka_authorisation import watch_consumer
from services.shared.kafka_groups import group_membership
from services.shared.logs import log_event

logger = logging.getLogger(__name__)

PROCESSING_FAILED = "processing_failed"


@dataclass(frozen=True)
class RawRecord:
    """One Kafka record as consumed, before any parsing."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def of(cls, record: Any) -> RawRecord:
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value if record.value is not None else b"",
            headers=tuple(record.headers or ()),
        )


@dataclass(frozen=True)
class DeadLetter:
    record: RawRecord
    reason: str
    detail: str


class Applier(Protocol):
    """Applies new (never seen by this consumer) events inside the consumer's transaction."""

    async def __call__(self, conn: AsyncConnection, events: Sequence[Envelope[Event]]) -> None: ...


DeadLetterSink = Callable[[Sequence[DeadLetter], str], Awaitable[None]]


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Counter(
            "dossier_consumer_records_total",
            "Records handled by a consumer group, by outcome (applied, duplicate, dead_lettered).",
            ["consumer", "outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "dossier_dead_letters_total",
            "Records sent to a dead-letter topic, by consumer and reason.",
            ["consumer", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            "dossier_consumer_retries_total",
            "Batches retried after a transient failure (database or broker unavailable).",
            ["consumer"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "dossier_consumer_batch_seconds",
            "Time to apply one consumed batch, retries included.",
            ["consumer"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )


def is_transient(exc: BaseException) -> bool:
    """Failures that go away by themselves: the database or the network is down or restarting."""
    return is_database_unavailable(exc) or isinstance(exc, OSError | BrokerUnavailableError)


@dataclass
class Backoff:
    initial_s: float = 0.2
    maximum_s: float = 10.0
    _current: float = field(default=0.0, init=False)

    def reset(self) -> None:
        self._current = 0.0

    async def wait(self) -> None:
        self._current = self.initial_s if self._current == 0 else min(self._current * 2, self.maximum_s)
        # Jitter keeps several replicas from hammering a recovering database in lockstep.
        await asyncio.sleep(self._current * random.uniform(0.75, 1.25))


class BatchProcessor:
    """Applies consumed batches idempotently; see the module docstring for the guarantees."""

    def __init__(
        self,
        *,
        consumer: str,
        engine: AsyncEngine,
        apply: Applier,
        dead_letters: DeadLetterSink,
        metrics: ConsumerMetrics,
        backoff: Backoff | None = None,
    ) -> None:
        self.consumer = consumer
        self._engine = engine
        self._apply = apply
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._backoff = backoff or Backoff()
        # Every series this consumer can move starts at zero: a series first scraped at n loses those n
        # in rate() and increase(), so the dashboards would miss each consumer's first batch.
        for outcome in ("applied", "duplicate", "dead_lettered"):
            metrics.records.labels(consumer, outcome)
        for reason in (*(r.value for r in Reason), PROCESSING_FAILED):
            metrics.dead_letters.labels(consumer, reason)

    async def process(self, records: Sequence[RawRecord]) -> None:
        """Returns once every record is either applied, known as a duplicate, or dead-lettered."""
        with self._metrics.batch_seconds.labels(self.consumer).time():
            valid, rejected = self._decode(records)
            try:
                await self._retrying(lambda: self._apply_batch(valid))
            except _HandlerFailedError:
                # Replay one by one to find the record(s) that break the handler.
                for record, envelope in valid:
                    try:
                        await self._retrying(functools.partial(self._apply_batch, [(record, envelope)]))
                    except _HandlerFailedError as failure:
                        rejected.append(DeadLetter(record, PROCESSING_FAILED, failure.detail))
            if rejected:
                await self._retrying(lambda: self._dead_letters(rejected, self.consumer))
                for letter in rejected:
                    self._metrics.dead_letters.labels(self.consumer, letter.reason).inc()
                    self._metrics.records.labels(self.consumer, "dead_lettered").inc()
                    log_event(
                        logger,
                        "record_dead_lettered",
                        logging.WARNING,
                        consumer=self.consumer,
                        topic=letter.record.topic,
                        partition=letter.record.partition,
                        offset=letter.record.offset,
                        reason=letter.reason,
                    )

    def _decode(
        self, records: Sequence[RawRecord]
    ) -> tuple[list[tuple[RawRecord, Envelope[Event]]], list[DeadLetter]]:
        valid: list[tuple[RawRecord, Envelope[Event]]] = []
        rejected: list[DeadLetter] = []
        for record in records:
            try:
                valid.append((record, decode(record.value, record.key)))
            except ContractError as error:
                rejected.append(DeadLetter(record, error.reason.value, error.detail))
        return valid, rejected

    async def _apply_batch(self, batch: Sequence[tuple[RawRecord, Envelope[Event]]]) -> None:
        if not batch:
            return
        # The same event can appear twice in one batch when a producer retried; keep the first.
        unique: dict[str, Envelope[Event]] = {}
        for _, envelope in batch:
            unique.setdefault(str(envelope.id), envelope)
        async with self._engine.begin() as conn:
            fresh = await _record_in_inbox(conn, self.consumer, unique)
            if fresh:
                try:
                    await self._apply(conn, fresh)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    raise _HandlerFailedError(f"{type(exc).__name__}: handler failed") from exc
        self._metrics.records.labels(self.consumer, "applied").inc(len(fresh))
        self._metrics.records.labels(self.consumer, "duplicate").inc(len(batch) - len(fresh))

    async def _retrying(self, action: Callable[[], Awaitable[None]]) -> None:
        self._backoff.reset()
        while True:
            try:
                await action()
                return
            except _HandlerFailedError:
                raise
            except Exception as exc:
                # Whatever else failed happened around the handler: reading or writing the inbox,
                # committing, publishing dead letters. Giving up would let the next batch's offset
                # commit skip this one, so the partition is held and retried until it goes through;
                # an error that is not a known outage is logged as such for the operator.
                expected = is_transient(exc) or _is_conflict(exc)
                self._metrics.retries.labels(self.consumer).inc()
                log_event(
                    logger,
                    "consumer_retrying",
                    logging.WARNING if expected else logging.ERROR,
                    consumer=self.consumer,
                    error=type(exc).__name__,
                )
                await self._backoff.wait()


async def _record_in_inbox(
    conn: AsyncConnection, consumer: str, unique: dict[str, Envelope[Event]]
) -> list[Envelope[Event]]:
    """Add the events' ids to the consumer's inbox; returns the events that were not in it yet, in order."""
    now = datetime.now(UTC)
    if conn.dialect.name == "postgresql":
        # The ids the insert did not skip are the new events. An id another replica inserted and has
        # not committed yet makes this wait for its commit (then it is skipped) or its rollback (then it
        # is ours). By COPY through a staging table: an array of ids cost asyncpg an abstract-class
        # check per id.
        added = set(
            await bulk.copy_merge(
                conn,
                processed_event,
                _INBOX_COLUMNS,
                [(consumer, event_id, now) for event_id in unique],
                "nothing",
                returning="event_id",
            )
        )
        return [envelope for event_id, envelope in unique.items() if event_id in added]
    seen = set(
        (
            await conn.execute(
                select(processed_event.c.event_id).where(
                    processed_event.c.consumer == consumer,
                    processed_event.c.event_id.in_(list(unique)),
                )
            )
        ).scalars()
    )
    fresh = [envelope for event_id, envelope in unique.items() if event_id not in seen]
    if fresh:
        await conn.execute(
            processed_event.insert(),
            [{"consumer": consumer, "event_id": str(e.id), "processed_at": now} for e in fresh],
        )
    return fresh


_INBOX_COLUMNS = ("consumer", "event_id", "processed_at")


class _HandlerFailedError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _is_conflict(exc: BaseException) -> bool:
    # Two replicas briefly owning one partition during a rebalance can insert the same inbox row; the
    # retry then sees the event as processed.
    from sqlalchemy.exc import IntegrityError

    return isinstance(exc, IntegrityError)


# --------------------------------------------------------------------------- dead-letter publishing

DLT_REASON = "dlt.reason"
DLT_DETAIL = "dlt.detail"
DLT_TOPIC = "dlt.original.topic"
DLT_PARTITION = "dlt.original.partition"
DLT_OFFSET = "dlt.original.offset"
DLT_CONSUMER = "dlt.consumer"
DLT_TIME = "dlt.time"


def dead_letter_headers(letter: DeadLetter, consumer: str, now: datetime) -> dict[str, str]:
    return {
        DLT_REASON: letter.reason,
        DLT_DETAIL: letter.detail[:1000],
        DLT_TOPIC: letter.record.topic,
        DLT_PARTITION: str(letter.record.partition),
        DLT_OFFSET: str(letter.record.offset),
        DLT_CONSUMER: consumer,
        DLT_TIME: now.isoformat(),
    }


def dead_letter_topic(source: str) -> Topic:
    topic = by_name(source)
    if topic.dead_letter is None:
        raise KeyError(f"{source} has no dead-letter topic")
    return topic.dead_letter


class KafkaDeadLetterSink:
    """Publishes dead letters with acks=all: the original key, bytes and headers, plus the reason."""

    def __init__(self, broker: KafkaBroker, *, timeout_s: float = 10.0) -> None:
        self._sender = RecordSender(broker, timeout_s=timeout_s)

    async def __call__(self, letters: Sequence[DeadLetter], consumer: str) -> None:
        now = datetime.now(UTC)
        records = []
        for letter in letters:
            # Where the letter's own headers and ours share a name, ours tell why it is here.
            headers = dict(letter.record.headers)
            headers.update({k: v.encode() for k, v in dead_letter_headers(letter, consumer, now).items()})
            records.append(
                OutgoingRecord(
                    dead_letter_topic(letter.record.topic).name,
                    letter.record.key,
                    letter.record.value,
                    list(headers.items()),
                )
            )
        await self._sender.send(records, "the dead letters")


async def undecoded(_: Any) -> None:
    """The subscribers' decoder: the batch processor parses ``msg.raw_message`` itself, so FastStream's
    default decoder would parse every record's JSON once more only for it to be thrown away."""
    return None


def subscribe_batches(
    broker: KafkaBroker,
    *,
    topics: Sequence[Topic],
    group_id: str,
    processor: BatchProcessor,
    max_records: int = 500,
    batch_timeout_ms: int = 50,
    description: str = "",
    **subscriber_options: Any,
) -> Any:
    """Wire a consumer group to a BatchProcessor: offsets are committed only after `process` returns.

    `subscriber_options` pass through to FastStream's subscriber (e.g. group_instance_id for static
    membership, session_timeout_ms). The member registers in the broker's `group_membership`, which
    says when the group has joined (the service's /ready)."""

    subscriber = broker.subscriber(
        *[topic.name for topic in topics],
        group_id=group_id,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        decoder=undecoded,
        description=description or None,
        listener=group_membership(broker).listener(group_id),
        **subscriber_options,
    )
    # A principal refused its group or topics logs it, shows it in /ready and keeps retrying.
    watch_consumer(broker, subscriber, group_id, [topic.name for topic in topics])

    @subscriber  # type: ignore[untyped-decorator]  # the pass-through options widen FastStream's overloads
    async def on_batch(msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        if records:
            await processor.process([RawRecord.of(r) for r in records])
        await msg.ack()

    return subscriber
