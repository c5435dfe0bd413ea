"""Reading and writing the turnaround tables inside a caller's transaction (SQLAlchemy Core).

PostgreSQL in production; SQLite for the local run. Upserts and insert-if-absent use each dialect's
ON CONFLICT, which both support with the same meaning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, overload

from sqlalchemy import and_, case, delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.enums import Leg
from services.turnaround.adapters.tables import clock, clock_alert, dossier, outbox, tally
from services.turnaround.domain import Clock, ClockState, Facts, Threshold, Timeliness

ClockKey = tuple[str, Leg]


def _insert(conn: AsyncConnection, table: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _stored(moment: datetime | None) -> datetime | None:
    # SQLite keeps no offset: store every time in UTC, so a naive one read back is UTC, not a guess.
    return moment.astimezone(UTC) if moment is not None else None


@overload
def _read(moment: datetime) -> datetime: ...
@overload
def _read(moment: datetime | None) -> datetime | None: ...
def _read(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)  # SQLite: stored in UTC by _stored


# --------------------------------------------------------------------------- dossier facts


async def lock_facts(conn: AsyncConnection, dossier_ids: Iterable[str]) -> dict[str, Facts]:
    """The stored facts of these dossiers, locked for this transaction in a fixed order (no deadlocks
    between replicas that hold partitions of both topics)."""
    ids = sorted(set(dossier_ids))
    if not ids:
        return {}
    rows = await conn.execute(
        select(dossier.c.dossier_id, dossier.c.facts)
        .where(dossier.c.dossier_id.in_(ids))
        .order_by(dossier.c.dossier_id)
        .with_for_update()
    )
    return {row.dossier_id: Facts.model_validate(row.facts) for row in rows}


async def save_facts(
    conn: AsyncConnection, new: Mapping[str, Facts], changed: Mapping[str, Facts], now: datetime
) -> None:
    if new:
        # A replica racing on the same new dossier makes this fail with IntegrityError; the consumer
        # retries the batch and then finds the row.
        await conn.execute(
            dossier.insert(),
            [
                {"dossier_id": d, "facts": f.model_dump(mode="json"), "updated_at": now}
                for d, f in new.items()
            ],
        )
    for dossier_id, facts in sorted(changed.items()):
        await conn.execute(
            dossier.update()
            .where(dossier.c.dossier_id == dossier_id)
            .values(facts=facts.model_dump(mode="json"), updated_at=now)
        )


# --------------------------------------------------------------------------- clocks


def _clock_row(dossier_id: str, c: Clock, now: datetime) -> dict[str, Any]:
    return {
        "dossier_id": dossier_id,
        "leg": c.leg.value,
        "generation": c.generation,
        "state": c.state.value,
        "started_at": _stored(c.started_at),
        "start_day": c.start_day,
        "due_date": c.due_date,
        "province": c.province,
        "field_key": c.field_key,
        "route": c.route,
        "agency_code": c.agency_code,
        "post_office_code": c.post_office_code,
        "procedure_code": c.procedure_code,
        "finished_at": _stored(c.finished_at),
        "finished_day": c.finished_day,
        "working_days": c.working_days,
        "timeliness": c.timeliness.value if c.timeliness is not None else None,
        "counted": c.counted,
        "updated_at": now,
    }


def _clock_of(row: Any) -> Clock:
    return Clock(
        leg=Leg(row.leg),
        generation=row.generation,
        state=ClockState(row.state),
        started_at=_read(row.started_at),
        start_day=row.start_day,
        due_date=row.due_date,
        province=row.province,
        field_key=row.field_key,
        route=row.route,
        agency_code=row.agency_code,
        post_office_code=row.post_office_code,
        procedure_code=row.procedure_code,
        finished_at=_read(row.finished_at),
        finished_day=row.finished_day,
        working_days=row.working_days,
        timeliness=Timeliness(row.timeliness) if row.timeliness is not None else None,
        counted=row.counted,
    )


async def facts_of(conn: AsyncConnection, dossier_id: str) -> Facts | None:
    row = (await conn.execute(select(dossier.c.facts).where(dossier.c.dossier_id == dossier_id))).first()
    return Facts.model_validate(row.facts) if row is not None else None


async def load_clocks(conn: AsyncConnection, dossier_ids: Iterable[str]) -> dict[ClockKey, Clock]:
    ids = sorted(set(dossier_ids))
    if not ids:
        return {}
    rows = await conn.execute(select(clock).where(clock.c.dossier_id.in_(ids)))
    return {(row.dossier_id, Leg(row.leg)): _clock_of(row) for row in rows}


async def clocks_of_dossier(conn: AsyncConnection, dossier_id: str) -> list[Clock]:
    rows = await conn.execute(
        select(clock).where(clock.c.dossier_id == dossier_id).order_by(clock.c.started_at)
    )
    return [_clock_of(row) for row in rows]


async def upsert_clocks(conn: AsyncConnection, clocks: Sequence[tuple[str, Clock]], now: datetime) -> None:
    if not clocks:
        return
    rows = [_clock_row(d, c, now) for d, c in sorted(clocks, key=lambda item: (item[0], item[1].leg))]
    statement = _insert(conn, clock)
    keys = {"dossier_id", "leg"}
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["dossier_id", "leg"],
            set_={name: statement.excluded[name] for name in rows[0] if name not in keys},
        ),
        rows,
    )


# --------------------------------------------------------------------------- tallies


@dataclass(frozen=True, order=True)
class TallyKey:
    metric: str
    leg: str = ""
    province: str = ""
    field_key: str = ""
    route: str = ""
    outcome: str = ""
    working_days: int = -1


async def add_tallies(conn: AsyncConnection, increments: Mapping[TallyKey, tuple[int, int]]) -> None:
    """Add (count, total) to each tally, in key order (so concurrent batches lock rows in one order)."""
    for key in sorted(increments):
        count, total = increments[key]
        statement = _insert(conn, tally).values(
            metric=key.metric,
            leg=key.leg,
            province=key.province,
            field_key=key.field_key,
            route=key.route,
            outcome=key.outcome,
            working_days=key.working_days,
            count=count,
            total=total,
        )
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["metric", "leg", "province", "field_key", "route", "outcome", "working_days"],
                set_={
                    "count": tally.c.count + statement.excluded.count,
                    "total": tally.c.total + statement.excluded.total,
                },
            )
        )


async def read_tallies(conn: AsyncConnection) -> list[tuple[TallyKey, int, int]]:
    rows = await conn.execute(select(tally))
    return [
        (
            TallyKey(
                row.metric, row.leg, row.province, row.field_key, row.route, row.outcome, row.working_days
            ),
            int(row._mapping["count"]),
            int(row.total),
        )
        for row in rows
    ]


# --------------------------------------------------------------------------- backlog


@dataclass(frozen=True)
class BacklogRow:
    leg: str
    province: str
    field_key: str
    route: str
    state: str
    open: int
    due_soon: int
    overdue: int


async def backlog(conn: AsyncConnection, today: date, horizon: date) -> list[BacklogRow]:
    """Open clocks grouped by leg, province, field and state, with how many are due soon or overdue."""
    running = clock.c.state == ClockState.RUNNING.value
    overdue = case((and_(running, clock.c.due_date < today), 1), else_=0)
    due_soon = case(
        (and_(running, clock.c.due_date >= today, clock.c.due_date <= horizon), 1),
        else_=0,
    )
    rows = await conn.execute(
        select(
            clock.c.leg,
            clock.c.province,
            clock.c.field_key,
            clock.c.route,
            clock.c.state,
            func.count().label("open"),
            func.sum(due_soon).label("due_soon"),
            func.sum(overdue).label("overdue"),
        )
        .where(clock.c.state.in_([ClockState.RUNNING.value, ClockState.SUSPENDED.value]))
        .group_by(clock.c.leg, clock.c.province, clock.c.field_key, clock.c.route, clock.c.state)
    )
    return [
        BacklogRow(
            r.leg,
            r.province,
            r.field_key,
            r.route,
            r.state,
            int(r.open),
            int(r.due_soon or 0),
            int(r.overdue or 0),
        )
        for r in rows
    ]


async def outbox_pending(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(outbox)) or 0)


# --------------------------------------------------------------------------- alerts and the outbox


@dataclass(frozen=True)
class AlertCandidate:
    dossier_id: str
    clock: Clock


async def alert_candidates(
    conn: AsyncConnection, today: date, horizon: date, limit: int
) -> list[AlertCandidate]:
    """Running clocks due by `horizon` without an alert yet for the threshold they stand at today."""
    threshold_now = case((clock.c.due_date < today, Threshold.OVERDUE.value), else_=Threshold.DUE_SOON.value)
    raised = exists().where(
        clock_alert.c.dossier_id == clock.c.dossier_id,
        clock_alert.c.leg == clock.c.leg,
        clock_alert.c.generation == clock.c.generation,
        clock_alert.c.threshold == threshold_now,
    )
    rows = await conn.execute(
        select(clock)
        .where(clock.c.state == ClockState.RUNNING.value, clock.c.due_date <= horizon, ~raised)
        .order_by(clock.c.due_date, clock.c.dossier_id, clock.c.leg)
        .limit(limit)
    )
    return [AlertCandidate(row.dossier_id, _clock_of(row)) for row in rows]


@dataclass(frozen=True)
class AlertRow:
    dossier_id: str
    leg: Leg
    generation: int
    threshold: Threshold
    event_id: str
    due_date: date


async def insert_alerts_if_absent(
    conn: AsyncConnection, alerts: Sequence[AlertRow], now: datetime
) -> list[AlertRow]:
    """Insert the alerts not raised before; returns those this transaction raised (the others lost a race
    with another replica, or were raised by an earlier tick)."""
    raised: list[AlertRow] = []
    for alert in alerts:
        statement = (
            _insert(conn, clock_alert)
            .values(
                dossier_id=alert.dossier_id,
                leg=alert.leg.value,
                generation=alert.generation,
                threshold=alert.threshold.value,
                event_id=alert.event_id,
                due_date=alert.due_date,
                raised_at=now,
            )
            .on_conflict_do_nothing(index_elements=["dossier_id", "leg", "generation", "threshold"])
            .returning(clock_alert.c.event_id)
        )
        if (await conn.execute(statement)).first() is not None:
            raised.append(alert)
    return raised


async def add_to_outbox(conn: AsyncConnection, payloads: Sequence[tuple[str, str]], now: datetime) -> None:
    if payloads:
        await conn.execute(
            _insert(conn, outbox).on_conflict_do_nothing(index_elements=["event_id"]),
            [{"event_id": event_id, "payload": payload, "created_at": now} for event_id, payload in payloads],
        )


async def claim_outbox(conn: AsyncConnection, limit: int) -> list[tuple[str, str]]:
    """The oldest pending envelopes, locked; rows another replica is publishing are skipped."""
    rows = await conn.execute(
        select(outbox.c.event_id, outbox.c.payload)
        .order_by(outbox.c.created_at, outbox.c.event_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(row.event_id, row.payload) for row in rows]


async def delete_from_outbox(conn: AsyncConnection, event_ids: Sequence[str]) -> None:
    if event_ids:
        await conn.execute(delete(outbox).where(outbox.c.event_id.in_(list(event_ids))))


# --------------------------------------------------------------------------- operator views


async def overdue_clocks(conn: AsyncConnection, today: date, limit: int) -> list[AlertCandidate]:
    rows = await conn.execute(
        select(clock)
        .where(clock.c.state == ClockState.RUNNING.value, clock.c.due_date < today)
        .order_by(clock.c.due_date, clock.c.dossier_id)
        .limit(limit)
    )
    return [AlertCandidate(row.dossier_id, _clock_of(row)) for row in rows]
