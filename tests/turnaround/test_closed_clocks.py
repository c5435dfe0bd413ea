"""The agency clock of a dossier the agency closed stops without a timeliness and is counted apart, by
province, field and reason (bounded labels), once per closure however often it is delivered — against
the real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import Leg
from services.shared.db.engine import make_engine
from services.turnaround import domain
from services.turnaround.adapters import repository
from services.turnaround.app import load_rules
from services.turnaround.closures import closed_clock_metrics
from services.turnaround.domain import ClockState
from services.turnaround.handlers import ClockProjector
from services.turnaround.settings import TurnaroundSettings
from tests.turnaround.journeys import ENTERPRISE, Journey, vn

pytestmark = [pytest.mark.postgres]


async def _closed(engine: AsyncEngine) -> dict[tuple[str, str, str], float]:
    async with engine.connect() as conn:
        family = closed_clock_metrics(await repository.read_tallies(conn))
    return {
        (s.labels["province"], s.labels["field"], s.labels["reason"]): s.value
        for s in family.samples
        if s.name.endswith("_total")
    }


def test_a_closed_agency_clock_has_no_timeliness_and_is_not_a_cancellation() -> None:
    rules = load_rules(TurnaroundSettings())
    journey = Journey(uuid.uuid4().int % 10_000_000, procedure=ENTERPRISE)
    journey.handed_over(vn(date(2026, 3, 2), 9))
    journey.received(vn(date(2026, 3, 2)), rules.calendar, rules.catalog)
    journey.agency_event("agency.supplement_requested", vn(date(2026, 3, 3)), breach=False)
    journey.agency_event("agency.dossier_closed", vn(date(2026, 3, 19), 0))
    facts = domain.Facts()
    for envelope in journey.events:
        facts = domain.record(facts, envelope)

    agency = domain.clocks_of(facts, rules)[Leg.AGENCY_PROCESSING]

    assert (agency.state, agency.timeliness, agency.finished_day) == (
        ClockState.CLOSED,
        None,
        date(2026, 3, 19),
    )
    assert not agency.is_open


async def test_a_closure_is_counted_once_by_province_field_and_reason(migrated_database: str) -> None:
    rules = load_rules(TurnaroundSettings())
    engine = make_engine(migrated_database)
    now = lambda: vn(date(2026, 3, 20))  # noqa: E731
    journey = Journey(uuid.uuid4().int % 10_000_000, procedure=ENTERPRISE)
    journey.handed_over(vn(date(2026, 3, 2), 9))  # by a Hà Nội post office (100000)
    journey.received(vn(date(2026, 3, 2)), rules.calendar, rules.catalog)
    journey.agency_event("agency.supplement_requested", vn(date(2026, 3, 3)), breach=False)
    journey.agency_event("agency.dossier_closed", vn(date(2026, 3, 19), 0))
    field = rules.catalog.get(ENTERPRISE).field_key
    key = ("ha_noi", field, "supplement_not_completed")
    before = await _closed(engine)
    async with engine.begin() as conn:
        await ClockProjector(rules, now)(conn, journey.events)
    async with engine.connect() as conn:
        clocks = await repository.load_clocks(conn, [journey.dossier_id])
    after = await _closed(engine)
    await engine.dispose()

    assert after[key] - before.get(key, 0) == 1
    assert {reason for _, _, reason in after} <= {"supplement_not_completed", "supplement_declined", "other"}
    agency = clocks[(journey.dossier_id, Leg.AGENCY_PROCESSING)]
    assert (agency.state, agency.timeliness) == (ClockState.CLOSED, None)
