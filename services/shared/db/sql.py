"""SQL expressions the services share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection


def among(conn: AsyncConnection, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(one array parameter)``: the statement is the same
    whatever the count of values, so PostgreSQL and asyncpg prepare it once, and SQLAlchemy does not
    render a bind parameter per value (rendering them was 3 % of the post office's CPU per scan)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)
