"""Rows written by COPY (services.shared.db.bulk) keep every guarantee of the statements they replace:
they belong to the caller's transaction, the inbox returns only new ids and waits for another replica's
uncommitted insert of the same id, rows keep their order where a sequence numbers them, and a lost
connection reads as the database being unavailable (retried, never dead-lettered)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.samples import sample_envelope
from services.shared.consuming import _record_in_inbox
from services.shared.db import bulk
from services.shared.db.availability import is_database_unavailable
from services.shared.db.engine import make_engine
from services.shared.db.schema import processed_event
from services.tracker.adapters import repository
from services.tracker.adapters.tables import outbox

pytestmark = [pytest.mark.postgres]

INBOX = ("consumer", "event_id", "processed_at")


@pytest.fixture
async def engine(migrated_database: str) -> AsyncIterator[AsyncEngine]:
    built = make_engine(migrated_database)
    try:
        yield built
    finally:
        await built.dispose()


def _rows(consumer: str, ids: list[str]) -> list[tuple[str, str, datetime]]:
    now = datetime.now(UTC)
    return [(consumer, event_id, now) for event_id in ids]


async def _inbox(engine: AsyncEngine, consumer: str) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(processed_event.c.event_id).where(processed_event.c.consumer == consumer)
        )
        return set(rows.scalars())


async def test_rows_copied_as_a_transactions_first_statement_roll_back_with_it(engine: AsyncEngine) -> None:
    consumer = f"bulk-{uuid.uuid4().hex[:8]}"
    ids = [str(uuid.uuid4()) for _ in range(3)]

    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await bulk.copy_rows(conn, processed_event, INBOX, _rows(consumer, ids[:2]))
            await bulk.copy_merge(conn, processed_event, INBOX, _rows(consumer, ids[2:]), "nothing")
            raise RuntimeError("the batch failed after its writes")

    assert await _inbox(engine, consumer) == set()


async def test_a_merge_returns_only_the_new_keys_and_a_second_one_in_a_transaction_sees_only_its_rows(
    engine: AsyncEngine,
) -> None:
    consumer = f"bulk-{uuid.uuid4().hex[:8]}"
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    async with engine.begin() as conn:
        await bulk.copy_rows(conn, processed_event, INBOX, _rows(consumer, [old]))

    async with engine.begin() as conn:
        first = await bulk.copy_merge(
            conn, processed_event, INBOX, _rows(consumer, [old, new]), "nothing", returning="event_id"
        )
        again = await bulk.copy_merge(
            conn, processed_event, INBOX, _rows(consumer, [new]), "nothing", returning="event_id"
        )

    assert first == [new]
    assert again == []
    assert await _inbox(engine, consumer) == {old, new}


async def test_the_inbox_waits_for_another_replicas_uncommitted_insert_and_then_skips_the_event(
    engine: AsyncEngine,
) -> None:
    consumer = f"bulk-{uuid.uuid4().hex[:8]}"
    shared, own = (
        sample_envelope("postal.dossier_accepted").model_copy(update={"id": uuid.uuid4()}) for _ in range(2)
    )
    other = await engine.connect()
    try:
        await other.begin()
        assert await _record_in_inbox(other, consumer, {str(shared.id): shared}) == [shared]
        other_pid = await other.scalar(text("SELECT pg_backend_pid()"))

        async def ours() -> list[object]:
            async with engine.begin() as conn:
                found = await _record_in_inbox(conn, consumer, {str(shared.id): shared, str(own.id): own})
                return list(found)

        mine = asyncio.create_task(ours())
        async with asyncio.timeout(30), engine.connect() as watcher:
            # Until our insert waits on the other replica's transaction (a lock wait on its row).
            while not await watcher.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                {"pid": other_pid},
            ):
                assert not mine.done(), mine.result()
                # pg_stat_activity is read once per transaction: a new one sees the lock wait begin.
                await watcher.rollback()
                await asyncio.sleep(0.02)
        assert not mine.done()
        await other.commit()
    finally:
        await other.close()

    async with asyncio.timeout(30):
        assert await mine == [own]


async def test_the_outbox_keeps_the_order_of_its_rows_in_its_sequence(engine: AsyncEngine) -> None:
    dossier_id = str(uuid.uuid4())
    ids = [str(uuid.uuid4()) for _ in range(50)]  # random, so not their sorted order
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await repository.insert_outbox(
            conn, [repository.new_outbox_row(i, dossier_id, "{}", now) for i in ids]
        )
    async with engine.connect() as conn:
        stored = await conn.execute(
            select(outbox.c.event_id).where(outbox.c.dossier_id == dossier_id).order_by(outbox.c.seq)
        )
        assert list(stored.scalars()) == ids


async def test_a_connection_lost_during_a_copy_reads_as_the_database_unavailable(
    engine: AsyncEngine, postgres_url: str
) -> None:
    consumer = f"bulk-{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_url)
    try:
        with pytest.raises(DBAPIError) as failure:
            async with engine.begin() as conn:
                pid = await conn.scalar(text("SELECT pg_backend_pid()"))
                async with admin.connect() as killer:
                    # Waits until the backend is gone (up to 10 s), so the COPY meets a dead connection.
                    await killer.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
                await bulk.copy_merge(
                    conn, processed_event, INBOX, _rows(consumer, [str(uuid.uuid4())]), "nothing"
                )
    finally:
        await admin.dispose()
    assert is_database_unavailable(failure.value)
    async with engine.connect() as conn:  # the pool let the dead connection go
        assert (
            await conn.scalar(
                select(func.count())
                .select_from(processed_event)
                .where(processed_event.c.consumer == consumer)
            )
            == 0
        )


async def test_a_connection_creates_its_staging_table_once_again_after_a_rollback_and_anew_when_new(
    engine: AsyncEngine,
) -> None:
    consumer = f"bulk-{uuid.uuid4().hex[:8]}"
    ids = [str(uuid.uuid4()) for _ in range(4)]
    notices: list[str] = []
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        # PostgreSQL says so when a CREATE … IF NOT EXISTS finds the table: one round trip spent.
        raw.add_log_listener(lambda _, message: notices.append(str(message)))
        with pytest.raises(RuntimeError):
            async with conn.begin():
                await bulk.copy_merge(conn, processed_event, INBOX, _rows(consumer, ids[:1]), "nothing")
                raise RuntimeError("rolled back: the staging table it created goes with it")
        async with conn.begin():  # a transaction that commits without a merge: still no table
            await conn.execute(select(1))
        for event_id in ids[1:3]:
            async with conn.begin():
                await bulk.copy_merge(conn, processed_event, INBOX, _rows(consumer, [event_id]), "nothing")
        await conn.execute(select(1))  # the notices of the last statements are delivered by now
    assert not [notice for notice in notices if "already exists" in notice], notices

    await engine.dispose()  # the next transaction runs on a new connection, without the table
    async with engine.begin() as conn:
        await bulk.copy_merge(conn, processed_event, INBOX, _rows(consumer, ids[3:]), "nothing")
    assert await _inbox(engine, consumer) == set(ids[1:])
