"""FastStream's private parts: the aiokafka producer under a KafkaBroker, and replacing it.

Checked by tests/compat/test_faststream_internals.py; pyproject.toml bounds faststream to the tested line.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

# Not exported by faststream.kafka: the class of the broker's producer, whose connect/disconnect let a
# dead aiokafka producer be swapped without restarting the broker's consumers.
from faststream.kafka.publisher.producer import AioKafkaFastProducerImpl

from services.shared.compat import InternalsChangedError, module_path

LIBRARY = "faststream"
MODULE = module_path(__name__)


def current_producer(broker: KafkaBroker) -> AIOKafkaProducer | None:
    """The aiokafka producer the broker publishes with, None while it has none.

    FastStream has no public accessor for it; services.shared.kafka.ProducerRecovery compares it with
    the producer a failed publication used (was it renewed meanwhile?) and asks aiokafka whether it is
    still alive. FastStream 0.7 keeps it in its producer's state (an empty state is falsy).
    """
    state = _fast_producer(broker)._producer
    producer = state.producer if state else None
    return producer if isinstance(producer, AIOKafkaProducer) else None


async def replace_producer(broker: KafkaBroker) -> None:
    """Stop the broker's producer and connect a fresh one with the broker's own connection options.

    FastStream connects its producer once, in KafkaBroker.connect, and has no public way to renew it
    alone; reconnecting the whole broker would restart its consumers too. The fresh producer gets the
    options the broker was made with (acks, idempotence, timeouts), which FastStream keeps privately.
    Raises what aiokafka raises when the broker cannot be reached; the broker then has no producer.
    """
    fast = _fast_producer(broker)
    await fast.disconnect()
    fresh = AIOKafkaProducer(**broker._connection_kwargs)
    await fast.connect(fresh, serializer=fast.serializer, codec=fast.codec)


def keep_consuming_after_refused_start(subscriber: Any, on_error: Callable[[BaseException], bool]) -> None:
    """Let a Kafka subscriber outlive an error its start or a poll raises when `on_error` accepts it.

    aiokafka's consumer start waits for the group's first assignment and raises what the coordinator
    met (GroupAuthorizationFailedError); FastStream then ends the broker's start, and the service with
    it. When `on_error` accepts the error, the subscriber is marked running and its consume loop started
    as FastStream's own start would have: the consumer's coordinator keeps retrying the join, and each
    poll re-raises its refusal to the loop (which waits 5 s and polls again), passing `on_error` first.
    FastStream 0.7 keeps the loop, the running flag and the poll private (_run_consume_loop,
    _post_start, get_msg); tests/integration/test_kafka_authorisation.py pins the behaviour.
    """
    for name in ("start", "get_msg", "_run_consume_loop", "_post_start", "add_task"):
        if not callable(getattr(subscriber, name, None)):
            raise InternalsChangedError(LIBRARY, f"the Kafka subscriber's {name}", MODULE)
    start, poll = subscriber.start, subscriber.get_msg

    async def started() -> None:
        try:
            await start()
        except Exception as error:
            if subscriber.consumer is None or not on_error(error):
                raise
            subscriber._post_start()
            if subscriber.calls:
                subscriber.add_task(subscriber._run_consume_loop, (subscriber.consumer,))

    async def polled(consumer: Any) -> Any:
        try:
            return await poll(consumer)
        except Exception as error:
            on_error(error)
            raise

    subscriber.start = started
    subscriber.get_msg = polled


def _fast_producer(broker: KafkaBroker) -> AioKafkaFastProducerImpl:
    fast = broker.config.producer
    if not isinstance(fast, AioKafkaFastProducerImpl):
        raise InternalsChangedError(
            LIBRARY, "KafkaBroker.config.producer as an AioKafkaFastProducerImpl", MODULE
        )
    return fast


def check(broker: KafkaBroker) -> None:
    """Raise InternalsChangedError unless `broker` (connected) has every private part above."""
    config = getattr(broker, "config", None)
    if config is None or not hasattr(config, "producer"):
        raise InternalsChangedError(LIBRARY, "KafkaBroker.config.producer", MODULE)
    fast = _fast_producer(broker)
    for name in ("serializer", "codec", "connect", "disconnect"):
        if not hasattr(fast, name):
            raise InternalsChangedError(LIBRARY, f"AioKafkaFastProducerImpl.{name}", MODULE)
    if not {"producer", "serializer", "codec"} <= set(inspect.signature(fast.connect).parameters):
        raise InternalsChangedError(
            LIBRARY, "AioKafkaFastProducerImpl.connect(producer, serializer, codec)", MODULE
        )
    state: Any = getattr(fast, "_producer", None)
    if not isinstance(getattr(state, "producer", None), AIOKafkaProducer):
        raise InternalsChangedError(
            LIBRARY,
            "the connected AIOKafkaProducer at KafkaBroker.config.producer._producer.producer",
            MODULE,
        )
    options = getattr(broker, "_connection_kwargs", None)
    if not isinstance(options, dict) or "bootstrap_servers" not in options:
        raise InternalsChangedError(LIBRARY, "the producer options in KafkaBroker._connection_kwargs", MODULE)
