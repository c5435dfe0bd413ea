"""The Alembic migrations build the same schema on PostgreSQL and on SQLite, and it matches the code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.shared.db.schema import all_tables_metadata, processed_event


async def _fresh_postgres_database(admin_url: str) -> str:
    """A database of its own for each test, so migrations start from nothing."""
    name = f"mig_{uuid.uuid4().hex[:12]}"
    engine = make_engine(admin_url)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["postgresql", "sqlite"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'dossier.db'}"
    postgres_url: str = request.getfixturevalue("postgres_url")
    return await _fresh_postgres_database(postgres_url)


async def _schema_drift(url: str) -> list[object]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync_conn: compare_metadata(MigrationContext.configure(sync_conn), all_tables_metadata())
        )
    await engine.dispose()
    return list(diff)


@pytest.mark.postgres
async def test_migrations_create_the_schema_the_code_declares(empty_database: str) -> None:
    await migrate.upgrade_async(empty_database)

    assert await _schema_drift(empty_database) == []


@pytest.mark.postgres
async def test_processed_event_inbox_refuses_the_same_event_twice_for_one_consumer(
    empty_database: str,
) -> None:
    await migrate.upgrade_async(empty_database)
    engine = make_engine(empty_database)
    event_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            processed_event.insert(), {"consumer": "tracker", "event_id": event_id, "processed_at": now}
        )
        # Another consumer group processes the same event independently.
        await conn.execute(
            processed_event.insert(), {"consumer": "turnaround", "event_id": event_id, "processed_at": now}
        )
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                processed_event.insert(), {"consumer": "tracker", "event_id": event_id, "processed_at": now}
            )
    async with engine.connect() as conn:
        rows = (await conn.execute(select(processed_event.c.consumer).order_by("consumer"))).scalars().all()
    await engine.dispose()
    assert rows == ["tracker", "turnaround"]


@pytest.mark.postgres
async def test_migrations_downgrade_to_nothing_and_upgrade_again(empty_database: str) -> None:
    await migrate.upgrade_async(empty_database)
    await __import__("asyncio").to_thread(migrate.downgrade, empty_database, "base")

    engine = make_engine(empty_database)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    await engine.dispose()
    assert set(tables) <= {"alembic_version"}

    await migrate.upgrade_async(empty_database)
    assert await _schema_drift(empty_database) == []
