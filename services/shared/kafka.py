"""Publishing envelopes to Kafka with the delivery guarantee the APIs promise.

A publish returns only once the broker has acknowledged the record with acks=all from an idempotent
producer; if that does not happen within the timeout, BrokerUnavailableError is raised and the caller
answers 503. A record whose acknowledgement timed out may still reach the broker later: producers use
deterministic event ids, so a client's retry produces the same event id and consumers deduplicate.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidProducerEpoch, OutOfOrderSequenceNumber, UnknownProducerId
from aiokafka.partitioner import DefaultPartitioner, murmur2
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry, Counter, Gauge

from contracts.envelope import (
    MAX_ENVELOPE_BYTES,
    STRUCTURED_CONTENT_TYPE,
    EncodedEnvelope,
    Envelope,
    kafka_record,
)
from contracts.errors import ContractError, Reason
from contracts.events import topic_for
from services.shared.compat.aiokafka_internals import sender_stopped
from services.shared.compat.faststream_internals import current_producer, replace_producer
from services.shared.kafka_authorisation import KafkaNotAuthorisedError, is_refusal, kafka_refusals
from services.shared.kafka_groups import quiet_coordinator_wait
from services.shared.kafka_security import PLAINTEXT, KafkaSecurity
from services.shared.logs import log_event

logger = logging.getLogger(__name__)


class BrokerUnavailableError(Exception):
    """Kafka did not acknowledge in time; nothing may be reported as stored."""


@functools.lru_cache(maxsize=32_768)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def keyed_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's DefaultPartitioner (Kafka's murmur2 of the key, so the Java clients agree on every
    dossier's partition), remembering the hashes of recent keys: murmur2 is pure Python in aiokafka, a
    dossier's events are published close together, and hashing was a twentieth of the tracker's CPU
    when its relay published thousands of stage changes a second (issue 19)."""
    if key is None:
        return int(DefaultPartitioner()(key, all_partitions, available))
    return all_partitions[_key_hash(key) % len(all_partitions)]


def make_broker(
    bootstrap_servers: str,
    *,
    client_id: str,
    metrics_registry: CollectorRegistry | None = None,
    middlewares: Sequence[Any] = (),
    request_timeout_ms: int = 10_000,
    linger_ms: int = 2,
    security: KafkaSecurity = PLAINTEXT,
) -> KafkaBroker:
    """The service's FastStream broker; `security` is its login on a secured broker (its own principal,
    which may write only its own topics: kafka_security_of(settings))."""
    quiet_coordinator_wait()
    if metrics_registry is not None:
        _in_process_gauge(metrics_registry)
    broker = KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=request_timeout_ms,
        # A few milliseconds of lingering batches the records of one manifest or offline batch.
        linger_ms=linger_ms,
        partitioner=keyed_partitioner,
        security=security.faststream(),
        # FastStream's messaging metrics (published/received messages, durations, errors) on the
        # service's own registry, so /metrics shows them beside the service's metrics.
        middlewares=(
            *middlewares,
            *(
                [KafkaPrometheusMiddleware(registry=metrics_registry, app_name=client_id)]
                if metrics_registry is not None
                else []
            ),
        ),
        logger=None,
    )
    # Who this broker logs in as, named by its refusals (kafka_not_authorised, /ready).
    kafka_refusals(broker).principal = security.username or "ANONYMOUS"
    if metrics_registry is not None:
        _PUBLISHED[broker] = Counter(
            "dossier_events_published",
            "Records this service published and Kafka acknowledged (acks=all), by topic: events, "
            "stage changes, clock alerts and dead letters.",
            ["topic"],
            registry=metrics_registry,
        )
    return broker


def _in_process_gauge(registry: CollectorRegistry) -> None:
    """FastStream's gauge of the messages being handled, made before its middleware makes it: FastStream
    takes a metric of that name already on the registry. Its own has prometheus_client's default
    multiprocess mode, which reports one series per worker process, labelled by pid; a service on
    several workers (services.shared.worker_metrics) reports the sum over its live workers instead."""
    Gauge(
        "faststream_received_messages_in_process",
        "Gauge of received messages in process by broker and handler",
        ["app_name", "broker", "handler"],
        registry=registry,
        multiprocess_mode="livesum",
    )


# The counter of records each broker published, registered on the service's registry by make_broker.
_PUBLISHED: weakref.WeakKeyDictionary[KafkaBroker, Counter] = weakref.WeakKeyDictionary()


# The broker refused the producer's id or sequence: aiokafka's sender stops for good, and every later
# record of this producer would wait for nothing.
_FATAL_PRODUCER_ERRORS = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch)


