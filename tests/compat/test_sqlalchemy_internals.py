"""services/shared/compat/sqlalchemy_internals.py against the installed SQLAlchemy and a real PostgreSQL."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared.compat import InternalsChangedError, sqlalchemy_internals
from services.shared.compat.sqlalchemy_internals import on_driver, raise_as_dbapi_error, replace_ping
from services.shared.db.engine import make_engine

pytestmark = [pytest.mark.postgres]


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(postgres_url, pool_size=1)
    yield engine
    await engine.dispose()


def test_the_installed_sqlalchemy_has_every_private_part_the_compat_module_uses() -> None:
    sqlalchemy_internals.check()


def test_a_missing_private_part_names_sqlalchemy_its_version_and_the_module_to_update(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for owner in AsyncAdapt_asyncpg_connection.__mro__:
        if "_handle_exception" in vars(owner):
            monkeypatch.delattr(owner, "_handle_exception")
    expected = (
        f"sqlalchemy {version('sqlalchemy')} no longer has AsyncAdapt_asyncpg_connection._handle_exception: "
        "services/shared/compat/sqlalchemy_internals.py must be updated"
    )
    with pytest.raises(InternalsChangedError, match=re.escape(expected)):
        sqlalchemy_internals.check()


async def test_a_driver_error_is_raised_as_the_dbapi_error_the_pool_handles(engine: AsyncEngine) -> None:
    dialect = engine.sync_engine.dialect
    error = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    async with engine.connect() as conn:
        dbapi_connection = (await conn.get_raw_connection()).dbapi_connection
        with pytest.raises(dialect.loaded_dbapi.Error) as raised:
            raise_as_dbapi_error(dbapi_connection, error)
    assert raised.value.__cause__ is error


async def test_a_connection_the_server_dropped_is_replaced_at_checkout_by_our_ping(
    engine: AsyncEngine, postgres_url: str
) -> None:
    dialect = engine.sync_engine.dialect
    pings: list[bool] = []
    ours = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(True)
        return bool(ours(dbapi_connection))

    replace_ping(engine, counted)
    async with engine.connect() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    await _terminate(postgres_url, pid)

    # The pooled connection is dead: the pre-ping fails, the pool reconnects, the query runs.
    async with engine.connect() as conn:
        fresh = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    assert fresh != pid
    assert pings, str(
        InternalsChangedError(
            "sqlalchemy",
            "the pool's pre-ping through dialect.do_ping",
            "services/shared/compat/sqlalchemy_internals.py",
        )
    )


async def _terminate(postgres_url: str, pid: int) -> None:
    """End one backend from another connection and wait until the server no longer lists it."""
    admin = make_engine(postgres_url, pool_size=1)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 30
            while (
                await conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                )
            ).scalar_one():
                assert time.monotonic() < deadline, f"backend {pid} still listed after 30 s"
                await conn.rollback()
    finally:
        await admin.dispose()


async def test_a_statement_on_the_driver_runs_inside_the_sqlalchemy_transaction(engine: AsyncEngine) -> None:
    table = f"driver_{uuid.uuid4().hex}"
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE TABLE {table} (id text PRIMARY KEY)"))
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            await on_driver(
                conn, "INSERT", lambda driver: driver.execute(f"INSERT INTO {table} VALUES ($1)", "a")
            )
            # Rolled back with SQLAlchemy's transaction: the insert was part of it, not one of its own.
            await transaction.rollback()
            assert (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE {table}"))


RAISE_UNIQUE_VIOLATION = "DO $$ BEGIN RAISE unique_violation USING MESSAGE = 'taken'; END $$"


async def test_a_driver_error_on_the_driver_is_raised_as_sqlalchemys_own_error(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        with pytest.raises(IntegrityError) as raised:
            await on_driver(
                conn,
                "SELECT",
                lambda driver: driver.execute(
                    "DO $$ BEGIN RAISE unique_violation USING MESSAGE = 'taken'; END $$"
                ),
            )
        await conn.rollback()
    assert raised.value.orig is not None
    assert isinstance(raised.value.orig.__cause__, asyncpg.exceptions.UniqueViolationError)


async def test_a_connection_lost_under_a_driver_statement_is_invalidated_as_sqlalchemy_does(
    engine: AsyncEngine, postgres_url: str
) -> None:
    async with engine.connect() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await conn.rollback()
        await _terminate(postgres_url, pid)
        with pytest.raises(DBAPIError) as raised:
            await on_driver(conn, "SELECT", lambda driver: driver.fetch("SELECT 1"))
    assert raised.value.connection_invalidated
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
