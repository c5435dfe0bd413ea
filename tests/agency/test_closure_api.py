"""Closure through the service: the job closes a dossier whose supplement never came exactly once, even
with two replicas racing for it or a crash between the publication and the record; an officer closes one
with a reason; a closed dossier refuses the supplement with 409 dossier_closed. Real broker, real
PostgreSQL (this module's own database, so no other test's dossier is due)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from contracts.enums import ClosureReason
from contracts.envelope import Envelope, decode
from contracts.events import DossierClosed, SupplementReceived
from contracts.topics import AGENCY_EVENTS, AGENCY_INTAKE
from services.agency.adapters.tables import personal_data_tables
from services.agency.handlers import AgencyDesk
from services.agency.metrics import AgencyMetrics
from services.agency.policy import Policy
from services.agency.settings import AgencySettings
from services.shared.calendar import load_calendar
from services.shared.catalog import load_catalog
from services.shared.consuming import DLT_REASON
from services.shared.db.engine import make_engine
from services.shared.kafka import EventPublisher
from services.shared.personal_data.vault import Vault
from tests.agency.conftest import AGENCY, Clock, Tokens, TopicReader, new_agency_dossier_code, send
from tests.agency.test_api import filed_by_post, key, post, vn
from tests.agency.test_intake import DLT, envelope
from tests.fixtures.kafka import KafkaLogin

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ASK = {"missing_documents": ["Ảnh chân dung 4x6"], "reason": "Ảnh không đúng quy cách"}


async def awaiting_supplement(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tokens: Tokens, clock: Clock, requested: datetime
) -> tuple[str, str]:
    """A dossier received the day before `requested` and asked for a supplement then: (item id, code)."""
    filed = requested.replace(hour=9) if requested.hour > 9 else requested
    item_id = await filed_by_post(client, producer, tokens, filed.replace(day=filed.day - 1))
    code = new_agency_dossier_code()
    clock.frozen = filed.replace(day=filed.day - 1, hour=11)
    receipt = await post(
        client,
        f"/dossiers/{item_id}/received",
        tokens.officer,
        {"agency_dossier_code": code, "appointment_date": "2026-12-31"},
    )
    assert receipt.status_code == 201, receipt.text
    clock.frozen = requested
    asked = await post(client, f"/dossiers/{code}/supplement-requested", tokens.officer, ASK)
    assert asked.status_code == 201, asked.text
    return item_id, code


def closures(records: list[Any]) -> list[Envelope[Any]]:
    envelopes = [decode(r.value, r.key) for r in records]
    return [e for e in envelopes if isinstance(e.data, DossierClosed)]


class GatedPublisher(EventPublisher):
    """A replica's publisher that holds its first publication until the test opens the gate: the replica
    then holds the dossier's row lock while the other replica runs."""

    def __init__(self, inner: EventPublisher) -> None:
        self._inner = inner
        self.holding = asyncio.Event()
        self.gate = asyncio.Event()

    async def publish(self, envelope: Any) -> None:
        self.holding.set()
        await self.gate.wait()
        await self._inner.publish(envelope)


class DyingPublisher(EventPublisher):
    """Kafka acknowledges the closure, then the replica dies before its transaction commits."""

    def __init__(self, inner: EventPublisher) -> None:
        self._inner = inner

    async def publish(self, envelope: Any) -> None:
        await self._inner.publish(envelope)
        raise RuntimeError("killed after the acknowledgement, before the commit")


@pytest.fixture
async def replica(
    agency_app: FastAPI, agency_database: str, agency_settings: AgencySettings, clock: Clock
) -> AsyncIterator[Any]:
    """Make another replica's desk on the same database and broker, with its own publisher wrapper."""
    engines = []

    def make(wrap: Any) -> AgencyDesk:
        engine = make_engine(agency_database)
        engines.append(engine)
        inner = EventPublisher(agency_app.state.broker, timeout_s=5.0)
        return AgencyDesk(
            engine=engine,
            publisher=wrap(inner),
            policy=Policy(calendar=load_calendar(), catalog=load_catalog()),
            metrics=AgencyMetrics(CollectorRegistry()),
            vault=Vault(personal_data_tables, agency_settings.keyring(), agency_settings.blind_index()),
            phone_check=agency_settings.phone_check(),
            clock=clock,
        )

    yield make
    for engine in engines:
        await engine.dispose()


