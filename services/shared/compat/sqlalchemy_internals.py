"""SQLAlchemy's private parts: its asyncpg adaptor's translation of driver errors, and the pool's ping.

Checked by tests/compat/test_sqlalchemy_internals.py; pyproject.toml bounds sqlalchemy to the tested line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared.compat import InternalsChangedError, module_path

LIBRARY = "sqlalchemy"
MODULE = module_path(__name__)


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


def check() -> None:
    """Raise InternalsChangedError unless the installed SQLAlchemy has every private part above."""
    if not callable(getattr(AsyncAdapt_asyncpg_connection, "_handle_exception", None)):
        raise InternalsChangedError(LIBRARY, "AsyncAdapt_asyncpg_connection._handle_exception", MODULE)
