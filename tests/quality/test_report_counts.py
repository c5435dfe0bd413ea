"""What each figure of a periodic report counts (report_counts.py), against the real PostgreSQL: clocks,
dossiers' facts and nonconformities written as turnaround and the nonconformity register store them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import Leg
from services.shared.calendar import VN_TZ
from services.shared.db.engine import make_engine
from services.shared.timeliness import Timeliness
from services.turnaround.adapters import repository
from services.turnaround.adapters.tables import nonconformity
from services.turnaround.domain import Clock, ClockState, Facts
from services.turnaround.quality import report_counts
from services.turnaround.quality.periods import Period
from services.turnaround.quality.reports import Open
from services.turnaround.quality.scopes import NATIONAL, Scope, ScopeKind

pytestmark = [pytest.mark.postgres]

Q3 = Period.parse("2026-Q3")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
EARLY, ON_TIME, LATE = Timeliness.EARLY, Timeliness.ON_TIME, Timeliness.LATE


def vn(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), VN_TZ)


def unit() -> str:
    """A unique agency code, so every count can be scoped to this test's rows alone."""
    return f"{uuid.uuid4().int % 10**9:09d}.H22"


def clock(
    leg: Leg,
    agency: str,
    started: datetime,
    *,
    state: ClockState = ClockState.RUNNING,
    due: date | None = None,
    finished: datetime | None = None,
    timeliness: Timeliness | None = None,
    procedure: str | None = "1.000001",
    province: str = "ha_noi",
    office: str = "100000",
) -> tuple[str, Clock]:
    return str(uuid.uuid4()), Clock(
        leg=leg,
        generation=0,
        state=state,
        started_at=started,
        start_day=started.astimezone(VN_TZ).date(),
        due_date=due,
        province=province,
        field_key="f",
        route="",
        agency_code=agency,
        post_office_code=office,
        procedure_code=procedure,
        finished_at=finished,
        finished_day=finished.astimezone(VN_TZ).date() if finished else None,
        working_days=1 if finished else None,
        timeliness=timeliness,
        counted=True,
    )


async def store(
    engine: AsyncEngine, clocks: list[tuple[str, Clock]], facts: dict[str, Facts] | None = None
) -> None:
    async with engine.begin() as conn:
        if facts:
            await repository.save_facts(conn, facts, {}, NOW)
        await repository.upsert_clocks(conn, clocks, NOW)


async def test_received_by_post_counts_inbound_legs_accepted_on_a_day_of_the_period(
    migrated_database: str,
) -> None:
    engine = make_engine(migrated_database)
    agency = unit()
    inbound = Leg.INBOUND_POSTAL
    await store(
        engine,
        [
            clock(inbound, agency, vn(date(2026, 7, 1), 0)),  # the first minute of the quarter, Vietnam time
            clock(inbound, agency, vn(date(2026, 9, 30), 23)),
            clock(
                inbound,
                agency,
                vn(date(2026, 8, 3)),
                state=ClockState.CANCELLED,
                finished=vn(date(2026, 8, 4)),
            ),
            clock(
                inbound,
                agency,
                vn(date(2026, 8, 3)),
                state=ClockState.FINISHED,
                finished=vn(date(2026, 8, 4)),
            ),
            # Accepted 30 Jun at 23:00 Vietnam time (16:00 UTC): June's; 1 Oct: the next quarter's.
            clock(inbound, agency, vn(date(2026, 6, 30), 23)),
            clock(inbound, agency, vn(date(2026, 10, 1), 0)),
            clock(Leg.AGENCY_PROCESSING, agency, vn(date(2026, 8, 3))),
            clock(inbound, unit(), vn(date(2026, 8, 3))),
        ],
    )
    try:
        async with engine.connect() as conn:
            assert await report_counts.received_by_post(conn, Q3, Scope(ScopeKind.AGENCY, agency)) == 4
            assert await report_counts.received_by_post(conn, Q3, NATIONAL) == 5
    finally:
        await engine.dispose()


