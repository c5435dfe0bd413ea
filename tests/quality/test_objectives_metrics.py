"""The objectives' gauges (target, value of the current period, met) and the open nonconformities by
responsible kind, province and age band, read from the real PostgreSQL — labels bounded by the
objectives file and closed enumerations, never a dossier or unit code."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from contracts.enums import Leg
from services.shared.db.engine import make_engine
from services.shared.timeliness import Timeliness
from services.turnaround.adapters import repository
from services.turnaround.adapters.tables import nonconformity
from services.turnaround.domain import Clock, ClockState
from services.turnaround.quality.objective_metrics import ObjectiveMetrics
from services.turnaround.quality.objectives import parse_objectives

pytestmark = [pytest.mark.postgres]

NOW = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)  # 31 March 2026, 23:30 in Vietnam: still March and Q1
AGENCY = "000.00.01.H22"

OBJECTIVES = parse_objectives(
    {
        "objectives": [
            {
                "id": "agency-on-time-monthly",
                "title": "t",
                "scope": {"kind": "agency", "code": AGENCY},
                "measure": "on_time_share",
                "leg": "AGENCY_PROCESSING",
                "target": {"at_least": 95},
                "period": "month",
                "owner": "o",
                "source": "s",
            },
            {
                "id": "return-on-time-quarterly",
                "title": "t",
                "scope": {"kind": "national"},
                "measure": "on_time_share",
                "leg": "RETURN_POSTAL",
                "target": {"at_least": 98},
                "period": "quarter",
                "owner": "o",
                "source": "s",
            },
            {
                "id": "no-late-notices",
                "title": "t",
                "scope": {"kind": "national"},
                "measure": "nonconformity_count",
                "nonconformity_kind": "late_delay_notice",
                "target": {"at_most": 0},
                "period": "quarter",
                "owner": "o",
                "source": "s",
            },
        ]
    }
)


def _clock(day: date, timeliness: Timeliness) -> tuple[str, Clock]:
    started = datetime(2026, 3, 2, 2, tzinfo=UTC)
    return str(uuid.uuid4()), Clock(
        leg=Leg.AGENCY_PROCESSING,
        generation=1,
        state=ClockState.FINISHED,
        started_at=started,
        start_day=started.date(),
        due_date=date(2026, 3, 20),
        province="ha_noi",
        field_key="f",
        route="",
        agency_code=AGENCY,
        post_office_code="100000",
        procedure_code="1.001456",
        finished_at=datetime.combine(day, datetime.min.time(), UTC),
        finished_day=day,
        working_days=3,
        timeliness=timeliness,
        counted=True,
    )


def _nonconformity(
    responsible_kind: str, province: str, age: timedelta, state: str = "open", kind: str = "late_delay_notice"
) -> dict[str, Any]:
    detected = NOW - age
    return {
        "nonconformity_id": str(uuid.uuid4()),
        "dossier_id": str(uuid.uuid4()),
        "kind": kind,
        "occurrence": "1",
        "leg": None,
        "responsible_kind": responsible_kind,
        "responsible_code": AGENCY if responsible_kind == "agency" else "100000",
        "province": province,
        "procedure_code": None,
        "rule_set": "decree_118_2025",
        "article": "Decree 118/2025/NĐ-CP Art. 19(6)",
        "facts": {},
        "detected_at": detected,
        "opened_at": detected,
        "state": state,
        "version": 1,
        "updated_at": detected,
    }


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


async def test_each_objective_exports_its_target_and_the_current_periods_value_and_verdict(
    migrated_database: str,
) -> None:
    engine = make_engine(migrated_database)
    clocks = [_clock(date(2026, 3, 31), Timeliness.ON_TIME) for _ in range(18)]
    clocks += [_clock(date(2026, 3, 2), Timeliness.EARLY), _clock(date(2026, 3, 3), Timeliness.LATE)]
    clocks += [_clock(date(2026, 2, 27), Timeliness.LATE)]  # February: not the current month
    rows = [
        _nonconformity("agency", "ha_noi", timedelta(days=1)),
        _nonconformity("agency", "ha_noi", timedelta(days=80)),  # 10 January: in Q1
        _nonconformity("agency", "ha_noi", timedelta(days=95)),  # 26 December: Q4 2025
    ]
    metrics = ObjectiveMetrics(engine, OBJECTIVES, lambda: NOW)
    registry = CollectorRegistry()
    registry.register(metrics)
    try:
        async with engine.begin() as conn:
            await repository.upsert_clocks(conn, clocks, NOW)
            await conn.execute(nonconformity.insert(), rows)
        await metrics.refresh()
    finally:
        await engine.dispose()

    samples = _samples(registry)
    agency = (
        ("measure", "on_time_share"),
        ("objective", "agency-on-time-monthly"),
        ("period", "month"),
        ("scope", f"agency:{AGENCY}"),
    )
    notices = (
        ("measure", "nonconformity_count"),
        ("objective", "no-late-notices"),
        ("period", "quarter"),
        ("scope", "national"),
    )
    returns = (
        ("measure", "on_time_share"),
        ("objective", "return-on-time-quarterly"),
        ("period", "quarter"),
        ("scope", "national"),
    )
    assert samples[("quality_objective_target", agency)] == 95
    assert samples[("quality_objective_numerator", agency)] == 19  # March: 18 on time, 1 early
    assert samples[("quality_objective_denominator", agency)] == 20
    assert samples[("quality_objective_value", agency)] == 95.0
    assert samples[("quality_objective_met", agency)] == 1
    assert samples[("quality_objective_target", notices)] == 0
    assert samples[("quality_objective_value", notices)] == 2
    assert samples[("quality_objective_met", notices)] == 0
    assert ("quality_objective_denominator", notices) not in samples
    # No return leg finished this quarter: not measurable, so no value and no verdict, only the target.
    assert samples[("quality_objective_target", returns)] == 98
    assert samples[("quality_objective_denominator", returns)] == 0
    assert ("quality_objective_value", returns) not in samples
    assert ("quality_objective_met", returns) not in samples
    assert samples[("quality_objectives_snapshot_timestamp_seconds", ())] > 0


async def test_open_nonconformities_are_counted_by_unit_kind_province_and_age_band(
    migrated_database: str,
) -> None:
    engine = make_engine(migrated_database)
    day = timedelta(days=1)
    rows = [
        _nonconformity("agency", "ha_noi", timedelta(hours=1)),
        _nonconformity("agency", "ha_noi", 7 * day - timedelta(seconds=1)),  # still under 7 days
        _nonconformity("agency", "ha_noi", 7 * day),  # 7 days old: the next band
        _nonconformity("agency", "ha_noi", 29 * day, state="analysed"),
        _nonconformity("agency", "hue", 30 * day, state="action_taken"),
        _nonconformity("post_office", "ha_noi", 89 * day, state="verified"),
        _nonconformity("post_office", "ha_noi", 90 * day),
        _nonconformity("post_office", "ha_noi", 400 * day),
        _nonconformity("agency", "ha_noi", 2 * day, state="closed"),  # closed: not open
    ]
    metrics = ObjectiveMetrics(engine, OBJECTIVES, lambda: NOW)
    registry = CollectorRegistry()
    registry.register(metrics)
    try:
        async with engine.begin() as conn:
            await conn.execute(nonconformity.insert(), rows)
        await metrics.refresh()
    finally:
        await engine.dispose()

    open_ = {
        (dict(labels)["responsible_kind"], dict(labels)["province"], dict(labels)["age"]): value
        for (name, labels), value in _samples(registry).items()
        if name == "quality_nonconformities_open"
    }
    assert open_ == {
        ("agency", "ha_noi", "under_7d"): 2,
        ("agency", "ha_noi", "7d_to_30d"): 2,
        ("agency", "hue", "30d_to_90d"): 1,
        ("post_office", "ha_noi", "30d_to_90d"): 1,
        ("post_office", "ha_noi", "over_90d"): 2,
    }
    exposition = generate_latest(registry).decode()
    assert AGENCY not in exposition.split("quality_nonconformities_open", 1)[1], "no unit code as a label"


async def test_a_failed_read_keeps_serving_the_last_values_and_is_counted(migrated_database: str) -> None:
    engine = make_engine(migrated_database)
    metrics = ObjectiveMetrics(engine, OBJECTIVES, lambda: NOW)
    await metrics.refresh()
    taken = metrics.current.taken_at
    await engine.dispose()
    broken = make_engine(migrated_database.rsplit("/", 1)[0] + f"/absent_{uuid.uuid4().hex[:8]}")
    metrics._engine = broken
    loop = asyncio.create_task(metrics.run(0.05))
    try:
        async with asyncio.timeout(30):
            while metrics.failures < 2:
                await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await broken.dispose()
    assert metrics.current.taken_at == taken
    assert len(metrics.current.measured) == len(OBJECTIVES)
