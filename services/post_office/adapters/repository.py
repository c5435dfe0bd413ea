"""Loading and storing the post office's state inside one database transaction.

Items are read with FOR UPDATE (PostgreSQL; SQLite serialises writers anyway), in item id order so
that two requests touching the same items never deadlock. A transaction that records an item's delivery
attempts or scans also updates the item's row (PostgreSQL), which is how a request that waited for the
item's lock knows to read them again (items_and_scans). Times are written in UTC and read back aware
(SQLite returns them naive).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.enums import DeliveryFailureReason, ItemKind, ServiceForm, Stage
from services.post_office.adapters.driver_statements import (
    INSERT_SCAN_TOUCHING,
    LOCKED_ITEMS_WITH_HISTORY,
    DriverRecord,
    DriverStatement,
)
from services.post_office.adapters.statements import statements_for
from services.post_office.domain import Attempt, AttemptOutcome, HandoverRecord, Item
from services.shared.compat.sqlalchemy_internals import on_driver


@dataclass(frozen=True)
class StoredScan:
    """A scan recorded earlier: what identifies its content and the event it produced."""

    scan_id: uuid.UUID
    fingerprint: str
    event_id: uuid.UUID
    kind: str
    item_id: str
    post_office_code: str
    scanned_at: datetime


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _aware_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else _aware(moment)


def _attempt(a: Row[Any]) -> Attempt:
    return Attempt(
        number=a.attempt,
        courier_id=a.courier_id,
        started_at=_aware_or_none(a.started_at),
        outcome=AttemptOutcome(a.outcome) if a.outcome else None,
        ended_at=_aware_or_none(a.ended_at),
        failure_reason=DeliveryFailureReason(a.failure_reason) if a.failure_reason else None,
    )


def _item(r: Row[Any], attempts: Sequence[Attempt]) -> Item:
    return Item(
        item_id=r.item_id,
        kind=ItemKind(r.kind),
        dossier_id=r.dossier_id,
        agency_code=r.agency_code,
        post_office_code=r.post_office_code,
        service_form=ServiceForm(r.service_form),
        stage=Stage(r.stage),
        recorded_at=_aware(r.recorded_at),
        due_date=r.due_date,
        fingerprint=r.fingerprint,
        procedure_code=r.procedure_code,
        postage_vnd=r.postage_vnd,
        dossier_item_id=r.dossier_item_id,
        agency_dossier_code=r.agency_dossier_code,
        handover_record_id=r.handover_record_id,
        attempts=tuple(attempts),
    )


def _stored_scan(r: Row[Any]) -> StoredScan:
    return StoredScan(
        scan_id=uuid.UUID(r.scan_id),
        fingerprint=r.fingerprint,
        event_id=uuid.UUID(r.event_id),
        kind=r.kind,
        item_id=r.item_id,
        post_office_code=r.post_office_code,
        scanned_at=_aware(r.scanned_at),
    )


class PostOfficeRepository:
    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self._conn = conn
        self._now = _utc(now)
        self._sql = statements_for(conn)
        # An online scan's two statements go to asyncpg directly (driver_statements says why).
        self._on_driver = conn.dialect.name == "postgresql" and conn.dialect.driver == "asyncpg"
        # Items whose row this transaction updated.
        self._touched: set[str] = set()

    @property
    def connection(self) -> AsyncConnection:
        """The transaction's connection, for the personal data vault to write in the same transaction."""
        return self._conn

    # -- items

    async def items(self, item_ids: Collection[str]) -> dict[str, Item]:
        """The recorded items among item_ids, locked for this transaction."""
        items, _ = await self.items_and_scans(item_ids, ())
        return items

    async def items_and_scans(
        self, item_ids: Collection[str], scan_ids: Collection[uuid.UUID]
    ) -> tuple[dict[str, Item], dict[uuid.UUID, StoredScan]]:
        """The recorded items among item_ids, locked for this transaction, and the scans among scan_ids
        recorded earlier.

        PostgreSQL: one statement locks the items' rows and reads their delivery attempts and the scans.
        A statement that waited for a lock still reads the other tables as they were when it began, so
        under READ COMMITTED it would miss what the lock's holder recorded meanwhile (its attempts, the
        same scan uploaded concurrently, which must then answer as a duplicate). Every transaction that
        records an item's attempts or scans therefore also updates the item's row (save_items,
        add_scans), and the statement compares the row it locked with the row its snapshot saw: when
        they differ, the attempts and scans are read again in a second statement, which sees all that
        the holder committed. Uncontended, a scan reads everything in one round trip.

        SQLite (no row locks; writers take turns): the items, then their attempts and the scans.
        """
        if not item_ids and not scan_ids:
            return {}, {}
        ids = {"item_ids": sorted(set(item_ids)), "scan_ids": sorted(map(str, scan_ids))}
        rows: Sequence[Row[Any]]
        if self._sql.locked_items_with_history is not None:
            read: Sequence[Any]
            if self._on_driver:
                read = await self._fetch(LOCKED_ITEMS_WITH_HISTORY, ids)
            else:
                read = (await self._conn.execute(self._sql.locked_items_with_history, ids)).all()
            rows = [r for r in read if r.row_kind == "item"]
            history: Sequence[Row[Any]] = [r for r in read if r.row_kind != "item"]
            if any(r.version != r.seen_version for r in rows):
                # Another request recorded something of these items after this statement began (it held
                # a lock this statement waited for): read their story again, now that it is theirs.
                ids["item_ids"] = [r.item_id for r in rows]
                history = (await self._conn.execute(self._sql.attempts_and_scans, ids)).all()
        else:
            rows = await self._locked_items(item_ids)
            if not rows and not scan_ids:
                return {}, {}
            ids["item_ids"] = [r.item_id for r in rows]
            history = (await self._conn.execute(self._sql.attempts_and_scans, ids)).all()
        attempts: dict[str, list[Attempt]] = {}
        scans: dict[uuid.UUID, StoredScan] = {}
        for row in history:
            if row.row_kind == "attempt":
                attempts.setdefault(row.item_id, []).append(_attempt(row))
            else:
                scans[uuid.UUID(row.scan_id)] = _stored_scan(row)
        items = {
            r.item_id: _item(r, sorted(attempts.get(r.item_id, ()), key=lambda a: a.number)) for r in rows
        }
        return items, scans

    async def _locked_items(self, item_ids: Collection[str]) -> Sequence[Row[Any]]:
        if not item_ids:
            return []
        locked = await self._conn.execute(self._sql.locked_items, {"item_ids": sorted(set(item_ids))})
        rows: Sequence[Row[Any]] = locked.all()
        return rows

    async def item(self, item_id: str | None) -> Item | None:
        if item_id is None:
            return None
        return (await self.items([item_id])).get(item_id)

    async def add_item(self, item: Item) -> None:
        await self._conn.execute(
            self._sql.insert_item,
            {
                "item_id": item.item_id,
                "kind": item.kind.value,
                "dossier_id": item.dossier_id,
                "agency_code": item.agency_code,
                "post_office_code": item.post_office_code,
                "service_form": item.service_form.value,
                "stage": item.stage.value,
                "recorded_at": _utc(item.recorded_at),
                "due_date": item.due_date,
                "fingerprint": item.fingerprint,
                "procedure_code": item.procedure_code,
                "postage_vnd": item.postage_vnd,
                "dossier_item_id": item.dossier_item_id,
                "agency_dossier_code": item.agency_dossier_code,
                "handover_record_id": item.handover_record_id,
                "updated_at": self._now,
            },
        )
        await self._save_attempts((), item)

    async def save_items(self, changes: Iterable[tuple[Item, Item]]) -> None:
        """Store each (before, after) pair whose after differs: stage, handover, attempts."""
        for before, after in changes:
            # Changed attempts update the item's row too: a new version of it tells a request that waited
            # for its lock to read its story again (items_and_scans).
            if (before.stage, before.handover_record_id, before.attempts) != (
                after.stage,
                after.handover_record_id,
                after.attempts,
            ):
                self._touched.add(after.item_id)
                await self._conn.execute(
                    self._sql.update_item,
                    {
                        "key_item_id": after.item_id,
                        "stage": after.stage.value,
                        "handover_record_id": after.handover_record_id,
                        "updated_at": self._now,
                    },
                )
            await self._save_attempts(before.attempts, after)

    async def _save_attempts(self, before: tuple[Attempt, ...], after: Item) -> None:
        known = {a.number: a for a in before}
        for attempt in after.attempts:
            values = {
                "courier_id": attempt.courier_id,
                "started_at": None if attempt.started_at is None else _utc(attempt.started_at),
                "outcome": None if attempt.outcome is None else attempt.outcome.value,
                "ended_at": None if attempt.ended_at is None else _utc(attempt.ended_at),
                "failure_reason": None if attempt.failure_reason is None else attempt.failure_reason.value,
            }
            if attempt.number not in known:
                await self._conn.execute(
                    self._sql.insert_attempt, {"item_id": after.item_id, "attempt": attempt.number, **values}
                )
            elif known[attempt.number] != attempt:
                await self._conn.execute(
                    self._sql.update_attempt,
                    {"key_item_id": after.item_id, "key_attempt": attempt.number, **values},
                )

    # -- handover records

    async def handover_record(self, post_office_code: str, record_id: str) -> HandoverRecord | None:
        row = (
            await self._conn.execute(
                self._sql.handover_record,
                {"key_post_office_code": post_office_code, "key_record_id": record_id},
            )
        ).first()
        if row is None:
            return None
        return HandoverRecord(
            record_id=row.record_id,
            post_office_code=row.post_office_code,
            agency_code=row.agency_code,
            postal_worker_id=row.postal_worker_id,
            agency_officer_id=row.agency_officer_id,
            signed_at=_aware(row.signed_at),
        )

    async def add_handover_record(self, record: HandoverRecord) -> None:
        await self._conn.execute(
            self._sql.insert_handover,
            {
                "post_office_code": record.post_office_code,
                "record_id": record.record_id,
                "agency_code": record.agency_code,
                "postal_worker_id": record.postal_worker_id,
                "agency_officer_id": record.agency_officer_id,
                "signed_at": _utc(record.signed_at),
            },
        )

    # -- scans

    async def save_scans(self, changes: Iterable[tuple[Item, Item]], scans: Collection[StoredScan]) -> None:
        """Store the scanned items' changes (as save_items) and the scans recorded (as add_scans).

        On PostgreSQL one scan of one item, the case of every online scan, is one statement with its
        item's row: the scan's insert also sets the item's stage and handover as they now are (the same
        values when nothing changed), which gives the row the new version items_and_scans looks for.
        """
        changes = list(changes)
        if self._sql.insert_scan_touching is not None and len(scans) == 1 and len(changes) == 1:
            (scan,) = scans
            ((before, after),) = changes
            if after.item_id == scan.item_id:
                await self._save_attempts(before.attempts, after)
                values = {f"new_{name}": value for name, value in self._scan_row(scan).items()}
                values |= {"new_stage": after.stage.value, "new_handover_record_id": after.handover_record_id}
                if self._on_driver:
                    await self._execute(INSERT_SCAN_TOUCHING, values)
                else:
                    await self._conn.execute(self._sql.insert_scan_touching, values)
                self._touched.add(after.item_id)
                return
        await self.save_items(changes)
        await self.add_scans(scans)

    async def _fetch(self, statement: DriverStatement, values: Mapping[str, Any]) -> Sequence[Any]:
        arguments = statement.arguments(values)

        async def fetch(driver: Any) -> Sequence[Any]:
            rows: Sequence[Any] = await driver.fetch(statement.sql, *arguments, record_class=DriverRecord)
            return rows

        return await on_driver(self._conn, statement.sql, fetch)

    async def _execute(self, statement: DriverStatement, values: Mapping[str, Any]) -> None:
        arguments = statement.arguments(values)
        await on_driver(self._conn, statement.sql, lambda driver: driver.execute(statement.sql, *arguments))

    def _scan_row(self, s: StoredScan) -> dict[str, Any]:
        return {
            "scan_id": str(s.scan_id),
            "fingerprint": s.fingerprint,
            "event_id": str(s.event_id),
            "kind": s.kind,
            "item_id": s.item_id,
            "post_office_code": s.post_office_code,
            "scanned_at": _utc(s.scanned_at),
            "recorded_at": self._now,
        }

    async def add_scans(self, scans: Collection[StoredScan]) -> None:
        if not scans:
            return
        rows = [self._scan_row(s) for s in scans]
        untouched = {s.item_id for s in scans} - self._touched
        if untouched and self._sql.touch_items is not None:
            # Each scan's item gets a new version of its row (items_and_scans).
            await self._conn.execute(
                self._sql.touch_items, {"key_item_ids": sorted(untouched), "updated_at": self._now}
            )
            self._touched |= untouched
        # One row as a plain execution: a list of one would take the executemany path, which costs more.
        await self._conn.execute(self._sql.insert_scan, rows[0] if len(rows) == 1 else rows)


@asynccontextmanager
async def transaction(engine: AsyncEngine, now: datetime) -> AsyncIterator[PostOfficeRepository]:
    """One unit of work: commits when the block ends normally, rolls back when it raises.

    Handlers publish to Kafka inside the block, so the commit comes only after the broker acknowledged;
    a refusal or an unacknowledged publication leaves nothing recorded.
    """
    async with engine.begin() as conn:
        yield PostOfficeRepository(conn, now)
