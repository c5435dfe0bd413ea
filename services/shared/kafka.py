"""Publishing envelopes to Kafka with the delivery guarantee the APIs promise.

A publish returns only once the broker has acknowledged the record with acks=all from an idempotent
producer; if that does not happen within the timeout, BrokerUnavailableError is raised and the caller
answers 503. A record whose acknowledgement timed out may still reach the broker later: producers use
deterministic event ids, so a client's retry produces the same event id and consumers deduplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from contracts.envelope import Envelope, kafka_record
from contracts.events import topic_for


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


class EventPublisher:
    def __init__(self, broker: KafkaBroker, *, timeout_s: float = 5.0) -> None:
        self._broker = broker
        self._timeout_s = timeout_s

    async def publish(self, envelope: Envelope[Any]) -> None:
        await self.publish_many([envelope])

    async def publish_many(self, envelopes: Sequence[Envelope[Any]]) -> None:
        """Publish all, then wait for every acknowledgement; all or BrokerUnavailableError."""
        if not envelopes:
            return
        # Encoding errors (an oversize envelope) are the caller's bug, not an outage: raise them as they are.
        records = [(topic_for(envelope.type).name, kafka_record(envelope)) for envelope in envelopes]
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
            raise BrokerUnavailableError("Kafka did not acknowledge in time") from exc
        except Exception as exc:  # aiokafka's KafkaError family and connection errors
            raise BrokerUnavailableError(f"Kafka refused the publication: {type(exc).__name__}") from exc