class ProducerRecovery:
    """Replaces the broker's producer when it can never deliver again.

    An idempotent producer numbers its records per partition. aiokafka 0.14 gives a sequence number to
    a batch that expires while its partition has no leader (a broker restart) without sending it; the
    broker then refuses every later batch of that partition with OutOfOrderSequenceNumber, and the
    sender task ends. Without a new producer (a new producer id, sequences from zero) the service would
    answer 503 until restarted. Records the old producer had not delivered were already reported as
    failed to their callers (503), so nothing acknowledged is lost by the swap.
    """

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker
        self._lock = asyncio.Lock()

    def producer(self) -> AIOKafkaProducer | None:
        return current_producer(self._broker)

    async def after_failure(self, failed: AIOKafkaProducer | None, error: BaseException) -> None:
        """Called after a publication on `failed` failed: renew the producer if it is dead and still in
        use, or connect one if an earlier renewal could not."""
        dead = failed is not None and (isinstance(error, _FATAL_PRODUCER_ERRORS) or sender_stopped(failed))
        if not dead and failed is not None:
            return  # alive: the broker is slow or away, and the producer retries by itself
        async with self._lock:
            if current_producer(self._broker) is not failed:
                return  # another request renewed it meanwhile
            try:
                await replace_producer(self._broker)
            except Exception as exc:
                # The broker is unreachable right now: the broker has no producer until the next
                # failure (publishing without one fails at once) tries again.
                log_event(logger, "producer_renewal_failed", logging.WARNING, error=type(exc).__name__)
                return
            log_event(logger, "producer_renewed", logging.WARNING, cause=type(error).__name__)