async def test_returned_counts_the_dossiers_the_agency_refused_in_the_period(migrated_database: str) -> None:
    engine = make_engine(migrated_database)
    agency = unit()
    refused_at, other = vn(date(2026, 8, 5)), vn(date(2026, 8, 6))
    cases = {
        "refused": (Facts(refused_at=refused_at), refused_at),
        "refused_then_withdrawn": (Facts(refused_at=refused_at, withdrawn_at=other), refused_at),
        "withdrawn": (Facts(withdrawn_at=refused_at), refused_at),
        "withdrawn_then_refused": (Facts(withdrawn_at=refused_at, refused_at=other), refused_at),
        "refused_in_october": (Facts(refused_at=vn(date(2026, 10, 1))), vn(date(2026, 10, 1))),
    }
    clocks, facts = [], {}
    for dossier_facts, stopped in cases.values():
        dossier_id, c = clock(
            Leg.AGENCY_PROCESSING, agency, vn(date(2026, 8, 3)), state=ClockState.CANCELLED, finished=stopped
        )
        clocks.append((dossier_id, c))
        facts[dossier_id] = dossier_facts
    await store(engine, clocks, facts)
    try:
        async with engine.connect() as conn:
            assert await report_counts.returned(conn, Q3, Scope(ScopeKind.AGENCY, agency)) == 2
            assert await report_counts.returned(conn, Q3, Scope(ScopeKind.AGENCY, unit())) == 0
    finally:
        await engine.dispose()


async def test_pending_at_period_end_started_before_it_unfinished_by_then_overdue_past_their_due_date(
    migrated_database: str,
) -> None:
    engine = make_engine(migrated_database)
    agency = unit()
    ag, ret = Leg.AGENCY_PROCESSING, Leg.RETURN_POSTAL
    end = vn(date(2026, 10, 1), 0)
    await store(
        engine,
        [
            # Pending: still running, due on the first day after the period → pending, not overdue.
            clock(ag, agency, vn(date(2026, 9, 28)), due=date(2026, 10, 1)),
            # Still running, due on the period's last day → overdue from the first day after it.
            clock(ag, agency, vn(date(2026, 9, 20)), due=date(2026, 9, 30)),
            # Finished after the period's end, due in September → was overdue at the end.
            clock(
                ag,
                agency,
                vn(date(2026, 9, 1)),
                state=ClockState.FINISHED,
                due=date(2026, 9, 4),
                finished=end,
                timeliness=LATE,
            ),
            # Cancelled after the end: was pending at the end.
            clock(
                ag,
                agency,
                vn(date(2026, 9, 29)),
                state=ClockState.CANCELLED,
                due=date(2026, 10, 5),
                finished=end + timedelta(days=2),
            ),
            # Awaiting a supplement: pending, never overdue.
            clock(ag, agency, vn(date(2026, 8, 1)), state=ClockState.SUSPENDED, due=date(2026, 8, 6)),
            clock(ret, agency, vn(date(2026, 9, 29)), due=date(2026, 9, 30)),
            # Not pending: finished before the end (a second before it), started after it.
            clock(
                ag,
                agency,
                vn(date(2026, 9, 1)),
                state=ClockState.FINISHED,
                due=date(2026, 9, 4),
                finished=end - timedelta(seconds=1),
                timeliness=LATE,
            ),
            clock(ag, agency, end, due=date(2026, 9, 30)),
            clock(ag, unit(), vn(date(2026, 9, 20)), due=date(2026, 9, 30)),
        ],
    )
    try:
        async with engine.connect() as conn:
            open_ = await report_counts.open_at_end(conn, Q3, Scope(ScopeKind.AGENCY, agency))
    finally:
        await engine.dispose()
    assert open_ == {ag: Open(pending=5, overdue=2), ret: Open(pending=1, overdue=1)}


