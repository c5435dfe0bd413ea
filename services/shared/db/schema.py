"""The tables, as SQLAlchemy Core metadata. Alembic migrations create them; a test checks the two agree.

Shared tables are declared here. Each service declares its own tables on this same `metadata` in
services/<service>/adapters/tables.py, and its migrations form an Alembic branch labelled with the
service's name (down_revision "0002"), so services add tables without touching each other's history.
`all_tables_metadata()` imports every service's tables module, for migrations and the drift test.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sqlalchemy import Column, DateTime, MetaData, String, Table

# Stable constraint names make migrations identical on PostgreSQL and SQLite.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# The inbox of every idempotent consumer: an event id recorded here, in the same transaction as the
# work it caused, is never applied again by that consumer, however often Kafka redelivers it.
processed_event = Table(
    "processed_event",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)

# The credential registry: every issued credential's id and binding (never the token itself), and its
# revocation. Authentication refuses a signed token whose id is missing here or revoked.
credential = Table(
    "credential",
    metadata,
    Column("credential_id", String(36), primary_key=True),
    Column("subject", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("scope", String(32), nullable=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


def all_tables_metadata() -> MetaData:
    """The metadata with every service's tables registered on it."""
    services_dir = Path(__file__).resolve().parents[2]
    for tables_module in sorted(services_dir.glob("*/adapters/tables.py")):
        importlib.import_module(f"services.{tables_module.parts[-3]}.adapters.tables")
    return metadata
