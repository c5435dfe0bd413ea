"""Each breach kind opens exactly one nonconformity, in the transaction that applies the event — also when
the events are delivered again, when the log is replayed from its start by a fresh consumer group onto
the same register, and when it is rebuilt into an empty database (the same ids) — against the real
PostgreSQL and, through the turnaround consumer group, the real Kafka.

Three dossiers hold the seven kinds (eight breaches), filed in March 2026 under Decree 118/2025 (an
enterprise registration: 3 working days; intra-provincial postal legs: J+2).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import DeliveryFailureReason, SupplementBreach
from contracts.envelope import Envelope
from contracts.events import Event
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from services.shared.consuming import ConsumerMetrics
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.shared.kafka import make_broker
from services.turnaround import consumers
from services.turnaround.adapters import repository
from services.turnaround.adapters.tables import nonconformity, nonconformity_audit
from services.turnaround.app import load_rules
from services.turnaround.domain import ClockRules
from services.turnaround.handlers import ClockProjector
from services.turnaround.quality.breaches import BreachKind
from services.turnaround.quality.nonconformity_metrics import nonconformity_metrics
from services.turnaround.settings import TurnaroundSettings
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.postgres import create_database
from tests.reliability.support import Offsets, end_offsets, eventually, lag
from tests.tracker.support import publish
from tests.turnaround.journeys import ENTERPRISE, Journey, vn

D = date
NOW = vn(D(2026, 3, 31))
AGENCY = "000.00.01.H22"
OFFICE = "100000"
Key = tuple[str, str, str]


def _journey(serial: int) -> Journey:
    return Journey(serial, procedure=ENTERPRISE, post_office=OFFICE, agency=AGENCY)


def _requested(j: Journey, at: datetime, number: int, *reasons: SupplementBreach) -> None:
    flags: dict[str, Any] = {"breach": True, "breach_reasons": reasons} if reasons else {"breach": False}
    j.agency_event(
        "agency.supplement_requested",
        at,
        missing_documents=("Bản sao",),
        reason="Thiếu",
        request_number=number,
        rule_set="decree_118_2025",
        **flags,
    )


def breaching_dossiers(rules: ClockRules) -> tuple[list[Journey], Counter[Key]]:
    """Three dossiers' events, and the (dossier, kind, occurrence) of every breach they hold."""
    serial = uuid.uuid4().int % 9_000_000
    a, b, c = _journey(serial), _journey(serial + 1), _journey(serial + 2)

    # A: filed Mon 2 Mar (due Thu 5 Mar); a delay notice on its due date (late), then a second one.
    a.accepted(vn(D(2026, 3, 2), 8))
    a.handed_over(vn(D(2026, 3, 2)))
    a.received(vn(D(2026, 3, 2)), rules.calendar, rules.catalog)
    for issued, previous, new, breach in (
        (D(2026, 3, 5), D(2026, 3, 5), D(2026, 3, 12), True),
        (D(2026, 3, 10), D(2026, 3, 12), D(2026, 3, 17), False),
    ):
        a.agency_event(
            "agency.delay_notified",
            vn(issued),
            previous_due_date=previous,
            new_due_date=new,
            issued_on=issued,
            breach=breach,
        )
    a.agency_event("agency.result_ready", vn(D(2026, 3, 16)))

    # B: accepted Mon 2 Mar (J+2: Wed 4 Mar), handed over Thu 5 Mar (late leg); asked twice, the second
    # time after its window; the result ready Wed 25 Mar, late, without a delay notice.
    b.accepted(vn(D(2026, 3, 2), 8))
    b.handed_over(vn(D(2026, 3, 5)))
    b.received(vn(D(2026, 3, 5)), rules.calendar, rules.catalog)
    _requested(b, vn(D(2026, 3, 6)), 1)
    b.agency_event("agency.supplement_received", vn(D(2026, 3, 9)), received_at=vn(D(2026, 3, 9)))
    _requested(
        b,
        vn(D(2026, 3, 17)),
        2,
        SupplementBreach.SECOND_SUPPLEMENT_REQUEST,
        SupplementBreach.LATE_SUPPLEMENT_REQUEST,
    )
    b.agency_event("agency.supplement_received", vn(D(2026, 3, 18)), received_at=vn(D(2026, 3, 18)))
    b.agency_event("agency.result_ready", vn(D(2026, 3, 25)))

    # C: ready Wed 4 Mar, picked up that day (J+2: Fri 6 Mar), first attempt Mon 9 Mar (late leg), then
    # returned to the agency.
    c.accepted(vn(D(2026, 3, 2), 8))
    c.handed_over(vn(D(2026, 3, 2)))
    c.received(vn(D(2026, 3, 2)), rules.calendar, rules.catalog)
    c.agency_event("agency.result_ready", vn(D(2026, 3, 4)))
    c.picked_up(vn(D(2026, 3, 4), 14))
    c.postal_event("postal.delivery_failed", vn(D(2026, 3, 9), 9), reason=DeliveryFailureReason.NOT_AT_HOME)
    returned = c.postal_event(
        "postal.result_returned_to_agency",
        vn(D(2026, 3, 13), 15),
        agency_code=AGENCY,
        attempts=2,
        reason=DeliveryFailureReason.NOT_AT_HOME,
    )
    result_item = returned.data.result_item_id  # type: ignore[attr-defined]

    expected = Counter(
        {
            (a.dossier_id, BreachKind.LATE_DELAY_NOTICE.value, "notice-1"): 1,
            (a.dossier_id, BreachKind.SECOND_DELAY_NOTICE.value, "notice-2"): 1,
            (b.dossier_id, BreachKind.POSTAL_LEG_LATE.value, "INBOUND_POSTAL"): 1,
            (b.dossier_id, BreachKind.SECOND_SUPPLEMENT_REQUEST.value, "request-2"): 1,
            (b.dossier_id, BreachKind.LATE_SUPPLEMENT_REQUEST.value, "request-2"): 1,
            (b.dossier_id, BreachKind.RESULT_LATE_WITHOUT_DELAY_NOTICE.value, "AGENCY_PROCESSING"): 1,
            (c.dossier_id, BreachKind.POSTAL_LEG_LATE.value, "RETURN_POSTAL"): 1,
            (c.dossier_id, BreachKind.RESULT_RETURNED_TO_AGENCY.value, result_item): 1,
        }
    )
    assert {kind for _, kind, _ in expected} == {k.value for k in BreachKind}, "every kind is exercised"
    return [a, b, c], expected


