"""Loading and storing the agency's dossier records, inside the caller's transaction.

Rows are locked (SELECT … FOR UPDATE on PostgreSQL) when the caller is about to decide on them, so two
reports on one dossier — two officers, or an officer and an agency system — are decided one after the
other. Locks are taken in dossier-id order, so batches never deadlock each other.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.enums import Outcome, ServiceForm
from services.agency.adapters.tables import agency_dossier as t
from services.agency.domain import Dossier, Status

_COLUMNS = [c.name for c in t.columns if c.name != "updated_at"]


class Dossiers:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    @property
    def connection(self) -> AsyncConnection:
        """The transaction the records are written in (the vault writes in it too)."""
        return self._conn

    async def get(self, dossier_id: str, *, lock: bool = False) -> Dossier | None:
        return (await self.get_many([dossier_id], lock=lock)).get(dossier_id)

    async def get_many(self, dossier_ids: Iterable[str], *, lock: bool = False) -> dict[str, Dossier]:
        ids = sorted(set(dossier_ids))
        if not ids:
            return {}
        query = select(t).where(t.c.dossier_id.in_(ids)).order_by(t.c.dossier_id)
        if lock:
            query = query.with_for_update()
        rows = (await self._conn.execute(query)).mappings().all()
        return {row["dossier_id"]: _dossier(row) for row in rows}

    async def due_for_closure(self, now: datetime, limit: int) -> list[Dossier]:
        """Dossiers awaiting their supplement whose closure period has ended, locked; rows another
        replica holds are skipped (SKIP LOCKED on PostgreSQL), so each is closed by one replica."""
        query = (
            select(t)
            .where(t.c.status == Status.AWAITING_SUPPLEMENT.value, t.c.closure_due_at <= now)
            .order_by(t.c.closure_due_at, t.c.dossier_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self._conn.execute(query)).mappings().all()
        return [_dossier(row) for row in rows]

    async def awaiting_without_closure_due(self, after: str, limit: int) -> list[Dossier]:
        """Dossiers after `after` (by id) awaiting their supplement with no closure time stored (recorded
        before the closure rules existed), locked; rows another replica holds are skipped."""
        query = (
            select(t)
            .where(
                t.c.status == Status.AWAITING_SUPPLEMENT.value,
                t.c.closure_due_at.is_(None),
                t.c.supplement_requested_at.is_not(None),
                t.c.dossier_id > after,
            )
            .order_by(t.c.dossier_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self._conn.execute(query)).mappings().all()
        return [_dossier(row) for row in rows]

    async def id_for_code(self, agency_dossier_code: str) -> str | None:
        return await self._conn.scalar(
            select(t.c.dossier_id).where(t.c.agency_dossier_code == agency_dossier_code)
        )

    async def code_holders(self, codes: Collection[str]) -> dict[str, str]:
        """Agency dossier code → the dossier holding it, for the codes already assigned."""
        if not codes:
            return {}
        rows = await self._conn.execute(
            select(t.c.agency_dossier_code, t.c.dossier_id).where(t.c.agency_dossier_code.in_(sorted(codes)))
        )
        return {code: dossier_id for code, dossier_id in rows}

    async def save(self, new: Iterable[Dossier], changed: Iterable[Dossier]) -> None:
        now = datetime.now(UTC)
        inserts = [{**_row(d), "updated_at": now} for d in new]
        updates = [{**{f"b_{k}": v for k, v in _row(d).items()}, "b_updated_at": now} for d in changed]
        if inserts:
            await self._conn.execute(t.insert(), inserts)
        if updates:
            statement = (
                update(t)
                .where(t.c.dossier_id == bindparam("b_dossier_id"))
                .values(
                    {
                        name: bindparam(f"b_{name}")
                        for name in [*_COLUMNS, "updated_at"]
                        if name != "dossier_id"
                    }
                )
            )
            await self._conn.execute(statement, updates)


def _row(dossier: Dossier) -> dict[str, Any]:
    return {
        "dossier_id": dossier.dossier_id,
        "agency_code": dossier.agency_code,
        "status": dossier.status.value,
        "sequence": dossier.sequence,
        "service_form": dossier.service_form.value if dossier.service_form else None,
        "item_id": dossier.item_id,
        "procedure_code": dossier.procedure_code,
        "agency_dossier_code": dossier.agency_dossier_code,
        "filed_at": _utc(dossier.filed_at),
        "filing_day": dossier.filing_day,
        "received_at": _utc(dossier.received_at),
        "legal_due_date": dossier.legal_due_date,
        "appointment_date": dossier.appointment_date,
        "due_date": dossier.due_date,
        "delay_notices": dossier.delay_notices,
        "delay_breach": dossier.delay_breach,
        "supplement_requests": dossier.supplement_requests,
        "supplement_requested_at": _utc(dossier.supplement_requested_at),
        "closure_due_at": _utc(dossier.closure_due_at),
        "supplement_item_id": dossier.supplement_item_id,
        "supplement_handed_at": _utc(dossier.supplement_handed_at),
        "outcome": dossier.outcome.value if dossier.outcome else None,
        "last_fact": dossier.last_fact,
        "last_fact_at": _utc(dossier.last_fact_at),
    }


def _dossier(row: RowMapping) -> Dossier:
    return Dossier(
        dossier_id=row["dossier_id"],
        agency_code=row["agency_code"],
        status=Status(row["status"]),
        sequence=row["sequence"],
        service_form=ServiceForm(row["service_form"]) if row["service_form"] else None,
        item_id=row["item_id"],
        procedure_code=row["procedure_code"],
        agency_dossier_code=row["agency_dossier_code"],
        filed_at=_aware(row["filed_at"]),
        filing_day=row["filing_day"],
        received_at=_aware(row["received_at"]),
        legal_due_date=row["legal_due_date"],
        appointment_date=row["appointment_date"],
        due_date=row["due_date"],
        delay_notices=row["delay_notices"],
        delay_breach=row["delay_breach"],
        supplement_requests=row["supplement_requests"],
        supplement_requested_at=_aware(row["supplement_requested_at"]),
        closure_due_at=_aware(row["closure_due_at"]),
        supplement_item_id=row["supplement_item_id"],
        supplement_handed_at=_aware(row["supplement_handed_at"]),
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        last_fact=row["last_fact"],
        last_fact_at=_aware(row["last_fact_at"]),
    )


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite (the local run) returns naive datetimes; they were stored in UTC.
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
