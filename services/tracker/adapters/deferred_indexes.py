"""The projection's indexes a rebuild builds at its end rather than row by row (PostgreSQL only).

A rebuild fills an empty database. Every dossier row is written again in each batch that holds one of
its events (about nine times in a realistic log), and each write of a row whose listed columns changed
adds an entry to every index of the table: the seven listing indexes of ``tracker_dossier`` cost
PostgreSQL more than the rows themselves. Built once from the finished tables they cost a sort each,
as in any bulk load. The indexes the fold itself reads by (the primary keys, each dossier's events and
anomalies) stay, so a late event's refold is as cheap during a rebuild as live.

A rebuild that fails leaves the database without these indexes; it holds part of a projection anyway,
and a rebuild goes again into a new empty database (it refuses a non-empty one). ``build`` creates only
what is missing, so calling it again completes such a database for inspection.
"""

from __future__ import annotations

from sqlalchemy import Index
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.schema import CreateIndex, DropIndex

from services.tracker.adapters.tables import PROJECTION_TABLES

READ_BY_THE_FOLD = frozenset({"ix_tracker_event_dossier", "ix_tracker_anomaly_dossier"})
"""Indexes the projector queries while it folds (``load_histories``, ``load_anomalies``)."""


def deferred() -> list[Index]:
    """The indexes of the projection tables that only the lookups and listings use, in a fixed order."""
    found = [
        index for table in PROJECTION_TABLES for index in table.indexes if index.name not in READ_BY_THE_FOLD
    ]
    return sorted(found, key=lambda index: str(index.name))


async def drop(engine: AsyncEngine) -> None:
    """Drop the deferred indexes of an empty projection before it is filled."""
    if engine.dialect.name != "postgresql":
        return  # SQLite (a local rebuild) is small: not worth a second code path
    async with engine.begin() as conn:
        for index in deferred():
            await conn.execute(DropIndex(index, if_exists=True))


async def build(engine: AsyncEngine) -> None:
    """Create the deferred indexes that are missing, from the same definitions the tables declare."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as conn:
        # An index is built by one sort of the table; more memory keeps the sort out of temporary files.
        await conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        for index in deferred():
            await conn.execute(CreateIndex(index, if_not_exists=True))