class OutgoingRecord(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class KeyedRecord(NamedTuple):
    """A record of `RecordSender.send_batched`: its topic is the batch's."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class RecordSender:
    """Sends records with the broker's idempotent acks=all producer and waits for every acknowledgement.

    Records go to that aiokafka producer directly rather than through ``KafkaBroker.publish``: the
    broker's per-message middlewares (a correlation id, a metrics scope, a publish command) cost more
    than the send itself, and the tracker's outbox relay publishes thousands of stage changes a second
    (issue 19). What the middleware counted is counted in ``dossier_events_published_total``, by topic.
    """

    def __init__(self, broker: KafkaBroker, *, timeout_s: float) -> None:
        self._broker = broker
        self._timeout_s = timeout_s
        self._recovery = ProducerRecovery(broker)

    async def send(self, records: Sequence[OutgoingRecord], what: str = "the publication") -> None:
        """All acknowledged, or BrokerUnavailableError (`what` names the records in its message)."""
        if not records:
            return
        producer = self._recovery.producer()

        async def deliver(producer: AIOKafkaProducer) -> None:
            futures = [await producer.send(r.topic, r.value, key=r.key, headers=r.headers) for r in records]
            await asyncio.gather(*futures)

        await self._guarded(producer, deliver, what, {r.topic for r in records})
        self._count(collections.Counter(r.topic for r in records))

    async def send_batched(
        self, topic: str, records: Sequence[KeyedRecord], what: str = "the publication"
    ) -> None:
        """The same guarantee as `send` for many keyed records of one topic, at a fraction of its CPU.

        The records are appended to one record batch per partition (aiokafka's create_batch and
        send_batch) instead of one `send` and one future each: at thousands of records a second the
        per-record path was a twentieth of the tracker's CPU (issue 19). Each record goes to the
        partition `keyed_partitioner` gives its key, as `send` would place it, and keeps its order
        among that partition's records; the batches of a partition are submitted in order, and the
        idempotent producer keeps them so.
        """
        if not records:
            return
        producer = self._recovery.producer()

        async def deliver(producer: AIOKafkaProducer) -> None:
            partitions = list(await producer.partitions_for(topic))
            count = len(partitions)
            # Partition -> its batches in order; only the last one is still open.
            batches: dict[int, list[Any]] = {}
            for key, value, headers in records:
                partition = partitions[_key_hash(key) % count]
                queue = batches.get(partition)
                if queue is None:
                    queue = batches[partition] = [producer.create_batch()]
                if queue[-1].append(timestamp=None, key=key, value=value, headers=headers) is None:
                    # Full: a new batch takes it (an empty batch takes any record that fits a request).
                    queue.append(producer.create_batch())
                    queue[-1].append(timestamp=None, key=key, value=value, headers=headers)
            futures = []
            # Round by round, every partition's next batch: the producer queues one batch per partition
            # at a time, so submitting one partition's batches all in a row would wait on each send.
            for round_ in range(max(len(queue) for queue in batches.values())):
                for partition, queue in batches.items():
                    if round_ < len(queue):
                        batch = queue[round_]
                        batch.close()
                        futures.append(await producer.send_batch(batch, topic, partition=partition))
            await asyncio.gather(*futures)

        await self._guarded(producer, deliver, what, {topic})
        self._count({topic: len(records)})

    async def _guarded(
        self,
        producer: AIOKafkaProducer | None,
        deliver: Callable[[AIOKafkaProducer], Awaitable[None]],
        what: str,
        topics: set[str],
    ) -> None:
        """Run `deliver` within the timeout, turning failures into BrokerUnavailableError or
        KafkaNotAuthorisedError and renewing a producer that can never deliver again."""
        try:
            if producer is None:
                raise BrokerUnavailableError(f"no producer is connected to Kafka for {what}")
            async with asyncio.timeout(self._timeout_s):
                await deliver(producer)
        except BrokerUnavailableError as exc:
            await self._recovery.after_failure(producer, exc)
            raise
        except TimeoutError as exc:
            await self._recovery.after_failure(producer, exc)
            raise BrokerUnavailableError(f"Kafka did not acknowledge {what} in time") from exc
        except Exception as exc:  # aiokafka's KafkaError family and connection errors
            if is_refusal(exc):
                # Not an outage: the principal lacks the ACL, and a retry will not help until an
                # operator adds it. Said once in the log, shown by /ready, answered 503 by the APIs.
                refusals = kafka_refusals(self._broker)
                raise KafkaNotAuthorisedError(refusals.refused(exc, "write", topics)) from exc
            await self._recovery.after_failure(producer, exc)
            raise BrokerUnavailableError(f"Kafka refused {what}: {type(exc).__name__}") from exc
        kafka_refusals(self._broker).lifted("write", "topic", topics)

    def _count(self, by_topic: Mapping[str, int]) -> None:
        published = _PUBLISHED.get(self._broker)
        if published is not None:
            for topic, count in by_topic.items():
                published.labels(topic).inc(count)


# The headers kafka_record gives an envelope (contracts.envelope): the content type, then its id, type
# and schema version; by (type, version) its topic and the last two.
CONTENT_TYPE_HEADER = ("content-type", STRUCTURED_CONTENT_TYPE.encode())
_FIXED_HEADERS: dict[tuple[str, int], tuple[str, tuple[str, bytes], tuple[str, bytes]]] = {}


class EventPublisher:
    """Publishes envelopes, each to its type's topic, keyed by its subject."""

    def __init__(self, broker: KafkaBroker, *, timeout_s: float = 5.0) -> None:
        self._sender = RecordSender(broker, timeout_s=timeout_s)

    async def publish(self, envelope: Envelope[Any] | EncodedEnvelope) -> None:
        await self.publish_many([envelope])

    async def publish_many(self, envelopes: Sequence[Envelope[Any] | EncodedEnvelope]) -> None:
        """Publish all, then wait for every acknowledgement; all or BrokerUnavailableError.

        Envelopes encoded earlier (all EncodedEnvelope: what a relay takes from its outbox, by the
        thousand) go in record batches per partition (RecordSender.send_batched), with the key and
        headers kafka_record gives them."""
        if envelopes and all(type(envelope) is EncodedEnvelope for envelope in envelopes):
            await self._publish_encoded(cast("Sequence[EncodedEnvelope]", envelopes))
            return
        # Encoding errors (an oversize envelope) are the caller's bug, not an outage: raise them as they are.
        records = []
        for envelope in envelopes:
            record = kafka_record(envelope)
            records.append(
                OutgoingRecord(topic_for(envelope.type).name, record.key, record.value, record.headers)
            )
        await self._sender.send(records)

    async def _publish_encoded(self, envelopes: Sequence[EncodedEnvelope]) -> None:
        by_topic: dict[str, list[KeyedRecord]] = {}
        for event_id, event_type, schemaversion, subject, value in envelopes:
            if len(value) > MAX_ENVELOPE_BYTES:
                # As kafka_record refuses it, before anything is sent.
                raise ContractError(
                    Reason.OVERSIZE,
                    f"the envelope is {len(value)} bytes, over the limit of {MAX_ENVELOPE_BYTES}",
                )
            fixed = _FIXED_HEADERS.get((event_type, schemaversion))
            if fixed is None:
                fixed = _FIXED_HEADERS[(event_type, schemaversion)] = (
                    topic_for(event_type).name,
                    ("ce_type", event_type.encode()),
                    ("ce_schemaversion", str(schemaversion).encode()),
                )
            topic, type_header, version_header = fixed
            record = KeyedRecord(
                subject.encode(),
                value,
                [CONTENT_TYPE_HEADER, ("ce_id", str(event_id).encode()), type_header, version_header],
            )
            records = by_topic.get(topic)
            if records is None:
                by_topic[topic] = [record]
            else:
                records.append(record)
        for topic, records in by_topic.items():
            await self._sender.send_batched(topic, records)
