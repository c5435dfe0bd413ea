"""The one count behind objectives and reports: clocks finished in a period, in a scope, by timeliness —
against the real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from contracts.enums import Leg
from services.shared.db.engine import make_engine
from services.shared.timeliness import Timeliness
from services.turnaround.adapters import repository
from services.turnaround.domain import Clock, ClockState
from services.turnaround.quality.clock_counts import finished_by_timeliness, on_time_count
from services.turnaround.quality.periods import Period
from services.turnaround.quality.scopes import NATIONAL, Scope, ScopeKind

pytestmark = [pytest.mark.postgres]

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _clock(
    finished_day: date | None,
    timeliness: Timeliness | None,
    *,
    leg: Leg = Leg.AGENCY_PROCESSING,
    state: ClockState = ClockState.FINISHED,
    counted: bool = True,
    province: str = "HN",
    agency: str = "G01.001",
    office: str = "100000",
    procedure: str | None = "1.001",
) -> tuple[str, Clock]:
    started = datetime(2026, 6, 1, 2, tzinfo=UTC)
    return str(uuid.uuid4()), Clock(
        leg=leg,
        generation=0,
        state=state,
        started_at=started,
        start_day=date(2026, 6, 1),
        due_date=date(2026, 7, 15),
        province=province,
        field_key="f",
        route="",
        agency_code=agency,
        post_office_code=office,
        procedure_code=procedure,
        finished_at=datetime.combine(finished_day, datetime.min.time(), UTC) if finished_day else None,
        finished_day=finished_day,
        working_days=3 if finished_day else None,
        timeliness=timeliness,
        counted=counted,
    )


async def test_clocks_are_counted_by_the_vietnam_day_they_finished_in_their_scope_and_leg(
    migrated_database: str,
) -> None:
    engine = make_engine(migrated_database)
    clocks = [
        _clock(date(2026, 7, 1), Timeliness.EARLY),
        _clock(date(2026, 9, 30), Timeliness.ON_TIME),
        _clock(date(2026, 8, 10), Timeliness.LATE),
        _clock(date(2026, 8, 11), Timeliness.LATE, province="HCM", agency="G02.001", office="700000"),
        _clock(date(2026, 8, 12), Timeliness.ON_TIME, procedure="2.002"),
        # Outside the quarter, another leg, not yet classified, or not finished: never counted.
        _clock(date(2026, 6, 30), Timeliness.LATE),
        _clock(date(2026, 10, 1), Timeliness.LATE),
        _clock(date(2026, 8, 1), Timeliness.LATE, leg=Leg.INBOUND_POSTAL),
        _clock(date(2026, 8, 1), Timeliness.LATE, counted=False),
        _clock(date(2026, 8, 1), None, state=ClockState.CANCELLED),
        _clock(None, None, state=ClockState.RUNNING),
    ]
    try:
        async with engine.begin() as conn:
            await repository.upsert_clocks(conn, clocks, NOW)
        q3 = Period.parse("2026-Q3")
        async with engine.connect() as conn:
            national = await finished_by_timeliness(conn, q3, NATIONAL, Leg.AGENCY_PROCESSING)
            hanoi = await finished_by_timeliness(
                conn, q3, Scope(ScopeKind.PROVINCE, "HN"), Leg.AGENCY_PROCESSING
            )
            agency = await finished_by_timeliness(
                conn, q3, Scope(ScopeKind.AGENCY, "G02.001"), Leg.AGENCY_PROCESSING
            )
            office = await finished_by_timeliness(
                conn, q3, Scope(ScopeKind.POST_OFFICE, "100000"), Leg.AGENCY_PROCESSING
            )
            procedure = await finished_by_timeliness(conn, q3, NATIONAL, Leg.AGENCY_PROCESSING, "2.002")
            inbound = await finished_by_timeliness(conn, q3, NATIONAL, Leg.INBOUND_POSTAL)
            august = await finished_by_timeliness(
                conn, Period.parse("2026-08"), NATIONAL, Leg.AGENCY_PROCESSING
            )
    finally:
        await engine.dispose()

    early, on_time, late = Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE
    assert national == {early: 1, on_time: 2, late: 2}
    assert on_time_count(national) == 3
    assert hanoi == {early: 1, on_time: 2, late: 1}
    assert agency == {early: 0, on_time: 0, late: 1}
    assert office == {early: 1, on_time: 2, late: 1}
    assert procedure == {early: 0, on_time: 1, late: 0}
    assert inbound == {early: 0, on_time: 0, late: 1}
    assert august == {early: 0, on_time: 1, late: 2}