async def test_a_dossier_whose_supplement_never_came_is_closed_once_and_then_refuses_the_supplement(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    clock: Clock,
    agency_app: FastAPI,
) -> None:
    # Requested Wednesday 4 March 2026: the 15th day after is Thursday 19 March; closed at 00:00 on the 20th.
    item_id, code = await awaiting_supplement(client, producer, tokens, clock, vn(2026, 3, 4))
    desk: AgencyDesk = agency_app.state.desk

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        clock.frozen = vn(2026, 3, 19, 23, 59)
        assert await desk.close_due() == 0, "the applicant has the whole last day"
        clock.frozen = vn(2026, 3, 20, 0, 0)
        assert await desk.close_due() == 1
        assert await desk.close_due() == 0, "closed once"
        clock.frozen = vn(2026, 3, 20, 8)
        late = await post(
            client,
            f"/dossiers/{code}/supplement-received",
            tokens.officer,
            {"received_at": "2026-03-20T08:00:00+07:00"},
        )
        again = await post(
            client, f"/dossiers/{code}/closed", tokens.officer, {"reason": "supplement_declined"}
        )
        published = await events.read(key(item_id), at_least=1)

    assert late.status_code == 409 and late.json()["reason"] == "dossier_closed", late.text
    assert again.status_code == 409 and again.json()["reason"] == "dossier_closed", again.text
    [closure] = closures(published)
    assert len(published) == 1, "nothing else was published on the dossier"
    assert closure.time == vn(2026, 3, 20, 0)
    assert closure.data.reason is ClosureReason.SUPPLEMENT_NOT_COMPLETED
    assert (closure.data.period_days, closure.data.period_unit) == (15, "calendar")
    assert closure.data.rule_set == "decree_118_2025"
    view = (
        await client.get(f"/dossiers/{code}", headers={"authorization": f"Bearer {tokens.officer}"})
    ).json()
    assert view["status"] == "CLOSED"


async def test_an_officer_closes_a_dossier_awaiting_its_supplement_and_no_other(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    clock: Clock,
) -> None:
    item_id, code = await awaiting_supplement(client, producer, tokens, clock, vn(2026, 3, 11))
    running = await filed_by_post(client, producer, tokens, vn(2026, 3, 11))

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        clock.frozen = vn(2026, 3, 12, 9)
        no_note = await post(client, f"/dossiers/{code}/closed", tokens.officer, {"reason": "other"})
        automatic = await post(
            client, f"/dossiers/{code}/closed", tokens.officer, {"reason": "supplement_not_completed"}
        )
        other_agency = await post(
            client, f"/dossiers/{code}/closed", tokens.other_officer, {"reason": "supplement_declined"}
        )
        not_awaiting = await post(
            client, f"/dossiers/{running}/closed", tokens.officer, {"reason": "supplement_declined"}
        )
        closed = await post(
            client, f"/dossiers/{code}/closed", tokens.officer, {"reason": "other", "note": "Hồ sơ nộp trùng"}
        )
        published = await events.read(key(item_id) | key(running), at_least=1)

    assert (no_note.status_code, automatic.status_code, other_agency.status_code) == (422, 422, 403)
    assert not_awaiting.status_code == 409 and not_awaiting.json()["reason"] == "no_supplement_requested"
    assert closed.status_code == 201, closed.text
    assert closed.json()["dossier"]["status"] == "CLOSED"
    [closure] = closures(published)
    assert len(published) == 1
    assert (closure.data.reason, closure.data.note, closure.data.automatic) == (
        ClosureReason.OTHER,
        "Hồ sơ nộp trùng",
        False,
    )
    assert closure.data.officer_id == "officer-0003"


