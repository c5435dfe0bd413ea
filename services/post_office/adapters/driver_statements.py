"""An online scan's two PostgreSQL statements as asyncpg takes them, compiled once from statements.py.

SQLAlchemy's execution of a statement (its compiled-cache lookup, parameter and row processing, a
greenlet hop each way) cost an online scan more CPU than asyncpg's own work (issue 19). The repository
sends these two on the driver's connection of the same transaction instead
(services.shared.compat.sqlalchemy_internals.on_driver), as prepared statements (asyncpg's statement
cache); every other statement, and SQLite, keeps SQLAlchemy's way. The SQL is SQLAlchemy's own
compilation of the same statement objects, so both ways send the same text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs
from sqlalchemy.sql import ClauseElement

from services.post_office.adapters.statements import statements_of
from services.shared.compat.sqlalchemy_internals import asyncpg_sql


class DriverRecord(asyncpg.Record):  # type: ignore[misc]  # asyncpg has no stubs
    """A row readable by attribute, as SQLAlchemy's rows are: the repository reads both alike."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class DriverStatement:
    sql: str
    """With $1, $2, ... as asyncpg takes its parameters."""
    names: tuple[str, ...]
    """The parameter of each $n, by the name the SQLAlchemy statement gives it."""

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] for name in self.names]


def _compiled(statement: ClauseElement | None) -> DriverStatement:
    assert statement is not None, "a PostgreSQL statement"
    return DriverStatement(*asyncpg_sql(statement))


_POSTGRESQL = statements_of("postgresql")
LOCKED_ITEMS_WITH_HISTORY = _compiled(_POSTGRESQL.locked_items_with_history)
INSERT_SCAN_TOUCHING = _compiled(_POSTGRESQL.insert_scan_touching)
