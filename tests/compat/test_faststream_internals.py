"""services/shared/compat/faststream_internals.py against the installed FastStream and the real broker."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from importlib.metadata import version

import pytest
from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker

from services.shared.compat import InternalsChangedError, faststream_internals
from services.shared.compat.aiokafka_internals import sender_stopped, sequence_numbers
from services.shared.compat.faststream_internals import current_producer, replace_producer
from services.shared.kafka import make_broker
from tests.compat.topics import own_topic
from tests.fixtures.kafka import KafkaLogin

pytestmark = [pytest.mark.kafka]


@pytest.fixture
async def broker(kafka_admin: KafkaLogin) -> AsyncIterator[KafkaBroker]:
    # The admin: it publishes on a topic of the test's own, which no service's principal may write.
    broker = make_broker(
        kafka_admin.bootstrap, client_id=f"compat-{uuid.uuid4().hex[:8]}", security=kafka_admin.security
    )
    await broker.connect()
    yield broker
    await broker.stop()


async def test_the_installed_faststream_has_every_private_part_the_compat_module_uses(
    broker: KafkaBroker,
) -> None:
    faststream_internals.check(broker)


async def test_a_missing_private_part_names_faststream_its_version_and_the_module_to_update(
    broker: KafkaBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(broker, "_connection_kwargs")
    expected = (
        f"faststream {version('faststream')} no longer has the producer options in "
        "KafkaBroker._connection_kwargs: services/shared/compat/faststream_internals.py must be updated"
    )
    with pytest.raises(InternalsChangedError, match=re.escape(expected)):
        faststream_internals.check(broker)


async def test_a_producer_kept_elsewhere_is_named_too(
    broker: KafkaBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broker.config.producer, "_producer", object())
    with pytest.raises(
        InternalsChangedError, match=re.escape("KafkaBroker.config.producer._producer.producer")
    ):
        faststream_internals.check(broker)


async def test_a_broker_has_no_producer_before_it_connects(kafka_admin: KafkaLogin) -> None:
    unconnected = make_broker(
        kafka_admin.bootstrap, client_id="compat-unconnected", security=kafka_admin.security
    )
    assert current_producer(unconnected) is None


async def test_a_replaced_producer_is_a_new_running_one_the_broker_publishes_with(
    broker: KafkaBroker, kafka_admin: KafkaLogin
) -> None:
    topic = await own_topic(kafka_admin)
    old = current_producer(broker)
    assert old is not None
    await replace_producer(broker)
    new = current_producer(broker)
    assert new is not None and new is not old
    assert sender_stopped(old) and not sender_stopped(new)
    await broker.publish(b"after the swap", topic, key=b"k")
    # Made with the broker's own options: idempotent, so it numbers what it sends.
    assert sequence_numbers(new) == {TopicPartition(topic, 0): 1}
    faststream_internals.check(broker)
