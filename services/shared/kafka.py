"""Publishing envelopes to Kafka with the delivery guarantee the APIs promise.

A publish returns only once the broker has acknowledged the record with acks=all from an idempotent
producer; if that does not happen within the timeout, BrokerUnavailableError is raised and the caller
answers 503. A record whose acknowledgement timed out may still reach the broker later: producers use
deterministic event ids, so a client's retry produces the same event id and consumers deduplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidProducerEpoch, OutOfOrderSequenceNumber, UnknownProducerId
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from contracts.envelope import EncodedEnvelope, Envelope, kafka_record
from contracts.events import topic_for
from services.shared.compat.aiokafka_internals import sender_stopped
from services.shared.compat.faststream_internals import current_producer, replace_producer
from services.shared.kafka_groups import quiet_coordinator_wait
from services.shared.logs import log_event

logger = logging.getLogger(__name__)


class BrokerUnavailableError(Exception):
    """Kafka did not acknowledge in time; nothing may be reported as stored."""


def make_broker(
    bootstrap_servers: str,
    *,
    client_id: str,
    metrics_registry: CollectorRegistry | None = None,
    middlewares: Sequence[Any] = (),
    request_timeout_ms: int = 10_000,
    linger_ms: int = 2,
) -> KafkaBroker:
    quiet_coordinator_wait()
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=request_timeout_ms,
        # A few milliseconds of lingering batches the records of one manifest or offline batch.
        linger_ms=linger_ms,
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


class EventPublisher:
    def __init__(self, broker: KafkaBroker, *, timeout_s: float = 5.0) -> None:
        self._broker = broker
        self._timeout_s = timeout_s
        self._recovery = ProducerRecovery(broker)

    async def publish(self, envelope: Envelope[Any] | EncodedEnvelope) -> None:
        await self.publish_many([envelope])

    async def publish_many(self, envelopes: Sequence[Envelope[Any] | EncodedEnvelope]) -> None:
        """Publish all, then wait for every acknowledgement; all or BrokerUnavailableError."""
        if not envelopes:
            return
        # Encoding errors (an oversize envelope) are the caller's bug, not an outage: raise them as they are.
        records = [(topic_for(envelope.type).name, kafka_record(envelope)) for envelope in envelopes]
        producer = self._recovery.producer()
        try:
            async with asyncio.timeout(self._timeout_s):
                futures = []
                for topic, record in records:
                    futures.append(
                        await self._broker.publish(
                            record.value,
                            topic,
                            key=record.key,
                            headers=record.text_headers(),
                            no_confirm=True,
                        )
                    )
                await asyncio.gather(*futures)
        except TimeoutError as exc:
            await self._recovery.after_failure(producer, exc)
            raise BrokerUnavailableError("Kafka did not acknowledge in time") from exc
        except Exception as exc:  # aiokafka's KafkaError family and connection errors
            await self._recovery.after_failure(producer, exc)
            raise BrokerUnavailableError(f"Kafka refused the publication: {type(exc).__name__}") from exc
