"""SQLAlchemy's private parts: its asyncpg adaptor's translation of driver errors, the pool's ping, and
statements run on the driver's connection inside a SQLAlchemy transaction.

Checked by tests/compat/test_sqlalchemy_internals.py; pyproject.toml bounds sqlalchemy to the tested line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection, PGDialect_asyncpg
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from services.shared.compat import InternalsChangedError, module_path

LIBRARY = "sqlalchemy"
MODULE = module_path(__name__)

T = TypeVar("T")


def raise_as_dbapi_error(dbapi_connection: Any, error: Exception) -> NoReturn:
    """Raise `error`, an asyncpg exception, as the DBAPI error SQLAlchemy's asyncpg adaptor makes of it.

    A ping that talks to asyncpg directly (services.shared.db.engine) gets asyncpg's exceptions; the
    pool treats a failed ping as a lost connection only if it is a DBAPI error its dialect recognises as
    a disconnect. The adaptor's translation has no public name.
    """
    dbapi_connection._handle_exception(error)
    # It always raises; should it ever return, say so rather than hand the pool the raw driver error.
    changed = "AsyncAdapt_asyncpg_connection._handle_exception raising"
    raise InternalsChangedError(LIBRARY, changed, MODULE) from error


def replace_ping(engine: AsyncEngine, ping: Callable[[Any], bool]) -> None:
    """Make `ping` this engine's pre-ping, for this engine's dialect only.

    The pool pre-pings every checkout through ``dialect.do_ping``, a public method of the Dialect
    interface meant to be overridden by dialect subclasses; SQLAlchemy has no public way to set it for
    one engine, so the dialect instance gets its own attribute.
    """
    setattr(engine.sync_engine.dialect, "do_ping", ping)  # noqa: B010 - an instance attribute


async def on_driver(conn: AsyncConnection, statement: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work`` on the asyncpg connection under ``conn``, inside conn's transaction, as if SQLAlchemy
    had executed ``statement``: the transaction begun first, a driver error raised as SQLAlchemy's.

    SQLAlchemy's asyncpg adaptor begins its transaction lazily, at the first statement it executes; a
    statement sent on the driver's connection before that would run outside it. It has no public way to
    begin now. A driver error is what SQLAlchemy would have raised for its own statement (IntegrityError,
    OperationalError, ...), a lost connection invalidated in the pool as SQLAlchemy does, so that callers
    handle both ways alike.
    """
    fairy = await conn.get_raw_connection()
    adaptor: Any = fairy.dbapi_connection
    if adaptor._transaction is None:
        try:
            await adaptor._start_transaction()
        except Exception as error:
            await _raise_as_sqlalchemy_error(conn, error, "BEGIN")
    try:
        return await work(fairy.driver_connection)
    except Exception as error:
        await _raise_as_sqlalchemy_error(conn, error, statement)


async def _raise_as_sqlalchemy_error(conn: AsyncConnection, error: Exception, statement: str) -> NoReturn:
    fairy = await conn.get_raw_connection()
    # Anything else than a driver error (OSError, a timeout) is raised as it is, as SQLAlchemy's own
    # execution raises it.
    try:
        raise_as_dbapi_error(fairy.dbapi_connection, error)
    except conn.dialect.loaded_dbapi.Error as dbapi_error:
        translated: Exception = dbapi_error

    def handle(sync: Connection) -> NoReturn:
        sync._handle_dbapi_exception(translated, statement, None, None, None)

    await conn.run_sync(handle)
    raise InternalsChangedError(LIBRARY, "Connection._handle_dbapi_exception raising", MODULE) from error


def asyncpg_sql(statement: ClauseElement) -> tuple[str, tuple[str, ...]]:
    """The SQL text SQLAlchemy's asyncpg dialect sends for ``statement`` ($1, $2, ...), and the name of
    each numbered parameter in order: what asyncpg takes directly. SQLAlchemy's compiler and the
    dialect's module have no public name."""
    compiled = statement.compile(dialect=PGDialect_asyncpg())  # type: ignore[no-untyped-call]
    if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
        raise InternalsChangedError(LIBRARY, "SQLCompiler.positiontup of the asyncpg dialect", MODULE)
    return compiled.string, tuple(compiled.positiontup)


def check() -> None:
    """Raise InternalsChangedError unless the installed SQLAlchemy has every private part above."""
    for owner, name in (
        (AsyncAdapt_asyncpg_connection, "_handle_exception"),
        (AsyncAdapt_asyncpg_connection, "_start_transaction"),
        (Connection, "_handle_dbapi_exception"),
    ):
        if not callable(getattr(owner, name, None)):
            raise InternalsChangedError(LIBRARY, f"{owner.__name__}.{name}", MODULE)
