"""Turn a configured database URL into an async SQLAlchemy engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.shared.compat.sqlalchemy_internals import raise_as_dbapi_error, replace_ping
from services.shared.db.default_url import DEFAULT_URL

__all__ = ["DEFAULT_URL", "async_url", "is_sqlite", "make_engine"]


def async_url(url: str | URL) -> URL:
    """Accept the URLs operators write (postgresql://, sqlite:///) and pick the async driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        return parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str | URL, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """``pre_ping=False`` for a service that answers a lost connection itself (503, retried by the
    caller): a connection dropped since its last use then fails one request instead of every checkout
    costing a round trip; the pool discards all its connections on the first such error."""
    target = async_url(url)
    if is_sqlite(target):
        engine = create_async_engine(target)
        _tune_sqlite(engine)
        return engine
    engine = create_async_engine(
        target,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        # asyncpg prepares every statement; after a few runs PostgreSQL may switch to a generic plan made
        # when the tables were empty (sequential scans of the inbox). Custom plans stay index-aware.
        connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
    )
    if pre_ping and engine.dialect.driver == "asyncpg":
        _ping_in_one_round_trip(engine)
    return engine


def _ping_in_one_round_trip(engine: AsyncEngine) -> None:
    """The pre-ping of every checkout in one round trip instead of three.

    SQLAlchemy's asyncpg adapter pings with BEGIN, an extended-protocol ``;`` and ROLLBACK, so that
    PgBouncer's transaction mode sees no statement outside a transaction. A simple-protocol
    ``SELECT 1`` is a transaction of its own and suits PgBouncer as well. Everything around the ping
    stays SQLAlchemy's: fresh connections are not pinged, a failed ping invalidates the pool and
    reconnects. Every request and every consumed batch checks a connection out.
    """

    def do_ping(dbapi_connection: Any) -> bool:
        try:
            dbapi_connection.run_async(lambda driver_connection: driver_connection.execute("SELECT 1"))
        except Exception as error:
            # The adapter's own translation into its DBAPI errors, which the pool's ping handling expects.
            raise_as_dbapi_error(dbapi_connection, error)
        return True

    replace_ping(engine, do_ping)


def _tune_sqlite(engine: AsyncEngine) -> None:
    # WAL lets the local run's readers (query API) work while a consumer writes; foreign keys are off by
    # default in SQLite.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
