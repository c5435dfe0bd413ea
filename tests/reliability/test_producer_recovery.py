"""The publisher the APIs share (services/shared/kafka.py) must publish again once the broker is back.

test_broker_outage.py found, in about half of its runs, a partition that refused every later publication
with OutOfOrderSequenceNumber after the broker's restart, so the API answered 503 for its dossiers until
the service restarted. The cause is in aiokafka (0.14): a batch that expires while its partition has no
leader (RecordAccumulator.drain_by_nodes → _pop_batch) takes the partition's next sequence number and is
failed without being sent; the idempotent producer then sends every later batch of the partition with a
sequence the broker has a gap before. This test makes that gap deterministically (the one line that does
what aiokafka does) and checks that the publisher recovers, against the real broker.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from aiokafka import TopicPartition

from contracts.samples import sample_envelope
from contracts.values import dossier_id_for_item
from services.shared.compat.aiokafka_internals import sequence_numbers, skip_sequence_number
from services.shared.compat.faststream_internals import current_producer
from services.shared.kafka import BrokerUnavailableError, EventPublisher, make_broker
from tests.fixtures.ids import unique_item_id
from tests.fixtures.kafka import KafkaLogin

pytestmark = [pytest.mark.kafka]


async def test_a_partition_with_a_gap_in_its_producer_sequence_takes_publications_again(
    post_office_kafka: KafkaLogin,
) -> None:
    item_id = unique_item_id("EB")
    dossier_id = dossier_id_for_item(item_id)

    def envelope() -> Any:
        return sample_envelope("postal.dossier_accepted", dossier_id, item_id=item_id).model_copy(
            update={"id": uuid.uuid4()}
        )

    # The post office's publisher, logged in as the post office: its idempotent producer may write
    # postal.events.v1 and nothing else.
    broker = make_broker(
        post_office_kafka.bootstrap,
        security=post_office_kafka.security,
        client_id=f"recovery-{uuid.uuid4().hex[:6]}",
    )
    await broker.connect()
    publisher = EventPublisher(broker, timeout_s=2)
    refusals: list[str] = []
    try:
        await publisher.publish(envelope())
        producer = current_producer(broker)
        assert producer is not None
        (partition,) = [tp for tp, seq in sequence_numbers(producer).items() if seq > 0]
        assert isinstance(partition, TopicPartition)
        # What aiokafka does to a batch that expires while its partition has no leader.
        skip_sequence_number(producer, partition)
        # The client retries after each 503, as Retry-After tells it to.
        deadline = time.monotonic() + 8
        while True:
            try:
                await publisher.publish(envelope())
                break
            except BrokerUnavailableError as refused:
                refusals.append(str(refused))
                assert time.monotonic() < deadline, f"refused for 8 s: {sorted(set(refusals))}"
    finally:
        await broker.stop()
