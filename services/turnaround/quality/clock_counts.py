"""How many clocks of a scope finished early, on time or late in a period: the one count behind every
objective's measurement and every report's "resolved" figures.

It reads the timeliness turnaround stored when the clock finished (classified by
services/shared/timeliness.py, the national index's definition), so a report, an objective and the
Grafana panels never disagree on a dossier. A clock is in a period by the Vietnam day it finished, and
counted only once its facts classified it (``counted``), like the tallies behind the metrics.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.enums import Leg
from services.shared.timeliness import Timeliness
from services.turnaround.adapters.tables import clock
from services.turnaround.domain import ClockState
from services.turnaround.quality.periods import Period
from services.turnaround.quality.scopes import Scope, ScopeKind


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """A clock's own columns decide its scope: the province of its office or agency, the agency that
    processes it, the post office that handles its leg (accepting, handing over, picking up)."""
    if scope.kind is ScopeKind.PROVINCE:
        return clock.c.province == scope.code
    if scope.kind is ScopeKind.AGENCY:
        return clock.c.agency_code == scope.code
    if scope.kind is ScopeKind.POST_OFFICE:
        return clock.c.post_office_code == scope.code
    return true()


def finished_in(period: Period) -> ColumnElement[bool]:
    return and_(
        clock.c.state == ClockState.FINISHED.value,
        clock.c.counted.is_(True),
        clock.c.timeliness.is_not(None),
        clock.c.finished_day >= period.first_day,
        clock.c.finished_day < period.end_day,
    )


async def finished_by_timeliness(
    conn: AsyncConnection,
    period: Period,
    scope: Scope,
    leg: Leg,
    procedure_code: str | None = None,
) -> dict[Timeliness, int]:
    """Clocks of ``leg`` finished in ``period`` within ``scope`` (and of one procedure, if given), by
    timeliness; every timeliness is present, zero when none."""
    conditions = [finished_in(period), in_scope(scope), clock.c.leg == leg.value]
    if procedure_code is not None:
        conditions.append(clock.c.procedure_code == procedure_code)
    rows = await conn.execute(
        select(clock.c.timeliness, func.count()).where(*conditions).group_by(clock.c.timeliness)
    )
    counts = dict.fromkeys(Timeliness, 0)
    for timeliness, count in rows:
        counts[Timeliness(timeliness)] = count
    return counts


def on_time_count(counts: dict[Timeliness, int]) -> int:
    """Early counts as on time: the index's "đúng hạn" share is early plus on time."""
    return counts[Timeliness.EARLY] + counts[Timeliness.ON_TIME]
