"""The append-only record of every read of a dossier's personal data on a staff API: who, when, which
dossier, for which purpose. Nothing here updates or deletes a row (the migration also forbids it on
PostgreSQL); operators list it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.shared.personal_data.tables import VaultTables


@dataclass(frozen=True)
class Read:
    dossier_id: str
    purpose: str
    reader: str
    role: str
    read_at: datetime


async def record_read(
    conn: AsyncConnection,
    tables: VaultTables,
    *,
    dossier_id: str,
    purpose: str,
    reader: str,
    role: str,
    at: datetime,
) -> None:
    await conn.execute(
        tables.reads.insert().values(
            dossier_id=dossier_id, purpose=purpose, reader=reader, role=role, read_at=at
        )
    )


async def reads(conn: AsyncConnection, tables: VaultTables, dossier_id: str | None, limit: int) -> list[Read]:
    t = tables.reads
    query = select(t).order_by(t.c.id.desc()).limit(limit)
    if dossier_id is not None:
        query = query.where(t.c.dossier_id == dossier_id)
    rows = (await conn.execute(query)).all()
    return [Read(r.dossier_id, r.purpose, r.reader, r.role, r.read_at) for r in rows]
