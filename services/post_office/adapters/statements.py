"""The post office's SQL statements, built once at import: one set per database dialect.

Building a select()/update()/insert() per request, and letting SQLAlchemy derive its cache key and bind
parameters again each time, was the largest cost per scan the code controls (issue 19: cache key
generation, bindparam construction and coercions took about a tenth of the post office's CPU). A
statement object built once computes its cache key once (SQLAlchemy memoizes it on the object) and finds
its compiled form in the engine's cache; each execution only passes its parameter values, by name.

A list of values is one parameter whatever its length: ``= ANY(array)`` on PostgreSQL, so the statement
is the same for one item or a thousand (prepared once by asyncpg), and an expanding ``IN`` on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    CompoundSelect,
    Insert,
    Select,
    Update,
    any_,
    bindparam,
    cast,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from services.post_office.adapters.tables import (
    post_office_delivery_attempt,
    post_office_handover,
    post_office_item,
    post_office_scan,
)


@dataclass(frozen=True)
class Statements:
    """Every statement the repository executes; parameters are named in each builder below."""

    locked_items: Select[Any]
    attempts_and_scans: CompoundSelect[Any]
    scans: Select[Any]
    handover_record: Select[Any]
    insert_item: Insert
    update_item: Update
    insert_attempt: Insert
    update_attempt: Update
    insert_handover: Insert
    insert_scan: Insert


def _among(column: Column[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN :name``, the values given at execution as one list."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def _attempts_and_scans(dialect: str) -> CompoundSelect[Any]:
    """One row per delivery attempt of :item_ids and per recorded scan among :scan_ids, told apart by
    ``row_kind``; each part's columns are NULL in the other's rows."""
    a, s = post_office_delivery_attempt.c, post_office_scan.c
    attempt_columns = [a.attempt, a.courier_id, a.started_at, a.outcome, a.ended_at, a.failure_reason]
    scan_columns = [s.scan_id, s.fingerprint, s.event_id, s.kind, s.post_office_code, s.scanned_at]

    def nulls(columns: list[Column[Any]]) -> list[Any]:
        return [cast(null(), c.type).label(c.name) for c in columns]

    attempts = select(
        literal("attempt").label("row_kind"), a.item_id, *attempt_columns, *nulls(scan_columns)
    ).where(_among(a.item_id, "item_ids", dialect))
    scans = select(
        literal("scan").label("row_kind"), s.item_id, *nulls(attempt_columns), *scan_columns
    ).where(_among(s.scan_id, "scan_ids", dialect))
    return union_all(attempts, scans)


def build(dialect: str) -> Statements:
    item, attempt, handover, scan = (
        post_office_item,
        post_office_delivery_attempt,
        post_office_handover,
        post_office_scan,
    )
    return Statements(
        # :item_ids, sorted: rows are locked in item id order, so two requests never deadlock.
        locked_items=select(item)
        .where(_among(item.c.item_id, "item_ids", dialect))
        .order_by(item.c.item_id)
        .with_for_update(),
        attempts_and_scans=_attempts_and_scans(dialect),
        scans=select(scan).where(_among(scan.c.scan_id, "scan_ids", dialect)),
        handover_record=select(handover)
        .where(
            handover.c.post_office_code == bindparam("key_post_office_code"),
            handover.c.record_id == bindparam("key_record_id"),
        )
        .with_for_update(),
        # Inserts take their columns from the parameters' names.
        insert_item=item.insert(),
        # Updates set the columns named by the parameters other than the key_ ones.
        update_item=update(item).where(item.c.item_id == bindparam("key_item_id")),
        insert_attempt=attempt.insert(),
        update_attempt=update(attempt).where(
            attempt.c.item_id == bindparam("key_item_id"), attempt.c.attempt == bindparam("key_attempt")
        ),
        insert_handover=handover.insert(),
        insert_scan=scan.insert(),
    )


_BUILT: dict[str, Statements] = {dialect: build(dialect) for dialect in ("postgresql", "sqlite")}


def statements_for(conn: AsyncConnection) -> Statements:
    """The statements for the connection's database (any other dialect gets the portable IN form)."""
    dialect = conn.dialect.name
    built = _BUILT.get(dialect)
    if built is None:
        built = _BUILT[dialect] = build(dialect)
    return built
