"""An ended period's report is generated once per period and scope and then always served as stored —
also when two replicas generate it at the same moment, and whatever happens to the clocks afterwards; a
period not yet ended is counted live and never stored. The schedule generates the ended periods' reports
of the nation and each configured province — against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import Leg
from services.shared.calendar import VN_TZ
from services.shared.db.engine import make_engine
from services.shared.timeliness import Timeliness
from services.turnaround.adapters import repository
from services.turnaround.adapters.tables import report
from services.turnaround.domain import Clock, ClockState
from services.turnaround.quality.periods import Period, PeriodKind
from services.turnaround.quality.report_archive import Trigger, generate_once, report_of
from services.turnaround.quality.report_schedule import ReportSchedule, due_on, plan_of
from services.turnaround.quality.reports import Status
from services.turnaround.quality.scopes import NATIONAL, Scope, ScopeKind

pytestmark = [pytest.mark.postgres]

Q3 = Period.parse("2026-Q3")


def vn(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), VN_TZ)


def finished_late(agency: str, day: date, province: str = "ha_noi") -> tuple[str, Clock]:
    return str(uuid.uuid4()), Clock(
        leg=Leg.AGENCY_PROCESSING,
        generation=0,
        state=ClockState.FINISHED,
        started_at=vn(date(2026, 8, 3)),
        start_day=date(2026, 8, 3),
        due_date=date(2026, 8, 6),
        province=province,
        field_key="f",
        route="",
        agency_code=agency,
        post_office_code="100000",
        procedure_code="1.000001",
        finished_at=vn(day),
        finished_day=day,
        working_days=5,
        timeliness=Timeliness.LATE,
        counted=True,
    )


async def add(engine: AsyncEngine, *clocks: tuple[str, Clock]) -> None:
    async with engine.begin() as conn:
        await repository.upsert_clocks(conn, list(clocks), datetime.now(UTC))


async def stored_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(report)) or 0)


async def test_two_replicas_generating_an_ended_periods_report_at_once_store_one_and_both_serve_it(
    migrated_database: str,
) -> None:
    engine = make_engine(migrated_database)
    agency = f"{uuid.uuid4().int % 10**9:09d}.H22"
    scope = Scope(ScopeKind.AGENCY, agency)
    await add(engine, finished_late(agency, date(2026, 8, 10)), finished_late(agency, date(2026, 9, 1)))
    replicas = [
        make_engine(migrated_database) for _ in range(2)
    ]  # two processes: two pools, two connections racing
    try:
        outcomes = await asyncio.gather(
            *(
                generate_once(e, Q3, scope, {}, vn(date(2026, 10, 1), 8 + n), Trigger.SCHEDULE)
                for n, e in enumerate(replicas)
            )
        )
        (first, first_stored), (second, second_stored) = outcomes
        assert sorted([first_stored, second_stored]) == [False, True], "exactly one replica stored it"
        assert first == second, "both answer with the one stored report"
        assert first.resolved.late == 2
        assert first.status is Status.FINAL
        assert await stored_rows(engine) == 1

        # A clock finished in the quarter but stored later (a late replay) does not change the filed report.
        await add(engine, finished_late(agency, date(2026, 9, 2)))
        again = await report_of(engine, Q3, scope, {}, vn(date(2026, 11, 5)), Trigger.ON_DEMAND)
        assert again == first
        assert again.resolved.late == 2
        assert await stored_rows(engine) == 1
    finally:
        for e in (engine, *replicas):
            await e.dispose()


async def test_a_running_periods_report_is_counted_live_at_each_request_and_never_stored(
    migrated_database: str,
) -> None:
    engine = make_engine(migrated_database)
    agency = f"{uuid.uuid4().int % 10**9:09d}.H22"
    scope = Scope(ScopeKind.AGENCY, agency)
    today = vn(date(2026, 9, 15))  # the quarter runs until 30 Sep
    try:
        await add(engine, finished_late(agency, date(2026, 8, 10)))
        first = await report_of(engine, Q3, scope, {}, today, Trigger.ON_DEMAND)
        await add(engine, finished_late(agency, date(2026, 9, 14)))
        second = await report_of(engine, Q3, scope, {}, today, Trigger.ON_DEMAND)
        assert (first.status, second.status) == (Status.PROVISIONAL, Status.PROVISIONAL)
        assert (first.resolved.late, second.resolved.late) == (1, 2)
        assert await stored_rows(engine) == 0
        # From the first Vietnam day after the quarter (1 Oct, 00:30 UTC+7 is still 30 Sep in UTC), final.
        ended = await report_of(engine, Q3, scope, {}, vn(date(2026, 10, 1), 0), Trigger.ON_DEMAND)
        assert ended.status is Status.FINAL
        assert await stored_rows(engine) == 1
    finally:
        await engine.dispose()


def test_a_tick_makes_sure_of_the_last_ended_period_of_each_kind_for_the_nation_and_each_province() -> None:
    plan = plan_of([PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.MONTH], ["ha_noi", "hue", "ha_noi"])
    assert plan.scopes == (NATIONAL, Scope(ScopeKind.PROVINCE, "ha_noi"), Scope(ScopeKind.PROVINCE, "hue"))
    due = due_on(plan, date(2026, 10, 1))
    assert [(p.name, s.name) for p, s in due] == [
        ("2026-09", "national"),
        ("2026-09", "province:ha_noi"),
        ("2026-09", "province:hue"),
        ("2026-Q3", "national"),
        ("2026-Q3", "province:ha_noi"),
        ("2026-Q3", "province:hue"),
    ]
    year = plan_of([PeriodKind.YEAR, PeriodKind.HALF_YEAR], [])
    assert [p.name for p, _ in due_on(year, date(2027, 1, 1))] == ["2026", "2026-H2"]
    assert [p.name for p, _ in due_on(year, date(2026, 12, 31))] == ["2025", "2026-H1"]


async def test_scheduled_replicas_store_each_ended_periods_report_once(migrated_database: str) -> None:
    engine = make_engine(migrated_database)
    province = f"p_{uuid.uuid4().hex[:8]}"
    await add(engine, finished_late("000.00.01.H22", date(2026, 9, 3), province))
    plan = plan_of([PeriodKind.MONTH, PeriodKind.QUARTER], [province])
    now = vn(date(2026, 10, 2), 1)

    def replica() -> ReportSchedule:
        return ReportSchedule(engine, plan, lambda: now, {"1.000001": "Thủ tục"}, interval_s=3600)

    try:
        stored = await asyncio.gather(replica().tick(), replica().tick())
        assert sum(stored) == 4, "September and Q3, national and the province: each stored once"
        assert await replica().tick() == 0
        async with engine.connect() as conn:
            rows = (await conn.execute(select(report.c.period, report.c.scope_code, report.c.trigger))).all()
        assert sorted(rows) == [
            ("2026-09", "", "schedule"),
            ("2026-09", province, "schedule"),
            ("2026-Q3", "", "schedule"),
            ("2026-Q3", province, "schedule"),
        ]
        filed = await report_of(engine, Q3, Scope(ScopeKind.PROVINCE, province), {}, now, Trigger.ON_DEMAND)
        assert filed.resolved.late == 1
        assert [(p.procedure_code, p.name) for p in filed.top_late_procedures] == [("1.000001", "Thủ tục")]
    finally:
        await engine.dispose()