async def register_of(engine: AsyncEngine) -> Counter[Key]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(nonconformity.c.dossier_id, nonconformity.c.kind, nonconformity.c.occurrence)
        )
        return Counter((r.dossier_id, r.kind, r.occurrence) for r in rows)


async def ids_of(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(nonconformity.c.nonconformity_id))).scalars())


async def opened_by_kind(engine: AsyncEngine) -> dict[str, float]:
    async with engine.connect() as conn:
        family = nonconformity_metrics(await repository.read_tallies(conn))
    return {s.labels["kind"]: s.value for s in family.samples if s.name.endswith("_total")}


def _interleaved(journeys: Sequence[Journey]) -> list[Envelope[Event]]:
    return sorted((e for j in journeys for e in j.events), key=lambda e: e.time)


# --------------------------------------------------------------------------- the projector alone


async def test_each_breach_kind_opens_one_nonconformity_however_often_its_events_are_applied(
    migrated_database: str,
) -> None:
    rules = load_rules(TurnaroundSettings())
    journeys, expected = breaching_dossiers(rules)
    events = _interleaved(journeys)
    projector = ClockProjector(rules, lambda: NOW)
    engine = make_engine(migrated_database)
    try:
        for batch in ([e for e in events if e.type.startswith("postal.")], events, events[::3], events):
            async with engine.begin() as conn:
                await projector(conn, batch)
        register = await register_of(engine)
        opened = await opened_by_kind(engine)
        async with engine.connect() as conn:
            audits = await conn.execute(
                select(nonconformity_audit.c.actor, nonconformity_audit.c.action, func.count()).group_by(
                    nonconformity_audit.c.actor, nonconformity_audit.c.action
                )
            )
            audit_rows = {(r.actor, r.action): r[2] for r in audits}
            states = set((await conn.execute(select(nonconformity.c.state))).scalars())
    finally:
        await engine.dispose()

    assert register == expected
    assert opened == {kind.value: (2 if kind is BreachKind.POSTAL_LEG_LATE else 1) for kind in BreachKind}
    assert audit_rows == {("turnaround", "open"): len(expected)}
    assert states == {"open"}