async def test_late_procedures_count_late_agency_clocks_finished_in_the_period_by_procedure(
    migrated_database: str,
) -> None:
    engine = make_engine(migrated_database)
    agency = unit()
    ag = Leg.AGENCY_PROCESSING

    def done(
        procedure: str | None, timeliness: Timeliness, day: date = date(2026, 8, 10), leg: Leg = ag
    ) -> tuple[str, Clock]:
        return clock(
            leg,
            agency,
            vn(date(2026, 8, 3)),
            state=ClockState.FINISHED,
            due=date(2026, 8, 6),
            finished=vn(day),
            timeliness=timeliness,
            procedure=procedure,
        )

    await store(
        engine,
        [
            done("1.000001", LATE),
            done("1.000001", LATE),
            done("1.000001", ON_TIME),
            done("1.000002", LATE),
            done("1.000003", EARLY),
            done(None, LATE),  # a clock finished before its procedure was kept: left out
            done("1.000002", LATE, day=date(2026, 10, 1)),
            done("1.000002", LATE, leg=Leg.RETURN_POSTAL),
        ],
    )
    try:
        async with engine.connect() as conn:
            late = await report_counts.late_by_procedure(conn, Q3, Scope(ScopeKind.AGENCY, agency))
            counts = await report_counts.count(conn, Q3, Scope(ScopeKind.AGENCY, agency))
    finally:
        await engine.dispose()
    assert late == {"1.000001": 2, "1.000002": 1}
    assert counts.late_procedures == {
        "1.000001": {EARLY: 0, ON_TIME: 1, LATE: 2},
        "1.000002": {EARLY: 0, ON_TIME: 0, LATE: 1},
    }
    assert counts.resolved == {EARLY: 1, ON_TIME: 1, LATE: 4}
    assert counts.results_by_post == {EARLY: 0, ON_TIME: 0, LATE: 1}


async def test_nonconformities_opened_and_closed_in_the_period_by_kind_in_the_units_scope(
    migrated_database: str,
) -> None:
    engine = make_engine(migrated_database)
    agency, office = unit(), f"{uuid.uuid4().int % 10**6:06d}"
    province = f"p_{uuid.uuid4().hex[:8]}"

    def row(
        kind: str, detected: datetime, closed: datetime | None, responsible: tuple[str, str]
    ) -> dict[str, object]:
        return {
            "nonconformity_id": str(uuid.uuid4()),
            "dossier_id": str(uuid.uuid4()),
            "kind": kind,
            "occurrence": "1",
            "leg": None,
            "responsible_kind": responsible[0],
            "responsible_code": responsible[1],
            "province": province,
            "procedure_code": None,
            "rule_set": "decree-118-2025",
            "article": "Art. 19(6)",
            "facts": {},
            "detected_at": detected,
            "opened_at": detected,
            "state": "closed" if closed else "open",
            "closed_at": closed,
            "version": 1,
            "updated_at": NOW,
        }

    by_agency, by_office = ("agency", agency), ("post_office", office)
    rows = [
        row("result_late", vn(date(2026, 7, 1), 0), None, by_agency),
        row("result_late", vn(date(2026, 9, 30), 23), vn(date(2026, 10, 2)), by_agency),
        row("second_delay_notice", vn(date(2026, 6, 30), 23), vn(date(2026, 7, 2)), by_agency),
        row("second_delay_notice", vn(date(2026, 10, 1), 0), None, by_agency),
        row("postal_leg_late", vn(date(2026, 8, 1)), vn(date(2026, 8, 20)), by_office),
    ]
    async with engine.begin() as conn:
        await conn.execute(nonconformity.insert(), rows)
    try:
        async with engine.connect() as conn:
            of_agency = await report_counts.nonconformities(conn, Q3, Scope(ScopeKind.AGENCY, agency))
            of_office = await report_counts.nonconformities(conn, Q3, Scope(ScopeKind.POST_OFFICE, office))
            of_province = await report_counts.nonconformities(conn, Q3, Scope(ScopeKind.PROVINCE, province))
            of_another = await report_counts.nonconformities(conn, Q3, Scope(ScopeKind.POST_OFFICE, agency))
    finally:
        await engine.dispose()
    assert of_agency == ({"result_late": 2}, {"second_delay_notice": 1})
    assert of_office == ({"postal_leg_late": 1}, {"postal_leg_late": 1})
    assert of_province == (
        {"result_late": 2, "postal_leg_late": 1},
        {"second_delay_notice": 1, "postal_leg_late": 1},
    )
    assert of_another == ({}, {})
