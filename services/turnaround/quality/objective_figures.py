"""The counts behind an objective in a period, read from the store, and the measurement made of them.

"On time" comes only from clock_counts (the one count of clocks finished early, on time or late); the
nonconformities are counted from their register by kind, by the day they were detected (Vietnam time,
like every period) and by their responsible unit or province. The verdict, value and trend are
measurement.py's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.turnaround.adapters.tables import nonconformity
from services.turnaround.quality.clock_counts import finished_by_timeliness, on_time_count
from services.turnaround.quality.measurement import (
    Direction,
    Figures,
    Status,
    direction_of,
    status_of,
    value_of,
)
from services.turnaround.quality.objectives import Measure, Objective
from services.turnaround.quality.periods import Period, PeriodError
from services.turnaround.quality.report_counts import nonconformity_in_scope
from services.turnaround.quality.scopes import Scope


async def nonconformities_detected(
    conn: AsyncConnection, period: Period, scope: Scope, kind: str, procedure_code: str | None = None
) -> int:
    conditions = [
        nonconformity.c.kind == kind,
        nonconformity.c.detected_at >= period.starts_at,
        nonconformity.c.detected_at < period.ends_at,
        nonconformity_in_scope(scope),
    ]
    if procedure_code is not None:
        conditions.append(nonconformity.c.procedure_code == procedure_code)
    count = await conn.scalar(select(func.count()).select_from(nonconformity).where(*conditions))
    return int(count or 0)


async def figures_of(conn: AsyncConnection, objective: Objective, period: Period) -> Figures:
    if objective.measure is Measure.ON_TIME_SHARE:
        assert objective.leg is not None  # the file's validation requires it
        counts = await finished_by_timeliness(
            conn, period, objective.scope, objective.leg, objective.procedure_code
        )
        return Figures(on_time_count(counts), sum(counts.values()))
    assert objective.nonconformity_kind is not None
    return Figures(
        await nonconformities_detected(
            conn, period, objective.scope, objective.nonconformity_kind, objective.procedure_code
        )
    )


def _earlier(period: Period, count: int) -> list[Period]:
    """Up to ``count`` earlier periods, fewer at the first period there can be (2000)."""
    earlier: list[Period] = []
    while len(earlier) < count:
        try:
            period = period.previous()
        except PeriodError:
            break
        earlier.append(period)
    return earlier


@dataclass(frozen=True)
class PeriodMeasurement:
    period: Period
    figures: Figures
    value: Decimal | None
    status: Status


@dataclass(frozen=True)
class Measurement:
    objective: Objective
    current: PeriodMeasurement
    previous: tuple[PeriodMeasurement, ...]
    """The earlier periods of the same kind, most recent first."""
    direction: Direction


async def measure_period(conn: AsyncConnection, objective: Objective, period: Period) -> PeriodMeasurement:
    figures = await figures_of(conn, objective, period)
    return PeriodMeasurement(
        period, figures, value_of(figures), status_of(figures, objective.comparison, objective.target)
    )


async def measure(
    conn: AsyncConnection, objective: Objective, period: Period, trend_periods: int = 4
) -> Measurement:
    """The objective in ``period`` and in the ``trend_periods`` periods before it."""
    current = await measure_period(conn, objective, period)
    previous = tuple([await measure_period(conn, objective, p) for p in _earlier(period, trend_periods)])
    direction = direction_of(objective.comparison, current.value, [p.value for p in previous])
    return Measurement(objective, current, previous, direction)
