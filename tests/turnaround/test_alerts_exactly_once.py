"""Due-soon and overdue alerts are raised once per clock generation and threshold, whatever the number
of replicas ticking at once and however often the service restarts; the outbox publishes each to Kafka
with its deterministic event id — against the real PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from contracts.enums import Leg
from contracts.envelope import decode
from contracts.topics import CLOCK_ALERTS
from services.shared.db.engine import make_engine
from services.shared.kafka import EventPublisher, make_broker
from services.turnaround import domain
from services.turnaround.adapters.tables import clock_alert, outbox
from services.turnaround.app import load_rules
from services.turnaround.domain import ClockRules, Threshold
from services.turnaround.handlers import AlertRaiser, ClockProjector, OutboxRelay
from services.turnaround.metrics import TurnaroundMetrics
from services.turnaround.settings import TurnaroundSettings
from tests.fixtures.kafka import KafkaLogin
from tests.turnaround.journeys import ENTERPRISE, JUDICIAL_RECORD, Journey, vn

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _tick_as_replicas(raisers: list[AlertRaiser], rounds: int = 3) -> int:
    raised = 0
    for _ in range(rounds):
        raised += sum(await asyncio.gather(*(r.tick() for r in raisers)))
    return raised


async def test_alerts_are_raised_once_per_clock_generation_and_threshold_across_replicas_and_restarts(
    migrated_database: str, kafka_admin: KafkaLogin, turnaround_kafka: KafkaLogin
) -> None:
    rules: ClockRules = load_rules(TurnaroundSettings())
    engine = make_engine(migrated_database)
    now = Clock(vn(date(2026, 3, 4)))
    serial = uuid.uuid4().int % 10_000_000
    a = Journey(serial, procedure=ENTERPRISE)  # filed Mon 2 Mar → due Thu 5 Mar
    b = Journey(serial + 1, procedure=JUDICIAL_RECORD)  # filed Mon 2 Mar → due Mon 16 Mar
    c = Journey(serial + 2)  # accepted Mon 2 Mar, J+2 → due Wed 4 Mar
    a.received(vn(date(2026, 3, 2)), rules.calendar, rules.catalog)
    b.received(vn(date(2026, 3, 2)), rules.calendar, rules.catalog)
    c.accepted(vn(date(2026, 3, 2)))
    projector = ClockProjector(rules, now)
    async with engine.begin() as conn:
        await projector(conn, a.events + b.events + c.events)

    def replicas() -> list[AlertRaiser]:
        return [
            AlertRaiser(engine, rules, now, TurnaroundMetrics(CollectorRegistry()), batch=2) for _ in range(3)
        ]

    # Wed 4 Mar: A is due tomorrow, C today; B is far off.
    assert await _tick_as_replicas(replicas()) == 2
    # Fri 6 Mar: both overdue.
    now.now = vn(date(2026, 3, 6), 9)
    assert await _tick_as_replicas(replicas()) == 2
    # A's supplement arrives Fri 6 Mar: the clock restarts (generation 1), due Wed 11 Mar; due soon Tue 10.
    a.agency_event(
        "agency.supplement_requested", vn(date(2026, 3, 5)), missing_documents=("Bản sao",), reason="Thiếu"
    )
    a.agency_event(
        "agency.supplement_received", vn(date(2026, 3, 6), 11), received_at=vn(date(2026, 3, 6), 11)
    )
    async with engine.begin() as conn:
        await projector(conn, a.events[-2:])
    now.now = vn(date(2026, 3, 10), 9)
    assert await _tick_as_replicas(replicas()) == 1
    # A restart (new replicas, same store) raises nothing again.
    assert await _tick_as_replicas(replicas(), rounds=1) == 0

    expected = {
        domain.alert_event_id(a.dossier_id, Leg.AGENCY_PROCESSING, 0, Threshold.DUE_SOON),
        domain.alert_event_id(c.dossier_id, Leg.INBOUND_POSTAL, 0, Threshold.DUE_SOON),
        domain.alert_event_id(a.dossier_id, Leg.AGENCY_PROCESSING, 0, Threshold.OVERDUE),
        domain.alert_event_id(c.dossier_id, Leg.INBOUND_POSTAL, 0, Threshold.OVERDUE),
        domain.alert_event_id(a.dossier_id, Leg.AGENCY_PROCESSING, 1, Threshold.DUE_SOON),
    }
    async with engine.connect() as conn:
        stored = set((await conn.execute(select(clock_alert.c.event_id))).scalars())
        assert await conn.scalar(select(func.count()).select_from(outbox)) == 5
    assert stored == {str(e) for e in expected}

    # Two replicas relay the outbox at once: each alert reaches Kafka once, with its deterministic id.
    partitions = [TopicPartition(CLOCK_ALERTS.name, p) for p in range(CLOCK_ALERTS.partitions)]
    reader = AIOKafkaConsumer(**kafka_admin.options(), enable_auto_commit=False)
    await reader.start()
    start = await reader.end_offsets(partitions)
    # The relays publish as the turnaround service, which alone may write the clock alerts.
    broker = make_broker(
        turnaround_kafka.bootstrap, client_id="turnaround-test-relay", security=turnaround_kafka.security
    )
    await broker.start()
    try:
        relays = [
            OutboxRelay(engine, EventPublisher(broker), TurnaroundMetrics(CollectorRegistry()), batch=2)
            for _ in range(2)
        ]
        published = await asyncio.gather(*(r.publish_pending() for r in relays))
        assert sum(published) == 5
        # Every publication was acknowledged when the relays returned: reading up to the end offsets
        # of now sees each alert and any duplicate a second relay would have published.
        end = await reader.end_offsets(partitions)
        reader.assign(partitions)
        for tp, offset in start.items():
            reader.seek(tp, offset)
        ours = {a.dossier_id, b.dossier_id, c.dossier_id}
        seen: list[uuid.UUID] = []
        async with asyncio.timeout(30):
            while any([await reader.position(tp) < end[tp] for tp in partitions]):
                for records in (await reader.getmany(timeout_ms=300)).values():
                    seen.extend(decode(r.value, r.key).id for r in records if r.key.decode() in ours)
    finally:
        await reader.stop()
        await broker.stop()
    assert sorted(seen) == sorted(expected)
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(outbox)) == 0
    await engine.dispose()