# --------------------------------------------------------------------------- through Kafka


async def _group_at(kafka: KafkaLogin, group: str, offsets: Offsets) -> None:
    """Commit `offsets` for a new group: it reads the log from there (this test's start of the log)."""
    consumer = AIOKafkaConsumer(**kafka.options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def _consume(
    turnaround_kafka: KafkaLogin, admin: KafkaLogin, engine: AsyncEngine, group: str, rules: ClockRules
) -> None:
    """The turnaround consumer group, in process, until it has committed every record published so far."""
    ends = await end_offsets(admin, consumers.TOPICS)
    broker = make_broker(turnaround_kafka.bootstrap, client_id=group, security=turnaround_kafka.security)
    consumers.subscribe(
        broker,
        engine=engine,
        projector=ClockProjector(rules, lambda: NOW),
        metrics=ConsumerMetrics(CollectorRegistry()),
        group_id=group,
    )
    await broker.start()
    try:

        async def caught_up() -> bool:
            return await lag(admin, group, ends) == 0

        await eventually(caught_up, within=120, what=f"{group} to commit the log", every=0.5)
    finally:
        await broker.stop()


@pytest.mark.kafka
async def test_each_breach_kind_opens_one_nonconformity_through_kafka_redelivery_and_replays(
    migrated_database: str, postgres_url: str, kafka_admin: KafkaLogin, turnaround_kafka: KafkaLogin
) -> None:
    rules = load_rules(TurnaroundSettings())
    journeys, expected = breaching_dossiers(rules)
    events = _interleaved(journeys)
    run = uuid.uuid4().hex[:10]
    start = await end_offsets(kafka_admin, (POSTAL_EVENTS, AGENCY_EVENTS))
    live, replay, rebuild = (f"turnaround-nc-{name}-{run}" for name in ("live", "replay", "rebuild"))
    for group in (live, replay, rebuild):
        await _group_at(kafka_admin, group, start)
    await publish(kafka_admin, events)

    rebuilt_url = await create_database(postgres_url, "nc_rebuild")
    await migrate.upgrade_async(rebuilt_url)
    engine, rebuilt = make_engine(migrated_database), make_engine(rebuilt_url)
    try:
        await _consume(turnaround_kafka, kafka_admin, engine, live, rules)
        assert await register_of(engine) == expected
        first_ids = await ids_of(engine)

        # Every event delivered again (a producer's retry): the inbox and the register's key hold.
        await publish(kafka_admin, events)
        await _consume(turnaround_kafka, kafka_admin, engine, live, rules)
        # The log replayed from its start by a fresh group (a fresh inbox) onto the same register.
        await _consume(turnaround_kafka, kafka_admin, engine, replay, rules)
        assert await register_of(engine) == expected
        assert await ids_of(engine) == first_ids
        assert await opened_by_kind(engine) == {
            kind.value: (2 if kind is BreachKind.POSTAL_LEG_LATE else 1) for kind in BreachKind
        }

        # Rebuilt into an empty database: the same nonconformities, with the same ids.
        await _consume(turnaround_kafka, kafka_admin, rebuilt, rebuild, rules)
        assert await register_of(rebuilt) == expected
        assert await ids_of(rebuilt) == first_ids
    finally:
        await engine.dispose()
        await rebuilt.dispose()
