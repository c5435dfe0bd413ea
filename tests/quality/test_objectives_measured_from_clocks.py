"""An objective measured from the clocks that journeys produced (and from the nonconformity register),
against the real PostgreSQL: every figure is checked against a count the test makes itself from the
journeys it played — the leg's J+2 limit read off the dates — never against the service's own numbers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared.calendar import VN_TZ
from services.shared.db.engine import make_engine
from services.turnaround.adapters.tables import nonconformity
from services.turnaround.app import load_rules
from services.turnaround.handlers import ClockProjector
from services.turnaround.quality.measurement import Direction, Figures, Status
from services.turnaround.quality.objective_figures import Measurement, measure
from services.turnaround.quality.objectives import Objective, parse_objectives
from services.turnaround.quality.periods import Period
from services.turnaround.settings import TurnaroundSettings
from tests.turnaround.journeys import ENTERPRISE, PASSPORT, Journey, vn

pytestmark = [pytest.mark.postgres]

HANOI_OFFICE, HCMC_OFFICE = "100000", "700000"
AGENCY, OTHER_AGENCY = "000.00.01.H22", "000.00.02.H22"
D = date


@dataclass(frozen=True)
class PostalLeg:
    """An inbound postal leg the test plays: accepted on a Monday 9:00, handed over on ``handed_over``
    (None: still on its way). Intra-provincial, so J+2 working days: due on the Wednesday."""

    office: str
    procedure: str
    accepted: date
    handed_over: date | None

    @property
    def on_time(self) -> bool:
        return self.handed_over is not None and self.handed_over <= self.accepted + timedelta(days=2)


LEGS = [
    # March 2026: accepted Mon 2 March, due Wed 4 March.
    *[PostalLeg(HANOI_OFFICE, PASSPORT, D(2026, 3, 2), D(2026, 3, 3))] * 3,  # early
    PostalLeg(HANOI_OFFICE, PASSPORT, D(2026, 3, 2), D(2026, 3, 4)),  # on time (the due day)
    *[PostalLeg(HANOI_OFFICE, PASSPORT, D(2026, 3, 2), D(2026, 3, 5))] * 2,  # late
    PostalLeg(HANOI_OFFICE, ENTERPRISE, D(2026, 3, 2), D(2026, 3, 5)),  # late, another procedure
    *[PostalLeg(HCMC_OFFICE, ENTERPRISE, D(2026, 3, 2), D(2026, 3, 4))] * 2,  # on time, another province
    PostalLeg(HANOI_OFFICE, PASSPORT, D(2026, 3, 9), None),  # not yet handed over: not counted
    # February 2026: accepted Mon 23 February, handed over the next day: early.
    *[PostalLeg(HANOI_OFFICE, PASSPORT, D(2026, 2, 23), D(2026, 2, 24))] * 2,
]


def _objectives(*entries: dict[str, Any]) -> dict[str, Objective]:
    common = {"title": "Mục tiêu", "owner": "Đơn vị", "source": "Thử nghiệm", "period": "month"}
    return {o.id: o for o in parse_objectives({"objectives": [{**common, **e} for e in entries]})}


OBJECTIVES = _objectives(
    {
        "id": "inbound-national",
        "scope": {"kind": "national"},
        "measure": "on_time_share",
        "leg": "INBOUND_POSTAL",
        "target": {"at_least": 98},
    },
    {
        "id": "inbound-passport-hanoi-office",
        "scope": {"kind": "post_office", "code": HANOI_OFFICE},
        "procedure_code": PASSPORT,
        "measure": "on_time_share",
        "leg": "INBOUND_POSTAL",
        "target": {"at_least": 60},
    },
    {
        "id": "inbound-hcmc",
        "scope": {"kind": "province", "code": "ho_chi_minh"},
        "measure": "on_time_share",
        "leg": "INBOUND_POSTAL",
        "target": {"at_least": 98},
    },
    {
        "id": "passport-agency-quarterly",
        "scope": {"kind": "national"},
        "procedure_code": PASSPORT,
        "measure": "on_time_share",
        "leg": "AGENCY_PROCESSING",
        "target": {"at_least": 95},
        "period": "quarter",
    },
    {
        "id": "late-notices-agency",
        "scope": {"kind": "agency", "code": AGENCY},
        "measure": "nonconformity_count",
        "nonconformity_kind": "late_delay_notice",
        "target": {"at_most": 0},
        "period": "quarter",
    },
)


async def _play(engine: AsyncEngine) -> None:
    rules = load_rules(TurnaroundSettings())
    base = uuid.uuid4().int % 90_000_000
    events = []
    for serial, leg in enumerate(LEGS, start=base):
        journey = Journey(serial, leg.office, leg.procedure, AGENCY)
        journey.accepted(vn(leg.accepted, 9))
        if leg.handed_over is not None:
            journey.handed_over(vn(leg.handed_over, 10))
        events += journey.events
    async with engine.begin() as conn:
        await ClockProjector(rules, lambda: vn(D(2026, 3, 20)))(conn, events)


def _expected(legs: list[PostalLeg], month: tuple[int, int]) -> Figures:
    """The test's own count: legs handed over in the month, and how many within J+2."""
    finished = [
        leg for leg in legs if leg.handed_over and (leg.handed_over.year, leg.handed_over.month) == month
    ]
    return Figures(sum(1 for leg in finished if leg.on_time), len(finished))