async def test_two_replicas_racing_for_the_same_due_dossier_publish_its_closure_once(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    clock: Clock,
    replica: Any,
) -> None:
    item_id, _ = await awaiting_supplement(client, producer, tokens, clock, vn(2026, 5, 6))
    first = replica(GatedPublisher)
    second = replica(lambda inner: inner)
    gated: GatedPublisher = first._publisher

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        clock.frozen = vn(2026, 5, 22, 0)
        racing = asyncio.create_task(first.close_due())
        # The first replica holds the dossier's row and is publishing; the second runs meanwhile.
        await asyncio.wait_for(gated.holding.wait(), 30)
        second_closed = await asyncio.wait_for(second.close_due(), 15)
        gated.gate.set()
        first_closed = await asyncio.wait_for(racing, 30)
        after = await second.close_due()
        published = await events.read(key(item_id), at_least=1)

    assert (first_closed, second_closed, after) == (1, 0, 0)
    assert len(closures(published)) == len(published) == 1


async def test_a_closure_acknowledged_but_not_recorded_before_a_crash_is_published_again_with_its_id(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    clock: Clock,
    replica: Any,
) -> None:
    item_id, _ = await awaiting_supplement(client, producer, tokens, clock, vn(2026, 6, 3))
    dying = replica(DyingPublisher)
    restarted = replica(lambda inner: inner)

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        clock.frozen = vn(2026, 6, 19, 0)
        with pytest.raises(RuntimeError):
            await dying.close_due()
        assert await restarted.close_due() == 1
        assert await restarted.close_due() == 0
        published = await events.read(key(item_id), at_least=2)

    ids = {e.id for e in closures(published)}
    assert len(published) == 2 and len(ids) == 1, "the same closure, which consumers deduplicate"


async def test_an_agency_systems_supplement_after_the_closure_is_dead_lettered_as_dossier_closed(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    clock: Clock,
) -> None:
    item_id, code = await awaiting_supplement(client, producer, tokens, clock, vn(2026, 3, 18))
    clock.frozen = vn(2026, 3, 19, 9)
    closed = await post(client, f"/dossiers/{code}/closed", tokens.officer, {"reason": "supplement_declined"})
    assert closed.status_code == 201, closed.text
    clock.frozen = None  # the intake consumer judges the system's report at the real time
    supplement = SupplementReceived(
        agency_code=AGENCY,
        officer_id="desk-system-1",
        agency_dossier_code=code,
        received_at=vn(2026, 3, 20, 9),
    )

    async with TopicReader(kafka_admin, DLT) as dlt:
        await send(producer, AGENCY_INTAKE, [envelope(item_id, supplement, time=vn(2026, 3, 20, 9))])
        dead = await dlt.read(key(item_id), at_least=1)

    assert [dict(r.headers)[DLT_REASON].decode() for r in dead] == ["dossier_closed"]


async def test_a_dossier_asked_for_its_supplement_before_the_closure_rules_were_deployed_is_closed_too(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    clock: Clock,
    agency_app: FastAPI,
    agency_database: str,
) -> None:
    # Requested Monday 6 April 2026: the 15th day after is Tuesday 21 April; closed at 00:00 on the 22nd.
    item_id, code = await awaiting_supplement(client, producer, tokens, clock, vn(2026, 4, 6))
    engine = make_engine(agency_database)
    try:
        async with engine.begin() as conn:  # as a row recorded before migration closure_0001 stands
            await conn.execute(
                text("UPDATE agency_dossier SET closure_due_at = NULL WHERE agency_dossier_code = :code"),
                {"code": code},
            )
    finally:
        await engine.dispose()
    desk: AgencyDesk = agency_app.state.desk

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        clock.frozen = vn(2026, 4, 22, 0, 0)
        await desk.close_due()
        unscheduled = (
            await client.get(f"/dossiers/{code}", headers={"authorization": f"Bearer {tokens.officer}"})
        ).json()
        assert await desk.schedule_closures() >= 1
        await desk.close_due()
        published = await events.read(key(item_id), at_least=1)

    assert unscheduled["status"] == "AWAITING_SUPPLEMENT", "without a closure time the job cannot see it"
    [closure] = closures(published)
    assert closure.time == vn(2026, 4, 22, 0)
    assert closure.data.period_ended_on.isoformat() == "2026-04-21"
