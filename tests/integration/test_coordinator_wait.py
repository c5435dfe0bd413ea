"""A consumer started against a broker that has just come up waits for its group coordinator quietly:
the wait is logged at INFO, readiness stays false until the group has joined, and nothing is logged at
ERROR. A real failure of the coordinator lookup still is."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    GroupCoordinatorNotAvailableError,
    KafkaConnectionError,
    NotCoordinatorForGroupError,
)
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from contracts.topics import POSTAL_EVENTS
from services.shared.consuming import BatchProcessor, ConsumerMetrics, subscribe_batches
from services.shared.kafka import make_broker
from services.shared.kafka_groups import (
    COORDINATOR_LOGGER,
    WAITING_FOR_COORDINATOR,
    CoordinatorWaitFilter,
    GroupMembership,
    group_membership,
)
from services.tracker.app import build as build_tracker
from services.turnaround.app import build as build_turnaround
from services.turnaround.settings import TurnaroundSettings
from tests.fixtures.kafka import KAFKA_SCRIPT, KafkaBroker, KafkaLogin, _free_port_pair, _prepare_topics
from tests.tracker.support import SECRET, settings_for


@pytest.fixture
def fresh_kafka() -> Iterator[KafkaLogin]:
    """A broker of this test's own, so its group coordinator (the __consumer_offsets topic) does not
    exist yet, as on a freshly deployed cluster; secured like the session's."""
    data_dir = Path(tempfile.mkdtemp(prefix="dossier-kafka-fresh-"))
    port = _free_port_pair()
    broker = KafkaBroker(bootstrap=f"127.0.0.1:{port}", data_dir=data_dir, port=port)
    try:
        broker.start_secure()
        _prepare_topics(broker.admin)
        yield broker.admin
    finally:
        subprocess.run(["bash", str(KAFKA_SCRIPT), "stop", str(data_dir)], check=False, timeout=120)
        shutil.rmtree(data_dir, ignore_errors=True)


class _Recorder(logging.Handler):
    """Every record, with whether the membership reported ready when it was logged."""

    def __init__(self, membership: GroupMembership) -> None:
        super().__init__(logging.DEBUG)
        self.membership = membership
        self.records: list[tuple[logging.LogRecord, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record, self.membership.not_ready()))


async def _nothing(conn: AsyncConnection, events: Any) -> None:
    raise AssertionError("the topic of a fresh broker holds nothing")


async def _unused_sink(letters: Any, consumer: str) -> None:
    raise AssertionError("nothing to dead-letter")


@pytest.mark.kafka
async def test_consumer_on_a_fresh_broker_waits_for_the_coordinator_at_info_and_is_ready_once_joined(
    fresh_kafka: KafkaLogin,
) -> None:
    group = f"coordinator-wait-{uuid.uuid4()}"
    broker = make_broker(
        fresh_kafka.bootstrap, client_id="coordinator-wait-test", security=fresh_kafka.security
    )
    engine = create_async_engine("sqlite+aiosqlite://")
    processor = BatchProcessor(
        consumer=group,
        engine=engine,
        apply=_nothing,
        dead_letters=_unused_sink,
        metrics=ConsumerMetrics(CollectorRegistry()),
    )
    subscribe_batches(broker, topics=[POSTAL_EVENTS], group_id=group, processor=processor)
    membership = group_membership(broker)
    recorder = _Recorder(membership)
    root = logging.getLogger()
    aiokafka_level = logging.getLogger("aiokafka").level
    root.addHandler(recorder)
    logging.getLogger("aiokafka").setLevel(logging.INFO)
    try:
        assert membership.not_ready() is not None, "ready before the consumer even started"
        await broker.start()
        async with asyncio.timeout(120):
            while membership.not_ready() is not None:
                await asyncio.sleep(0.05)
    finally:
        root.removeHandler(recorder)
        logging.getLogger("aiokafka").setLevel(aiokafka_level)
        await broker.stop()
        await engine.dispose()

    errors = [f"{r.name}: {r.getMessage()}" for r, _ in recorder.records if r.levelno >= logging.ERROR]
    assert errors == [], "a coordinator that is still starting is not an error"
    waits = [(r, ready) for r, ready in recorder.records if r.getMessage() == WAITING_FOR_COORDINATOR]
    assert waits, "the wait for the coordinator is logged"
    assert all(r.levelno == logging.INFO for r, _ in waits)
    assert all(reason is not None for _, reason in waits), "ready while still waiting for the coordinator"
    # The lookup is retried every 100 ms; the log says so now and then, not each time.
    assert len(waits) <= 10


def _lookup_failure(error: Exception) -> logging.LogRecord:
    return logging.getLogger(COORDINATOR_LOGGER).makeRecord(
        COORDINATOR_LOGGER, logging.ERROR, __file__, 1, "Group Coordinator Request failed: %s", (error,), None
    )


def test_every_broker_quiets_the_coordinator_wait() -> None:
    make_broker("127.0.0.1:1", client_id="coordinator-filter-test")
    make_broker("127.0.0.1:1", client_id="coordinator-filter-test")
    filters = logging.getLogger(COORDINATOR_LOGGER).filters
    assert sum(isinstance(f, CoordinatorWaitFilter) for f in filters) == 1


@pytest.mark.parametrize("error", [KafkaConnectionError(), GroupAuthorizationFailedError("g")])
def test_a_real_coordinator_lookup_failure_is_still_logged_at_error(error: Exception) -> None:
    record = _lookup_failure(error)
    assert CoordinatorWaitFilter().filter(record)
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith("Group Coordinator Request failed")


def test_a_coordinator_not_yet_available_is_logged_at_info_now_and_then() -> None:
    quiet = CoordinatorWaitFilter(every_s=3600)
    first = _lookup_failure(GroupCoordinatorNotAvailableError())
    again = _lookup_failure(NotCoordinatorForGroupError())
    assert quiet.filter(first)
    assert (first.levelno, first.getMessage()) == (logging.INFO, WAITING_FOR_COORDINATOR)
    assert not quiet.filter(again), "the lookup is retried every 100 ms: one line, not one per retry"


def test_a_group_member_assigned_no_partition_has_joined() -> None:
    """More replicas than partitions leave some with none; they are members all the same."""
    membership = GroupMembership()
    first, second = membership.listener("g"), membership.listener("g")
    assert membership.not_ready() is not None
    first.on_partitions_assigned(set())
    assert membership.not_ready() is not None, "one member of two joined"
    second.on_partitions_assigned(set())
    assert membership.not_ready() is None


def test_the_consumers_of_the_tracker_and_turnaround_hold_readiness_until_they_join() -> None:
    """Building connects nothing: before the lifespan starts the broker, /ready names the groups."""
    url = "postgresql+asyncpg://nobody@127.0.0.1:9/nothing"
    tracker = build_tracker(settings_for(url, consumers=2))
    turnaround = build_turnaround(
        TurnaroundSettings.model_validate(
            {
                "DATABASE_URL": url,
                "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
                "DOSSIER_AUTH_SECRET": SECRET,
                "consumer_group": "turnaround-readiness",
            }
        )
    )

    assert group_membership(tracker.broker).not_ready() == (
        f"consumer group not joined yet: {tracker.settings.consumer_group}"
    )
    waiting = group_membership(turnaround.broker).not_ready()
    assert waiting == "consumer group not joined yet: turnaround-readiness"
