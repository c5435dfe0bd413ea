"""The post office's SQL statements, built once at import: one set per database dialect.

Building a select()/update()/insert() per request, and letting SQLAlchemy derive its cache key and bind
parameters again each time, was the largest cost per scan the code controls (issue 19: cache key
generation, bindparam construction and coercions took about a tenth of the post office's CPU). A
statement object built once computes its cache key once (SQLAlchemy memoizes it on the object) and finds
its compiled form in the engine's cache; each execution only passes its parameter values, by name.

A list of values is one parameter whatever its length: ``= ANY(array)`` on PostgreSQL, so the statement
is the same for one item or a thousand (prepared once by asyncpg), and an expanding ``IN`` on SQLite.

PostgreSQL has three statements more, which save a scan a round trip each way: the items locked with
their attempts and the scans in one statement, and a scan's insert that also gives its item's row a new
version (repository.items_and_scans says why the two go together). With asyncpg, an online scan sends
those two on the driver's connection, compiled once from these objects (driver_statements.py).
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
    String,
    Update,
    any_,
    bindparam,
    cast,
    literal_column,
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
    handover_record: Select[Any]
    insert_item: Insert
    update_item: Update
    insert_attempt: Insert
    update_attempt: Update
    insert_handover: Insert
    insert_scan: Insert
    locked_items_with_history: CompoundSelect[Any] | None
    """PostgreSQL only: locked_items and attempts_and_scans in one statement, with each item's version
    (see repository.items_and_scans)."""
    insert_scan_touching: Insert | None
    """PostgreSQL only: insert_scan (:new_<column>) that also updates its item's row, a new version of it
    (:new_stage, :new_handover_record_id)."""
    touch_items: Update | None
    """PostgreSQL only: a new version of the rows of :item_ids (updated_at = :updated_at)."""


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

    def kind(name: str) -> Any:
        # Inline, not a bind parameter: a constant of the statement.
        return literal_column(f"'{name}'", String).label("row_kind")

    attempts = select(kind("attempt"), a.item_id, *attempt_columns, *nulls(scan_columns)).where(
        _among(a.item_id, "item_ids", dialect)
    )
    scans = select(kind("scan"), s.item_id, *nulls(attempt_columns), *scan_columns).where(
        _among(s.scan_id, "scan_ids", dialect)
    )
    return union_all(attempts, scans)


def _locked_items_with_history() -> CompoundSelect[Any]:
    """PostgreSQL: the items among :item_ids, locked in item id order, their delivery attempts and the scans
    among :scan_ids, in one statement: one row each, told apart by ``row_kind``, sharing the columns
    their tables share (item_id, and the scans' kind, fingerprint and post_office_code) so that each row
    reads like its table's; the others are NULL.

    An item's row carries two versions (its row's xmin): ``version``, of the row as locked (the newest:
    a lock that had to wait re-reads the row), and ``seen_version``, of the row as this statement's
    snapshot sees it, which is also what the attempts and scans here were read from.
    """
    item, a, s = post_office_item, post_office_delivery_attempt.c, post_office_scan.c
    version = literal_column("xmin::text", String)
    locked = (
        select(item, version.label("version"))
        .where(_among(item.c.item_id, "item_ids", "postgresql"))
        .order_by(item.c.item_id)
        .with_for_update()
        .cte("locked")
        .prefix_with("MATERIALIZED")
    )
    seen = select(version).where(item.c.item_id == locked.c.item_id).scalar_subquery()
    attempt_columns = [a.attempt, a.courier_id, a.started_at, a.outcome, a.ended_at, a.failure_reason]
    shape: list[tuple[str, Any]] = [
        ("row_kind", String()),
        *((c.name, c.type) for c in item.c if c.name != "updated_at"),
        ("version", String()),
        ("seen_version", String()),
        *((c.name, c.type) for c in attempt_columns),
        *((c.name, c.type) for c in (s.scan_id, s.event_id, s.scanned_at)),
    ]

    def row(kind: str, given: dict[str, Any]) -> list[Any]:
        # Inline, not a bind parameter: a constant of the statement.
        columns = {"row_kind": literal_column(f"'{kind}'", String), **given}
        return [
            columns[name].label(name) if name in columns else cast(null(), type_).label(name)
            for name, type_ in shape
        ]

    item_values = {c.name: locked.c[c.name] for c in item.c}
    items = select(*row("item", item_values | {"version": locked.c.version, "seen_version": seen}))
    attempts = select(*row("attempt", {"item_id": a.item_id} | {c.name: c for c in attempt_columns})).where(
        _among(a.item_id, "item_ids", "postgresql")
    )
    scan_columns = [s.item_id, s.kind, s.fingerprint, s.post_office_code, s.scan_id, s.event_id, s.scanned_at]
    scans = select(*row("scan", {c.name: c for c in scan_columns}))
    scans = scans.where(_among(s.scan_id, "scan_ids", "postgresql"))
    return union_all(items, attempts, scans)


def _insert_scan_touching() -> Insert:
    # The parameters are not named after the columns: SQLAlchemy would also set the item's columns of
    # the same names in the UPDATE.
    item, scan = post_office_item, post_office_scan
    touched = (
        update(item)
        .where(item.c.item_id == bindparam("new_item_id"))
        .values(
            stage=bindparam("new_stage"),
            handover_record_id=bindparam("new_handover_record_id"),
            updated_at=bindparam("new_recorded_at"),
        )
        .cte("touched")
    )
    values = {c.name: bindparam(f"new_{c.name}", type_=c.type) for c in scan.c}
    return scan.insert().values(values).add_cte(touched)


def build(dialect: str) -> Statements:
    item, attempt, handover, scan = (
        post_office_item,
        post_office_delivery_attempt,
        post_office_handover,
        post_office_scan,
    )
    postgresql = dialect == "postgresql"
    return Statements(
        # :item_ids, sorted: rows are locked in item id order, so two requests never deadlock.
        locked_items=select(item)
        .where(_among(item.c.item_id, "item_ids", dialect))
        .order_by(item.c.item_id)
        .with_for_update(),
        attempts_and_scans=_attempts_and_scans(dialect),
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
        locked_items_with_history=_locked_items_with_history() if postgresql else None,
        insert_scan_touching=_insert_scan_touching() if postgresql else None,
        touch_items=update(item)
        .where(_among(item.c.item_id, "key_item_ids", dialect))
        .values(updated_at=bindparam("updated_at"))
        if postgresql
        else None,
    )


_BUILT: dict[str, Statements] = {dialect: build(dialect) for dialect in ("postgresql", "sqlite")}


def statements_for(conn: AsyncConnection) -> Statements:
    """The statements for the connection's database (any other dialect gets the portable IN form)."""
    return statements_of(conn.dialect.name)


def statements_of(dialect: str) -> Statements:
    built = _BUILT.get(dialect)
    if built is None:
        built = _BUILT[dialect] = build(dialect)
    return built