async def _measure(engine: AsyncEngine, objective_id: str, period: str) -> Measurement:
    async with engine.connect() as conn:
        return await measure(conn, OBJECTIVES[objective_id], Period.parse(period))


async def test_an_on_time_objective_is_measured_from_the_clocks_with_its_counts_and_trend(
    migrated_database: str,
) -> None:
    engine = make_engine(migrated_database)
    try:
        await _play(engine)
        national = await _measure(engine, "inbound-national", "2026-03")
        office = await _measure(engine, "inbound-passport-hanoi-office", "2026-03")
        hcmc = await _measure(engine, "inbound-hcmc", "2026-03")
    finally:
        await engine.dispose()

    march, february = _expected(LEGS, (2026, 3)), _expected(LEGS, (2026, 2))
    assert national.current.figures == march == Figures(6, 9)
    assert national.current.value == Decimal("66.66")  # 6/9, rounded down
    assert national.current.status is Status.NOT_MET
    assert [(p.period.name, p.figures) for p in national.previous] == [
        ("2026-02", february),
        ("2026-01", Figures(0, 0)),
        ("2025-12", Figures(0, 0)),
        ("2025-11", Figures(0, 0)),
    ]
    assert [p.status for p in national.previous] == [Status.MET] + [Status.NOT_MEASURABLE] * 3
    assert national.direction is Direction.WORSENING  # 66.66 % after February's 100 %

    passports_in_hanoi = [leg for leg in LEGS if leg.office == HANOI_OFFICE and leg.procedure == PASSPORT]
    assert office.current.figures == _expected(passports_in_hanoi, (2026, 3)) == Figures(4, 6)
    assert office.current.status is Status.MET  # 66.66 % ≥ 60 %
    hcmc_legs = [leg for leg in LEGS if leg.office == HCMC_OFFICE]
    assert hcmc.current.figures == _expected(hcmc_legs, (2026, 3)) == Figures(2, 2)
    assert (hcmc.current.value, hcmc.current.status) == (Decimal("100.00"), Status.MET)
    assert hcmc.direction is Direction.UNKNOWN  # no earlier month had a finished leg


async def test_a_period_in_which_no_clock_finished_is_not_measurable_rather_than_met(
    migrated_database: str,
) -> None:
    engine = make_engine(migrated_database)
    try:
        await _play(engine)  # passports handed over, none resolved by the agency yet
        passport = await _measure(engine, "passport-agency-quarterly", "2026-Q1")
    finally:
        await engine.dispose()

    assert passport.current.figures == Figures(0, 0)
    assert (passport.current.value, passport.current.status) == (None, Status.NOT_MEASURABLE)
    assert [p.period.name for p in passport.previous] == ["2025-Q4", "2025-Q3", "2025-Q2", "2025-Q1"]
    assert passport.direction is Direction.UNKNOWN


def _nonconformity(kind: str, detected_at: datetime, responsible: str = AGENCY) -> dict[str, Any]:
    return {
        "nonconformity_id": str(uuid.uuid4()),
        "dossier_id": str(uuid.uuid4()),
        "kind": kind,
        "occurrence": "1",
        "leg": "AGENCY_PROCESSING",
        "responsible_kind": "agency",
        "responsible_code": responsible,
        "province": "ha_noi",
        "procedure_code": PASSPORT,
        "rule_set": "decree_118_2025",
        "article": "Decree 118/2025/NĐ-CP Art. 19(6)",
        "facts": {},
        "detected_at": detected_at,
        "opened_at": detected_at,
        "state": "open",
        "version": 1,
        "updated_at": detected_at,
    }


async def test_late_delay_notices_are_counted_by_kind_vietnam_day_and_responsible_unit(
    migrated_database: str,
) -> None:
    last_minute_of_q1 = datetime(2026, 3, 31, 23, 59, tzinfo=VN_TZ)
    first_instant_of_q2 = datetime(2026, 4, 1, 0, 0, tzinfo=VN_TZ)
    rows = [
        _nonconformity("late_delay_notice", datetime(2026, 1, 5, 3, tzinfo=UTC)),
        _nonconformity("late_delay_notice", last_minute_of_q1),  # 16:59 UTC on 31 March: still Q1
        _nonconformity("late_delay_notice", first_instant_of_q2),  # 17:00 UTC on 31 March: Q2
        _nonconformity("second_delay_notice", datetime(2026, 2, 5, 3, tzinfo=UTC)),  # another kind
        _nonconformity("late_delay_notice", datetime(2026, 2, 5, 3, tzinfo=UTC), OTHER_AGENCY),
        _nonconformity("late_delay_notice", datetime(2025, 12, 31, 16, 59, tzinfo=UTC)),  # Q4 2025
    ]
    engine = make_engine(migrated_database)
    try:
        async with engine.begin() as conn:
            await conn.execute(nonconformity.insert(), rows)
        q1 = await _measure(engine, "late-notices-agency", "2026-Q1")
        q2 = await _measure(engine, "late-notices-agency", "2026-Q2")
    finally:
        await engine.dispose()

    assert (q1.current.figures, q1.current.value, q1.current.status) == (
        Figures(2),
        Decimal(2),
        Status.NOT_MET,
    )
    assert [(p.period.name, p.figures.numerator) for p in q1.previous[:2]] == [("2025-Q4", 1), ("2025-Q3", 0)]
    assert q1.direction is Direction.WORSENING  # 2 after 1
    assert (q2.current.figures, q2.current.status) == (Figures(1), Status.NOT_MET)
    assert q2.direction is Direction.IMPROVING  # 1 after 2
