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
from collections.abc import Sequence
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidProducerEpoch, OutOfOrderSequenceNumber, UnknownProducerId
from aiokafka.partitioner import DefaultPartitioner, murmur2
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry, Counter, Gauge

from contracts.envelope import EncodedEnvelope, Envelope, kafka_record
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
        try:
            if producer is None:
                raise BrokerUnavailableError(f"no producer is connected to Kafka for {what}")
            async with asyncio.timeout(self._timeout_s):
                futures = [
                    await producer.send(r.topic, r.value, key=r.key, headers=r.headers) for r in records
                ]
                await asyncio.gather(*futures)
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
                raise KafkaNotAuthorisedError(
                    refusals.refused(exc, "write", {r.topic for r in records})
                ) from exc
            await self._recovery.after_failure(producer, exc)
            raise BrokerUnavailableError(f"Kafka refused {what}: {type(exc).__name__}") from exc
        kafka_refusals(self._broker).lifted("write", "topic", {r.topic for r in records})
        published = _PUBLISHED.get(self._broker)
        if published is not None:
            for topic, count in collections.Counter(r.topic for r in records).items():
                published.labels(topic).inc(count)


class EventPublisher:
    """Publishes envelopes, each to its type's topic, keyed by its subject."""

    def __init__(self, broker: KafkaBroker, *, timeout_s: float = 5.0) -> None:
        self._sender = RecordSender(broker, timeout_s=timeout_s)

    async def publish(self, envelope: Envelope[Any] | EncodedEnvelope) -> None:
        await self.publish_many([envelope])

    async def publish_many(self, envelopes: Sequence[Envelope[Any] | EncodedEnvelope]) -> None:
        """Publish all, then wait for every acknowledgement; all or BrokerUnavailableError."""
        # Encoding errors (an oversize envelope) are the caller's bug, not an outage: raise them as they are.
        records = []
        for envelope in envelopes:
            record = kafka_record(envelope)
            records.append(
                OutgoingRecord(topic_for(envelope.type).name, record.key, record.value, record.headers)
            )
        await self._sender.send(records)
