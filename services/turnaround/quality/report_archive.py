"""Reports generated exactly once per period and scope, and served as stored ever after.

An ended period's report is counted once and inserted if absent under its key (period, scope); whoever
asks next — the API in any format, the schedule, another replica — reads the stored JSON, so every
format of a period holds the same numbers and a later event (a late replay, a corrected clock) never
changes a report that was filed. Two replicas generating the same report at once both count it, but only
the first insert is kept and both answer with the stored one.

A period that has not ended is counted live at each request and never stored: its figures still move.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.shared.calendar import to_vietnam_time
from services.shared.logs import log_event
from services.turnaround.adapters.tables import report
from services.turnaround.quality import report_counts
from services.turnaround.quality.periods import Period
from services.turnaround.quality.reports import Report, Status, build
from services.turnaround.quality.scopes import Scope

logger = logging.getLogger(__name__)

Now = Callable[[], datetime]


class Trigger(StrEnum):
    ON_DEMAND = "on_demand"
    SCHEDULE = "schedule"


def _key(period: Period, scope: Scope) -> dict[str, str]:
    return {"period": period.name, "scope_kind": scope.kind.value, "scope_code": scope.code}


async def stored(conn: AsyncConnection, period: Period, scope: Scope) -> Report | None:
    key = _key(period, scope)
    body = await conn.scalar(
        select(report.c.body).where(*(report.c[name] == value for name, value in key.items()))
    )
    return Report.model_validate(body) if body is not None else None


def _insert(conn: AsyncConnection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(report)


async def store_once(
    conn: AsyncConnection, made: Report, period: Period, scope: Scope, trigger: Trigger
) -> bool:
    """Insert the report unless one of its period and scope is stored; whether this call stored it."""
    statement = (
        _insert(conn)
        .values(
            **_key(period, scope),
            generated_at=made.generated_at,
            trigger=trigger.value,
            body=made.model_dump(mode="json"),
        )
        .on_conflict_do_nothing(index_elements=["period", "scope_kind", "scope_code"])
        .returning(report.c.period)
    )
    return (await conn.execute(statement)).first() is not None


async def _counted(
    engine: AsyncEngine, period: Period, scope: Scope, names: Mapping[str, str], at: datetime, status: Status
) -> Report:
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One snapshot for every count, so the report's figures agree with each other.
            await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            counts = await report_counts.count(conn, period, scope)
    return build(period, scope, counts, names=names, generated_at=at, status=status)


async def generate_once(
    engine: AsyncEngine,
    period: Period,
    scope: Scope,
    names: Mapping[str, str],
    at: datetime,
    trigger: Trigger,
) -> tuple[Report, bool]:
    """The stored report of an ended period, generated and stored first if absent; and whether this call
    stored it (False when it was there, or another replica stored it first)."""
    async with engine.connect() as conn:
        kept = await stored(conn, period, scope)
    if kept is not None:
        return kept, False
    made = await _counted(engine, period, scope, names, at, Status.FINAL)
    async with engine.begin() as conn:
        inserted = await store_once(conn, made, period, scope, trigger)
        kept = await stored(conn, period, scope)
    if inserted:
        log_event(
            logger, "quality_report_generated", period=period.name, scope=scope.name, trigger=trigger.value
        )
    if kept is None:  # pragma: no cover - the row was just inserted, or was already there
        raise RuntimeError("the stored report vanished")
    return kept, inserted


async def report_of(
    engine: AsyncEngine,
    period: Period,
    scope: Scope,
    names: Mapping[str, str],
    now: datetime,
    trigger: Trigger,
) -> Report:
    """An ended period's report as stored (generated first if absent); a running period's counted live."""
    if period.ended_by(to_vietnam_time(now).date()):
        made, _ = await generate_once(engine, period, scope, names, now, trigger)
        return made
    return await _counted(engine, period, scope, names, now, Status.PROVISIONAL)
