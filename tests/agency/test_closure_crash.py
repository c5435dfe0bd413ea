"""The closure job under crashes: two agency service processes close the same due dossiers, each is
SIGKILLed while closures are under way and started again; every dossier ends closed and its closure is
on agency.events.v1 under one event id (a closure acknowledged by Kafka but not committed before the
kill is republished with the same id, which consumers deduplicate). Real processes, broker, PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from contracts.envelope import decode
from contracts.events import DossierClosed
from contracts.topics import AGENCY_EVENTS, AGENCY_INTAKE, POSTAL_EVENTS
from contracts.values import dossier_id_for_item
from services.agency.adapters.repository import Dossiers
from services.agency.adapters.tables import agency_dossier
from services.agency.domain import Dossier, Status
from services.shared.db.engine import make_engine
from tests.agency.conftest import AGENCY, PASSPORT, TopicReader
from tests.agency.test_domain import POLICY
from tests.fixtures.ids import unique_item_id
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.reliability.support import Service, base_environment, eventually, free_port, running

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

DOSSIERS = 600


def due_dossier(requested_at: datetime) -> Dossier:
    """A dossier awaiting since `requested_at` a supplement that never came, its closure period over."""
    item_id = unique_item_id("EB")
    due = POLICY.closure_due(requested_at)
    assert due is not None, "the request falls under a rule set with a closure period"
    filed_at = requested_at - timedelta(days=1)
    return Dossier(
        dossier_id=dossier_id_for_item(item_id),
        agency_code=AGENCY,
        status=Status.AWAITING_SUPPLEMENT,
        sequence=3,
        item_id=item_id,
        procedure_code=PASSPORT,
        filed_at=filed_at,
        filing_day=POLICY.filing_day(filed_at),
        received_at=filed_at,
        supplement_requests=1,
        supplement_requested_at=requested_at,
        closure_due_at=due.closes_at,
        last_fact="agency.supplement_requested",
        last_fact_at=requested_at,
    )


def agency_service(name: str, database_url: str, kafka: KafkaLogin, run: str, log: Path) -> Service:
    port = free_port()
    env = base_environment(
        database_url,
        kafka,
        AGENCY_HTTP_PORT=str(port),
        AGENCY_KAFKA_CLIENT_ID=f"agency-{name}-{run}",
        AGENCY_POSTAL_GROUP_ID=f"agency.postal.crash-{run}",
        AGENCY_INTAKE_GROUP_ID=f"agency.intake.crash-{run}",
        AGENCY_CLOSURE_INTERVAL_S="0.2",
    )
    return Service(name, ["-m", "services.agency"], env, log, ready_url=f"http://127.0.0.1:{port}/ready")


async def test_closures_are_published_under_one_id_per_dossier_through_sigkills_of_two_replicas(
    agency_database: str, kafka_admin: KafkaLogin, agency_kafka: KafkaLogin, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    for topic, group in ((POSTAL_EVENTS, "postal"), (AGENCY_INTAKE, "intake")):
        await start_group_at_end(kafka_admin, f"agency.{group}.crash-{run}", (topic,))
    # A month before the real now, under Decree 118: every closure period is over, whatever today is.
    requested_at = datetime.now(UTC) - timedelta(days=30)
    dossiers = [due_dossier(requested_at) for _ in range(DOSSIERS)]
    keys = {d.dossier_id.encode() for d in dossiers}
    ids = [d.dossier_id for d in dossiers]
    engine = make_engine(agency_database)
    async with engine.begin() as conn:
        await Dossiers(conn).save(new=dossiers, changed=[])

    async def closed() -> int:
        async with engine.connect() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(agency_dossier)
                .where(agency_dossier.c.dossier_id.in_(ids), agency_dossier.c.status == Status.CLOSED.value)
            )
        return int(count or 0)

    first = agency_service("agency-a", agency_database, agency_kafka, run, tmp_path / "a.log")
    second = agency_service("agency-b", agency_database, agency_kafka, run, tmp_path / "b.log")
    try:
        async with TopicReader(kafka_admin, AGENCY_EVENTS) as events, running(first, second):
            await eventually(lambda: _at_least(closed, 1), within=120, what="the first closures")
            await first.kill()  # while both replicas are closing
            closed_at_first_kill = await closed()
            await first.start()
            await eventually(lambda: _at_least(closed, closed_at_first_kill + 1), within=120, what="more")
            await second.kill()
            await second.start()
            await eventually(lambda: _at_least(closed, DOSSIERS), within=180, what="every dossier closed")
            await first.check()
            await second.check()
            published = await events.read(keys, at_least=DOSSIERS, timeout_s=60)
    finally:
        await engine.dispose()

    event_ids: dict[str, set[uuid.UUID]] = {}
    for record in published:
        envelope = decode(record.value, record.key)
        assert isinstance(envelope.data, DossierClosed)
        event_ids.setdefault(envelope.subject, set()).add(envelope.id)
    assert set(event_ids) == set(ids), "every dossier's closure is on the topic"
    assert all(len(found) == 1 for found in event_ids.values()), "one event id per dossier's closure"
    assert (first.kills, second.kills) == (1, 1)
    assert closed_at_first_kill < DOSSIERS, "the first kill came while dossiers were still to close"


async def _at_least(count: object, n: int) -> bool:
    assert callable(count)
    return bool(await count() >= n)
