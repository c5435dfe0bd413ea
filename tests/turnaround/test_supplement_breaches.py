"""Turnaround counts the supplement requests that break the rules in force, by province and reason
(bounded labels), once per event however often it is delivered — against the real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from prometheus_client.core import Metric
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import SupplementBreach
from services.shared.db.engine import make_engine
from services.turnaround.adapters import repository
from services.turnaround.app import load_rules
from services.turnaround.handlers import ClockProjector
from services.turnaround.metrics import supplement_breach_metrics
from services.turnaround.settings import TurnaroundSettings
from tests.turnaround.journeys import ENTERPRISE, Journey, vn

pytestmark = [pytest.mark.postgres]


def _counts(family: Metric) -> dict[tuple[str, str], float]:
    return {
        (s.labels["province"], s.labels["reason"]): s.value
        for s in family.samples
        if s.name.endswith("_total")
    }


async def _breaches(engine: AsyncEngine) -> dict[tuple[str, str], float]:
    async with engine.connect() as conn:
        return _counts(supplement_breach_metrics(await repository.read_tallies(conn)))


async def test_a_second_and_late_supplement_request_is_counted_by_province_and_reason(
    migrated_database: str,
) -> None:
    rules = load_rules(TurnaroundSettings())
    engine = make_engine(migrated_database)
    now = lambda: vn(date(2026, 3, 10))  # noqa: E731
    journey = Journey(uuid.uuid4().int % 10_000_000, procedure=ENTERPRISE)
    journey.handed_over(vn(date(2026, 3, 2), 9))  # by a Hà Nội post office (100000)
    journey.received(vn(date(2026, 3, 2)), rules.calendar, rules.catalog)
    journey.agency_event(
        "agency.supplement_requested",
        vn(date(2026, 3, 9)),
        missing_documents=("Bản sao",),
        reason="Thiếu",
        request_number=2,
        breach=True,
        breach_reasons=(SupplementBreach.SECOND_SUPPLEMENT_REQUEST, SupplementBreach.LATE_SUPPLEMENT_REQUEST),
    )
    journey.agency_event(
        "agency.supplement_requested",
        vn(date(2026, 3, 3)),
        missing_documents=("Bản sao",),
        reason="Thiếu",
        breach=False,
    )
    before = await _breaches(engine)
    async with engine.begin() as conn:
        await ClockProjector(rules, now)(conn, journey.events)
    after = await _breaches(engine)
    await engine.dispose()

    def delta(reason: SupplementBreach) -> float:
        key = ("ha_noi", reason.value)
        return after.get(key, 0) - before.get(key, 0)

    assert delta(SupplementBreach.SECOND_SUPPLEMENT_REQUEST) == 1
    assert delta(SupplementBreach.LATE_SUPPLEMENT_REQUEST) == 1
    assert {reason for _, reason in after} <= {r.value for r in SupplementBreach}
    assert ("ha_noi", SupplementBreach.SECOND_SUPPLEMENT_REQUEST.value) in after
