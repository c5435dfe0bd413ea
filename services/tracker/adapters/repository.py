"""Reading and writing the tracker's tables with SQLAlchemy Core, in bulk: one statement per table and
batch, never one round trip per event. Works on PostgreSQL and SQLite (the local run).

Times are written in UTC: SQLite keeps no offset, so an aware time in another zone would come back as
a different instant. Times read back without an offset are UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any, Literal

from pydantic_core import to_json
from sqlalchemy import (
    JSON,
    Row,
    Table,
    and_,
    delete,
    func,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy import (
    event as sa_event,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select

from contracts.enums import CustodyHolderKind, ServiceForm, Stage
from services.shared.db import bulk
from services.shared.db.sql import among
from services.tracker.adapters.tables import anomaly, dossier, event, outbox, party, reference
from services.tracker.domain import Anomaly, Custody, DossierView, HistoryEntry, PartyKind, ReferenceKind

CHUNK = 500  # ids per IN list: far below SQLite's bind parameter limit
ARRAY_CHUNK = 10_000  # ids per array parameter on PostgreSQL (= ANY): one statement for a whole batch


def tune(engine: AsyncEngine) -> AsyncEngine:
    """Plan every statement for its parameters on PostgreSQL.

    asyncpg prepares statements, and after five runs PostgreSQL may switch to a generic plan made
    while a table was nearly empty (a fresh database, a rebuild): lookups by id then stay sequential
    scans as the table grows (the consumer's inbox lookup took 150 ms per batch at 30,000 rows). The
    tracker's statements are short (bulk writes go through COPY), so planning each time is cheap.
    """
    if engine.dialect.name == "postgresql":

        @sa_event.listens_for(engine.sync_engine, "connect")
        def _custom_plans(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SET plan_cache_mode = force_custom_plan")
            cursor.close()

    return engine


def utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    zone = moment.tzinfo
    if zone is UTC:  # what asyncpg returns and the fold keeps: nothing to convert
        return moment
    return moment.replace(tzinfo=UTC) if zone is None else moment.astimezone(UTC)


def _chunks(conn: AsyncConnection, ids: Sequence[str]) -> Iterable[Sequence[str]]:
    size = ARRAY_CHUNK if conn.dialect.name == "postgresql" else CHUNK
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# --------------------------------------------------------------------------- loading for the fold


def entry_of(row: Row[Any] | Mapping[str, Any]) -> HistoryEntry:
    values = row._mapping if isinstance(row, Row) else row
    occurred = utc(values["occurred_at"])
    assert occurred is not None
    return HistoryEntry(
        event_id=values["event_id"],
        dossier_id=values["dossier_id"],
        event_type=values["event_type"],
        version=values["version"],
        occurred_at=occurred,
        source=values["source"],
        data=values["data"],
        phone_digest=values["phone_digest"],
    )


async def load_histories(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, list[HistoryEntry]]:
    found: dict[str, list[HistoryEntry]] = {}
    for chunk in _chunks(conn, ids):
        rows = await conn.execute(select(event).where(among(conn, event.c.dossier_id, chunk)))
        for row in rows:
            entry = entry_of(row)
            found.setdefault(entry.dossier_id, []).append(entry)
    return found


async def lock_dossiers(conn: AsyncConnection, ids: Sequence[str]) -> None:
    """Hold the dossiers until the transaction ends, so two replicas never fold one dossier at once.

    A dossier's postal and agency events arrive on two topics, whose partitions two replicas may own:
    without this, both read the same stored row, fold their own events into it, and the later upsert
    drops the other's. A transaction-scoped advisory lock also covers a dossier that has no row yet.
    The locks are taken in key order, so two batches never wait on each other in a cycle. SQLite needs
    none: its writers are serialised by BEGIN IMMEDIATE.
    """
    if conn.dialect.name != "postgresql" or not ids:
        return
    await conn.execute(_LOCK_DOSSIERS, {"ids": list(ids)})


_LOCK_DOSSIERS = text(
    "SELECT pg_advisory_xact_lock(k) FROM ("
    " SELECT DISTINCT hashtextextended(id, 0) AS k FROM unnest(CAST(:ids AS TEXT[])) AS id ORDER BY k"
    ") AS keys"
)


async def load_views(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, DossierView]:
    """The stored fold state of each dossier that has a row."""
    found: dict[str, DossierView] = {}
    for chunk in _chunks(conn, ids):
        for row in await conn.execute(select(dossier).where(among(conn, dossier.c.dossier_id, chunk))):
            # By position: a Row's mapping looks each name up the slow way (16 µs a row, not 2).
            view = view_of(dict(zip(_DOSSIER_COLUMNS, row, strict=True)))
            found[view.dossier_id] = view
    return found


async def load_anomalies(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, dict[str, tuple[str, str]]]:
    """dossier id → event id → (reason, detail) of the anomalies stored for it."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for chunk in _chunks(conn, ids):
        rows = await conn.execute(
            select(anomaly.c.dossier_id, anomaly.c.event_id, anomaly.c.reason, anomaly.c.detail).where(
                among(conn, anomaly.c.dossier_id, chunk)
            )
        )
        for dossier_id, event_id, reason, detail in rows:
            found.setdefault(dossier_id, {})[event_id] = (reason, detail)
    return found


# --------------------------------------------------------------------------- writing the projection


def event_row(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "event_id": entry.event_id,
        "dossier_id": entry.dossier_id,
        "event_type": entry.event_type,
        "version": entry.version,
        "occurred_at": utc(entry.occurred_at),
        "source": entry.source,
        "data": dict(entry.data),
        "phone_digest": entry.phone_digest,
    }


def dossier_row(view: DossierView) -> dict[str, Any]:
    return dict(zip(_DOSSIER_ROW_COLUMNS, dossier_record(view), strict=True))


_DOSSIER_ROW_COLUMNS = tuple(c.name for c in dossier.columns if c.name != "contact_erased_at")
"""The dossier row's columns the fold writes (not ``contact_erased_at``: only an erasure sets it)."""


def dossier_record(view: DossierView) -> tuple[Any, ...]:
    """The dossier row's values in ``_DOSSIER_ROW_COLUMNS`` order (a tuple: what COPY takes)."""
    custody = view.custody
    clock = view.clock
    stage = view.stage
    form = view.service_form
    # ``_value_``: an enum's ``value`` is a descriptor, several times slower to read.
    return (
        view.dossier_id,
        stage._value_ if stage else None,
        utc(view.stage_since),
        custody.kind._value_ if custody else None,
        custody.code if custody else None,
        custody.office if custody else None,
        form._value_ if form else None,
        view.procedure_code,
        view.agency_code,
        view.origin_post_office,
        view.item_id,
        view.result_item_id,
        view.agency_dossier_code,
        view.is_open,
        clock[0]._value_ if clock else None,
        clock[1] if clock else None,
        view.expected_date,
        utc(view.accepted_at),
        utc(view.filed_at),
        utc(view.received_at),
        utc(view.result_ready_at),
        utc(view.refused_at),
        utc(view.picked_up_at),
        utc(view.first_attempt_at),
        utc(view.delivered_at),
        utc(view.closed_at),
        view.inbound_due_date,
        view.agency_due_date,
        view.appointment_date,
        view.return_due_date,
        view.delay_notified,
        view.outcome,
        view.failed_attempts,
        view.phone_digest,
        view.start_event_id,
        view.event_count,
        view.anomaly_count,
        utc(view.first_event_at),
        utc(view.last_event_at),
        view.last_event_type,
        view.last_event_id,
    )


_VIEW_FIELDS = (
    "dossier_id",
    "stage_since",
    "procedure_code",
    "agency_code",
    "origin_post_office",
    "item_id",
    "result_item_id",
    "agency_dossier_code",
    "accepted_at",
    "filed_at",
    "received_at",
    "result_ready_at",
    "refused_at",
    "picked_up_at",
    "first_attempt_at",
    "delivered_at",
    "closed_at",
    "inbound_due_date",
    "agency_due_date",
    "appointment_date",
    "return_due_date",
    "delay_notified",
    "outcome",
    "failed_attempts",
    "phone_digest",
    "start_event_id",
    "event_count",
    "anomaly_count",
    "first_event_at",
    "last_event_at",
    "last_event_type",
    "last_event_id",
)


_DOSSIER_COLUMNS = tuple(dossier.columns.keys())
"""The order of a ``select(dossier)`` row's values."""


def view_of(row: Row[Any] | Mapping[str, Any]) -> DossierView:
    """The fold's state as the row stores it (every field but the steps), to resume folding from."""
    values = row._mapping if isinstance(row, Row) else row
    fields = {name: values[name] for name in _VIEW_FIELDS}
    for name, value in fields.items():
        if isinstance(value, datetime):
            fields[name] = utc(value)
    custody = None
    if values["custody_kind"]:
        custody = Custody(
            CustodyHolderKind(values["custody_kind"]), values["custody_code"], values["custody_office"]
        )
    return DossierView(
        **fields,
        stage=Stage(values["stage"]) if values["stage"] else None,
        custody=custody,
        service_form=ServiceForm(values["service_form"]) if values["service_form"] else None,
    )


def anomaly_row(entry: HistoryEntry, found: Anomaly) -> dict[str, Any]:
    return {
        "event_id": entry.event_id,
        "dossier_id": entry.dossier_id,
        "event_type": entry.event_type,
        "occurred_at": utc(entry.occurred_at),
        "reason": found.reason.value,
        "detail": found.detail[:300],
    }


Conflict = Literal["error", "nothing", "update"]


async def _write(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: Conflict,
    *,
    ordered: bool = False,
) -> None:
    """Insert rows in one statement; on a key conflict raise, skip the row, or update it.

    On PostgreSQL by COPY (services.shared.db.bulk); ``ordered``: in the rows' order (a sequence
    numbers them)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = tuple(rows[0])
        # itemgetter builds each row's tuple in C (a generator per row cost a microsecond).
        values = itemgetter(*columns)
        records = [values(row) for row in rows] if len(columns) > 1 else [(values(row),) for row in rows]
        await _copy(conn, table, columns, records, conflict, ordered)
        return
    statement: Any = sqlite.insert(table)
    primary_key = [column.name for column in table.primary_key]
    if conflict == "nothing":
        statement = statement.on_conflict_do_nothing()
    elif conflict == "update":
        statement = statement.on_conflict_do_update(
            index_elements=primary_key,
            set_={name: statement.excluded[name] for name in rows[0] if name not in primary_key},
        )
    await conn.execute(statement, list(rows))


async def _copy(
    conn: AsyncConnection,
    table: Table,
    columns: tuple[str, ...],
    records: Sequence[tuple[Any, ...]],
    conflict: Conflict,
    ordered: bool = False,
) -> None:
    json_columns = [n for n, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
    if json_columns:
        # asyncpg takes a json column's value as its text.
        records = [
            tuple(_json_text(value) if n in json_columns else value for n, value in enumerate(record))
            for record in records
        ]
    if conflict == "error":
        await bulk.copy_rows(conn, table, columns, records)
    else:
        await bulk.copy_merge(conn, table, columns, records, conflict, ordered=ordered)


def _json_text(value: Any) -> str:
    return to_json(value if isinstance(value, dict) else dict(value)).decode()


_EVENT_COLUMNS = tuple(event.columns.keys())


async def insert_events(conn: AsyncConnection, entries: Sequence[HistoryEntry]) -> None:
    if conn.dialect.name == "postgresql":
        # The COPY records straight from the entries, without a dict per row in between.
        records = [
            (
                e.event_id,
                e.dossier_id,
                e.event_type,
                e.version,
                utc(e.occurred_at),
                e.source,
                _json_text(e.data),
                e.phone_digest,
            )
            for e in entries
        ]
        await bulk.copy_rows(conn, event, _EVENT_COLUMNS, records)
        return
    await _write(conn, event, [event_row(entry) for entry in entries], "error")


async def upsert_dossiers(conn: AsyncConnection, views: Sequence[DossierView]) -> None:
    if conn.dialect.name == "postgresql":
        records = [dossier_record(view) for view in views]
        await bulk.copy_merge(conn, dossier, _DOSSIER_ROW_COLUMNS, records, "update")
        return
    await _write(conn, dossier, [dossier_row(view) for view in views], "update")


_PARTY_COLUMNS = ("kind", "code", "dossier_id")
_REFERENCE_COLUMNS = ("reference", "dossier_id", "kind")


async def insert_parties(conn: AsyncConnection, rows: set[tuple[PartyKind, str, str]]) -> None:
    records = [(k._value_, code, d) for k, code, d in sorted(rows)]
    if conn.dialect.name == "postgresql":
        await bulk.copy_merge(conn, party, _PARTY_COLUMNS, records, "nothing")
        return
    await _write(conn, party, [dict(zip(_PARTY_COLUMNS, r, strict=True)) for r in records], "nothing")


async def insert_references(conn: AsyncConnection, rows: set[tuple[str, str, ReferenceKind]]) -> None:
    records = [(r, d, k._value_) for r, d, k in sorted(rows)]
    if conn.dialect.name == "postgresql":
        await bulk.copy_merge(conn, reference, _REFERENCE_COLUMNS, records, "nothing")
        return
    await _write(conn, reference, [dict(zip(_REFERENCE_COLUMNS, r, strict=True)) for r in records], "nothing")


async def replace_anomalies(
    conn: AsyncConnection, removed: Sequence[str], added: Sequence[dict[str, Any]]
) -> None:
    for chunk in _chunks(conn, list(removed)):
        await conn.execute(delete(anomaly).where(among(conn, anomaly.c.event_id, chunk)))
    await _write(conn, anomaly, added, "error")


async def insert_outbox(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    # In the fold's order: the relay publishes by the sequence, and a dossier's changes keep their order.
    await _write(conn, outbox, rows, "nothing", ordered=True)


# --------------------------------------------------------------------------- queries


async def erase_contacts(conn: AsyncConnection, erased: dict[str, datetime]) -> None:
    """The owner erased these dossiers' contacts: drop every phone check kept of them (the row's and the
    history's, so a later fold cannot bring one back) and note when. A repeated erasure keeps the first
    time."""
    for dossier_id, at in sorted(erased.items()):
        await conn.execute(
            update(dossier)
            .where(dossier.c.dossier_id == dossier_id)
            .values(
                phone_digest=None,
                contact_erased_at=func.coalesce(dossier.c.contact_erased_at, at),
            )
        )
        await conn.execute(
            update(event)
            .where(event.c.dossier_id == dossier_id, event.c.phone_digest.is_not(None))
            .values(phone_digest=None)
        )


async def get_dossier(conn: AsyncConnection, dossier_id: str) -> Row[Any] | None:
    return (await conn.execute(select(dossier).where(dossier.c.dossier_id == dossier_id))).first()


async def history_of(conn: AsyncConnection, dossier_id: str) -> list[HistoryEntry]:
    rows = await conn.execute(select(event).where(event.c.dossier_id == dossier_id))
    return [entry_of(row) for row in rows]


async def parties_of(conn: AsyncConnection, dossier_id: str) -> list[tuple[str, str]]:
    rows = await conn.execute(
        select(party.c.kind, party.c.code)
        .where(party.c.dossier_id == dossier_id)
        .order_by(party.c.kind, party.c.code)
    )
    return [(kind, code) for kind, code in rows]


async def references_of(conn: AsyncConnection, dossier_id: str) -> list[tuple[str, str]]:
    rows = await conn.execute(
        select(reference.c.reference, reference.c.kind)
        .where(reference.c.dossier_id == dossier_id)
        .order_by(reference.c.kind, reference.c.reference)
    )
    return [(ref, kind) for ref, kind in rows]


async def dossiers_by_reference(conn: AsyncConnection, ref: str) -> list[Row[Any]]:
    rows = await conn.execute(
        select(dossier)
        .join(reference, reference.c.dossier_id == dossier.c.dossier_id)
        .where(reference.c.reference == ref)
        .order_by(dossier.c.dossier_id)
        .limit(20)
    )
    return list(rows)


async def is_party(conn: AsyncConnection, dossier_id: str, kind: PartyKind, code: str) -> bool:
    found = await conn.scalar(
        select(func.count())
        .select_from(party)
        .where(party.c.kind == kind.value, party.c.code == code, party.c.dossier_id == dossier_id)
    )
    return bool(found)


@dataclass(frozen=True)
class DossierFilter:
    agency: str | None = None
    procedure: str | None = None
    stage: Stage | None = None
    reference: str | None = None
    overdue_before: date | None = None
    """Only dossiers whose running clock was due before this day, most overdue first."""
    scope_agency: str | None = None
    """An agency's officers list the dossiers addressed to their agency."""
    scope_post_office: str | None = None
    """A post office's staff list the dossiers their office handled."""


Position = tuple[Any, str]
"""Where a page ended: (the sort value, the dossier id)."""


async def list_dossiers(
    conn: AsyncConnection, where: DossierFilter, after: Position | None, limit: int
) -> list[Row[Any]]:
    query: Select[Any] = select(dossier)
    if where.scope_post_office is not None:
        query = query.join(
            party,
            and_(
                party.c.dossier_id == dossier.c.dossier_id,
                party.c.kind == PartyKind.POST_OFFICE.value,
                party.c.code == where.scope_post_office,
            ),
        )
    if where.scope_agency is not None:
        query = query.where(dossier.c.agency_code == where.scope_agency)
    if where.agency is not None:
        query = query.where(dossier.c.agency_code == where.agency)
    if where.procedure is not None:
        query = query.where(dossier.c.procedure_code == where.procedure)
    if where.stage is not None:
        query = query.where(dossier.c.stage == where.stage.value)
    if where.reference is not None:
        query = query.where(
            dossier.c.dossier_id.in_(
                select(reference.c.dossier_id).where(reference.c.reference == where.reference)
            )
        )
    if where.overdue_before is not None:
        query = query.where(dossier.c.due_date < where.overdue_before)
        if after is not None:
            bound = tuple_(
                literal(after[0], dossier.c.due_date.type), literal(after[1], dossier.c.dossier_id.type)
            )
            query = query.where(tuple_(dossier.c.due_date, dossier.c.dossier_id) > bound)
        query = query.order_by(dossier.c.due_date.asc(), dossier.c.dossier_id.asc())
    else:
        if after is not None:
            bound = tuple_(
                literal(utc(after[0]), dossier.c.last_event_at.type),
                literal(after[1], dossier.c.dossier_id.type),
            )
            query = query.where(tuple_(dossier.c.last_event_at, dossier.c.dossier_id) < bound)
        query = query.order_by(dossier.c.last_event_at.desc(), dossier.c.dossier_id.desc())
    return list(await conn.execute(query.limit(limit)))


async def list_anomalies(
    conn: AsyncConnection, reason: str | None, after: tuple[datetime, str] | None, limit: int
) -> list[Row[Any]]:
    query = select(anomaly)
    if reason is not None:
        query = query.where(anomaly.c.reason == reason)
    if after is not None:
        bound = tuple_(
            literal(utc(after[0]), anomaly.c.occurred_at.type), literal(after[1], anomaly.c.event_id.type)
        )
        query = query.where(tuple_(anomaly.c.occurred_at, anomaly.c.event_id) < bound)
    query = query.order_by(anomaly.c.occurred_at.desc(), anomaly.c.event_id.desc()).limit(limit)
    return list(await conn.execute(query))


def new_outbox_row(event_id: uuid.UUID | str, dossier_id: str, payload: str, now: datetime) -> dict[str, Any]:
    return {"event_id": str(event_id), "dossier_id": dossier_id, "payload": payload, "created_at": utc(now)}
