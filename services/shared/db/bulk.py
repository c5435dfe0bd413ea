"""Rows written by PostgreSQL's binary COPY, inside the caller's SQLAlchemy transaction.

A batch's rows passed as one array per column (``INSERT … SELECT FROM unnest``) cost asyncpg an
``isinstance`` against three abstract classes for every element (its check for nested arrays): at
thousands of events a second that was a tenth of the tracker's CPU. COPY encodes each row's values with
the column's codec and nothing else. It runs on asyncpg's connection under SQLAlchemy's, so it belongs
to the same transaction as the statements around it (the consumer's inbox, the projection): all commit
or roll back together.

COPY cannot skip or update a conflicting row, so a write that needs ``ON CONFLICT`` copies into a
staging table (temporary, one per session and table, emptied at every commit) and moves the rows with
one ``INSERT … SELECT`` that keeps every semantic of the plain insert: it skips or updates conflicting
rows, waits for another transaction's uncommitted row of the same key, and returns what it inserted.
Each connection creates its staging tables once (``_created``), not with a round trip per batch.

PostgreSQL only (asyncpg); the callers keep their SQLite path for the local run.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Table, event
from sqlalchemy.ext.asyncio import AsyncConnection

from services.shared.compat.sqlalchemy_internals import on_driver
from services.shared.db.schema import metadata

Conflict = Literal["nothing", "update"]

_ORDINAL = "bulk_ordinal"
"""The staging column that keeps the rows' order, for a table whose key a sequence gives in order."""


async def copy_rows(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """COPY the rows (one value per column, in ``columns``' order) into ``table``; a duplicate key
    fails the transaction, as a plain INSERT would."""
    if not rows:
        return

    async def copy(connection: Any) -> None:
        await connection.copy_records_to_table(table.name, records=rows, columns=list(columns))

    await on_driver(conn, f"COPY {table.name}", copy)


async def copy_merge(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    conflict: Conflict,
    *,
    returning: str | None = None,
    ordered: bool = False,
) -> list[Any]:
    """Insert the rows into ``table`` through its staging table: on a key conflict skip the row
    (``nothing``) or update its ``columns`` (``update``). Returns the ``returning`` column of the rows
    inserted or updated (none without it). ``ordered``: the rows are inserted in the given order (a
    sequence numbers them)."""
    if not rows:
        return []
    staging = f"{table.name}_staging{'_ordered' if ordered else ''}"
    columns = tuple(columns)
    records: Sequence[tuple[Any, ...]] = [(*row, n) for n, row in enumerate(rows)] if ordered else rows
    names = [*columns, _ORDINAL] if ordered else list(columns)
    statement = _merge_sql(table.name, staging, columns, conflict, returning, ordered)

    async def merge(connection: Any) -> list[Any]:
        created = _created.setdefault(connection, set())
        if staging not in created:
            await connection.execute(_staging_ddl(table.name, staging, columns, ordered))
            _remember_on_commit(conn, created, staging)
        await connection.copy_records_to_table(staging, records=records, columns=names)
        if returning is None:
            await connection.execute(statement)
            return []
        return [row[0] for row in await connection.fetch(statement)]

    # In the caller's transaction, begun first if no statement has begun it; a driver error is raised
    # as SQLAlchemy's own (a lost connection reads as the database unavailable: retried, never
    # dead-lettered).
    return await on_driver(conn, statement, merge)


_created: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
"""The staging tables each asyncpg connection (one PostgreSQL session) has, known once committed. By
the connection object: a new session (a connection replaced after a failure) starts with none."""


def _remember_on_commit(conn: AsyncConnection, created: set[str], staging: str) -> None:
    # Created in the caller's transaction: a rollback drops the table again, so it counts as created
    # only once that transaction commits (until then, the next merge asks again, IF NOT EXISTS). The
    # transaction's end settles it either way: a later transaction on the same connection object must
    # not count a table its predecessor rolled back. (A listener cannot remove itself while SQLAlchemy
    # runs the listeners; ``once`` makes it inert after its call.)
    settled = False

    def committed(_: Any) -> None:
        nonlocal settled
        if not settled:
            created.add(staging)
        settled = True

    def rolled_back(_: Any) -> None:
        nonlocal settled
        settled = True

    sync = conn.sync_connection
    event.listen(sync, "commit", committed, once=True)
    event.listen(sync, "rollback", rolled_back, once=True)


@functools.cache
def _staging_ddl(table: str, staging: str, columns: tuple[str, ...], ordered: bool) -> str:
    # The copied columns only, without the table's constraints (CREATE TABLE AS): a column the rows do
    # not give gets its default in the target table, not a NOT NULL failure here. Emptied at every
    # commit; a rollback takes its rows back too.
    ordinal = f", 0::integer AS {_ORDINAL}" if ordered else ""
    return (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
        f"SELECT {', '.join(columns)}{ordinal} FROM {table} WITH NO DATA"
    )


@functools.cache
def _merge_sql(
    table: str,
    staging: str,
    columns: tuple[str, ...],
    conflict: Conflict,
    returning: str | None,
    ordered: bool,
) -> str:
    listed = ", ".join(columns)
    # Emptied as it is read: a second write through the same staging table in one transaction sees only
    # its own rows (the commit empties it anyway).
    sql = (
        f"WITH staged AS (DELETE FROM {staging} RETURNING *) "
        f"INSERT INTO {table} ({listed}) SELECT {listed} FROM staged"
    )
    if ordered:
        sql += f" ORDER BY {_ORDINAL}"
    primary_key = [column.name for column in metadata.tables[table].primary_key]
    if conflict == "nothing":
        sql += " ON CONFLICT DO NOTHING"
    else:
        updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in columns if name not in primary_key)
        sql += f" ON CONFLICT ({', '.join(primary_key)}) DO UPDATE SET {updates}"
    if returning is not None:
        sql += f" RETURNING {returning}"
    return sql
