"""The queries behind a periodic report: what reports.py builds its figures from.

Resolved and results-by-post figures are the one count of finished clocks (clock_counts); the counts
added here (received, returned, open at period end, late by procedure, nonconformities) select clocks
with clock_counts' own scope and period predicates, so a clock is in the same scope and period
everywhere.

The clocks are read as they stand when the report is generated: a clock keeps only its current
generation, so a clock restarted by a supplement that arrived after the period's end counts as started
then, and a due date moved later by a delay notice is the one judged. That is why an ended period's
report is generated once, soon after the period ends, and kept (report_archive.py).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.enums import Leg
from services.shared.timeliness import Timeliness
from services.turnaround.adapters.tables import clock, dossier, nonconformity
from services.turnaround.domain import ClockState, Facts
from services.turnaround.quality.clock_counts import finished_by_timeliness, finished_in, in_scope
from services.turnaround.quality.periods import Period
from services.turnaround.quality.reports import Open, ReportCounts, top_late
from services.turnaround.quality.scopes import Scope, ScopeKind


async def received_by_post(conn: AsyncConnection, period: Period, scope: Scope) -> int:
    """Inbound postal legs started on a day of the period (J, the acceptance day), whatever became of them."""
    count = await conn.scalar(
        select(func.count()).where(
            clock.c.leg == Leg.INBOUND_POSTAL.value,
            clock.c.start_day >= period.first_day,
            clock.c.start_day < period.end_day,
            in_scope(scope),
        )
    )
    return int(count or 0)


async def returned(conn: AsyncConnection, period: Period, scope: Scope) -> int:
    """Dossiers refused and returned to the citizen in the period: agency clocks cancelled in the period
    whose cancellation was the refusal (not a withdrawal or a loss), as the stored facts tell."""
    rows = await conn.execute(
        select(dossier.c.facts)
        .select_from(clock.join(dossier, dossier.c.dossier_id == clock.c.dossier_id))
        .where(
            clock.c.leg == Leg.AGENCY_PROCESSING.value,
            clock.c.state == ClockState.CANCELLED.value,
            clock.c.finished_day >= period.first_day,
            clock.c.finished_day < period.end_day,
            in_scope(scope),
        )
    )
    count = 0
    for (raw,) in rows:
        facts = Facts.model_validate(raw)
        if facts.refused_at is not None and (
            facts.withdrawn_at is None or facts.refused_at <= facts.withdrawn_at
        ):
            count += 1
    return count


def _not_stopped() -> ColumnElement[bool]:
    # A clock awaiting a supplement (or closed while awaiting it) does not run: it is never overdue.
    return clock.c.state.not_in((ClockState.SUSPENDED.value, ClockState.CLOSED.value))


async def open_at_end(conn: AsyncConnection, period: Period, scope: Scope) -> dict[Leg, Open]:
    """Per leg, clocks started before the period's end and not finished (or stopped) by then; overdue
    when their due date is a day of the period or earlier."""
    ends_at = period.ends_at
    overdue = and_(clock.c.due_date.is_not(None), clock.c.due_date < period.end_day, _not_stopped())
    rows = await conn.execute(
        select(clock.c.leg, func.count(), func.count().filter(overdue))
        .where(
            clock.c.started_at < ends_at,
            or_(clock.c.finished_at.is_(None), clock.c.finished_at >= ends_at),
            in_scope(scope),
        )
        .group_by(clock.c.leg)
    )
    return {Leg(leg): Open(pending=int(pending), overdue=int(late)) for leg, pending, late in rows}


async def late_by_procedure(conn: AsyncConnection, period: Period, scope: Scope) -> dict[str, int]:
    """Late agency clocks finished in the period, per known procedure (clocks without one are left out)."""
    rows = await conn.execute(
        select(clock.c.procedure_code, func.count())
        .where(
            finished_in(period),
            in_scope(scope),
            clock.c.leg == Leg.AGENCY_PROCESSING.value,
            clock.c.timeliness == Timeliness.LATE.value,
            clock.c.procedure_code.is_not(None),
        )
        .group_by(clock.c.procedure_code)
    )
    return {str(code): int(n) for code, n in rows}


def nonconformity_in_scope(scope: Scope) -> ColumnElement[bool]:
    """A nonconformity is in a unit's scope when that unit must answer for it; in a province's by its own."""
    if scope.kind is ScopeKind.PROVINCE:
        return nonconformity.c.province == scope.code
    if scope.kind in (ScopeKind.AGENCY, ScopeKind.POST_OFFICE):
        return and_(
            nonconformity.c.responsible_kind == scope.kind.value,
            nonconformity.c.responsible_code == scope.code,
        )
    return true()


async def nonconformities(
    conn: AsyncConnection, period: Period, scope: Scope
) -> tuple[dict[str, int], dict[str, int]]:
    """Nonconformities opened (their breach detected) and closed in the period, by kind."""
    counts: list[dict[str, int]] = []
    for moment in (nonconformity.c.detected_at, nonconformity.c.closed_at):
        rows = await conn.execute(
            select(nonconformity.c.kind, func.count())
            .where(moment >= period.starts_at, moment < period.ends_at, nonconformity_in_scope(scope))
            .group_by(nonconformity.c.kind)
        )
        counts.append({str(kind): int(n) for kind, n in rows})
    return counts[0], counts[1]


async def count(conn: AsyncConnection, period: Period, scope: Scope) -> ReportCounts:
    """Every count of the report of ``period`` and ``scope``."""
    late = await late_by_procedure(conn, period, scope)
    procedures = {
        code: await finished_by_timeliness(conn, period, scope, Leg.AGENCY_PROCESSING, code)
        for code in top_late(late)
    }
    opened, closed = await nonconformities(conn, period, scope)
    return ReportCounts(
        received_by_post=await received_by_post(conn, period, scope),
        resolved=await finished_by_timeliness(conn, period, scope, Leg.AGENCY_PROCESSING),
        returned=await returned(conn, period, scope),
        open_at_end=await open_at_end(conn, period, scope),
        results_by_post=await finished_by_timeliness(conn, period, scope, Leg.RETURN_POSTAL),
        late_procedures=procedures,
        nonconformities_opened=opened,
        nonconformities_closed=closed,
    )
