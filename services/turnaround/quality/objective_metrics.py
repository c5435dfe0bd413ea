"""Prometheus gauges of the quality objectives and of the open nonconformities.

Refreshed in the background, not at scrape: a Prometheus collector is synchronous and /metrics is served
from the event loop, so it cannot await the database; and an objective's figures change only as clocks
finish, so a read every `objectives_refresh_s` (60 s by default) is fresh enough for a monthly or
quarterly objective while keeping the database's work independent of how often Prometheus scrapes.
Each refresh costs one indexed count per objective (ix_turnaround_clock_leg_finished_day, or the
nonconformities' detected_at index) and one grouped count of the open nonconformities.

Labels are bounded: `objective` and `scope` come from the objectives file (a handful of entries), never
from the data; the open nonconformities are labelled by the kind of responsible unit (agency,
post_office), the province key (34 + unknown) and an age band (4) — never a dossier, agency or post
office code. Every replica exports the same values: deduplicate with `max without (instance)`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.shared.calendar import to_vietnam_time
from services.shared.logs import log_event
from services.turnaround.adapters.tables import nonconformity
from services.turnaround.quality.objective_figures import PeriodMeasurement, measure_period
from services.turnaround.quality.objectives import Objective, Objectives
from services.turnaround.quality.periods import Period

logger = logging.getLogger(__name__)

# A nonconformity's age is counted from when the breach happened (detected_at), in calendar days: the
# bands are how long a unit has left it open, whatever the working days.
AGE_BANDS: tuple[tuple[str, int | None], ...] = (
    ("under_7d", 7),
    ("7d_to_30d", 30),
    ("30d_to_90d", 90),
    ("over_90d", None),
)
CLOSED = "closed"


@dataclass
class ObjectiveSnapshot:
    taken_at: float = 0.0
    measured: list[tuple[Objective, PeriodMeasurement]] = field(default_factory=list)
    open_nonconformities: dict[tuple[str, str, str], int] = field(default_factory=dict)


async def open_nonconformities(conn: AsyncConnection, now: datetime) -> dict[tuple[str, str, str], int]:
    """Open nonconformities (every state but closed) by responsible kind, province and age band; the
    band is computed by the database, so the answer has at most 2 × 35 × 4 rows."""
    band = case(
        *[
            (nonconformity.c.detected_at > now - timedelta(days=days), name)
            for name, days in AGE_BANDS
            if days is not None
        ],
        else_=AGE_BANDS[-1][0],
    ).label("band")
    rows = await conn.execute(
        select(nonconformity.c.responsible_kind, nonconformity.c.province, band, func.count())
        .where(nonconformity.c.state != CLOSED)
        .group_by(nonconformity.c.responsible_kind, nonconformity.c.province, band)
    )
    return {(kind, province, name): n for kind, province, name, n in rows}


class ObjectiveMetrics(Collector):
    """Reads the objectives' current periods and the open nonconformities; serves the last read."""

    def __init__(self, engine: AsyncEngine, objectives: Objectives, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._objectives = objectives
        self._now = now
        self.current = ObjectiveSnapshot()
        self.failures = 0

    async def refresh(self) -> None:
        now = self._now()
        today = to_vietnam_time(now).date()
        async with self._engine.connect() as conn:
            measured = [
                (o, await measure_period(conn, o, Period.containing(today, o.period)))
                for o in self._objectives
            ]
            still_open = await open_nonconformities(conn, now)
        self.current = ObjectiveSnapshot(time.time(), measured, still_open)

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # keep serving the last read; its timestamp shows the age
                self.failures += 1
                log_event(logger, "objective_metrics_failed", logging.WARNING, error=type(exc).__name__)
            await asyncio.sleep(interval_s)

    def collect(self) -> Iterator[Metric]:
        snap = self.current
        labels = ["objective", "scope", "measure", "period"]
        target = GaugeMetricFamily(
            "quality_objective_target",
            "The objective's target: a percent for an on-time share, a count for a nonconformity count.",
            labels=labels,
        )
        value = GaugeMetricFamily(
            "quality_objective_value",
            "The objective measured in its current period (percent or count); absent while not measurable "
            "(no clock finished yet in the period).",
            labels=labels,
        )
        met = GaugeMetricFamily(
            "quality_objective_met",
            "1 when the current period meets the target so far, 0 when not; absent while not measurable.",
            labels=labels,
        )
        numerator = GaugeMetricFamily(
            "quality_objective_numerator",
            "Clocks finished early or on time (a share), or nonconformities counted, in the current period.",
            labels=labels,
        )
        denominator = GaugeMetricFamily(
            "quality_objective_denominator",
            "Clocks finished in the current period (shares only).",
            labels=labels,
        )
        for objective, measured in snap.measured:
            row = [objective.id, objective.scope.name, objective.measure.value, objective.period.value]
            target.add_metric(row, float(objective.target))
            numerator.add_metric(row, measured.figures.numerator)
            if measured.figures.denominator is not None:
                denominator.add_metric(row, measured.figures.denominator)
            if measured.value is not None:
                value.add_metric(row, float(measured.value))
                met.add_metric(row, 1.0 if measured.status.value == "met" else 0.0)
        yield from (target, value, met, numerator, denominator)
        still_open = GaugeMetricFamily(
            "quality_nonconformities_open",
            "Nonconformities not yet closed, by the kind of responsible unit, province and age band (from "
            "the breach, calendar days).",
            labels=["responsible_kind", "province", "age"],
        )
        for (kind, province, band), n in sorted(snap.open_nonconformities.items()):
            still_open.add_metric([kind, province, band], n)
        yield still_open
        taken = GaugeMetricFamily(
            "quality_objectives_snapshot_timestamp_seconds",
            "When the objectives' metrics were last read from the database (Unix time; 0 = never).",
        )
        taken.add_metric([], snap.taken_at)
        yield taken
        failures = CounterMetricFamily(
            "quality_objectives_snapshot_failures", "Failed reads of the objectives' metrics."
        )
        failures.add_metric([], self.failures)
        yield failures
