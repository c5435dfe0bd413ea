"""The turnaround service's tables (Alembic branch "turnaround", services/shared/db/migrations/versions/
ta_0001_turnaround.py and ta_0002_clock_counted.py). Registered on the shared metadata so the drift test
sees them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    true,
)

from services.shared.db.schema import metadata

# One row per dossier: the facts its clocks are derived from (services.turnaround.domain.Facts).
dossier = Table(
    "turnaround_dossier",
    metadata,
    Column("dossier_id", String(36), primary_key=True),
    Column("facts", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# One row per dossier and leg: the clock as it stands. Open clocks are scanned for alerts and backlog.
clock = Table(
    "turnaround_clock",
    metadata,
    Column("dossier_id", String(36), primary_key=True),
    Column("leg", String(24), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("start_day", Date, nullable=False),
    Column("due_date", Date, nullable=True),
    Column("province", String(32), nullable=False),
    Column("field_key", String(40), nullable=False),
    Column("route", String(32), nullable=False),
    Column("agency_code", String(32), nullable=True),
    Column("post_office_code", String(16), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("finished_day", Date, nullable=True),
    Column("working_days", Integer, nullable=True),
    Column("timeliness", String(16), nullable=True),
    # False while a finished clock waits for the facts that classify it (ta_0002).
    Column("counted", Boolean, nullable=False, server_default=true()),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_turnaround_clock_state_due_date", "state", "due_date"),
)

# Alerts raised, once per clock generation and threshold: the unique key is what makes them exactly once
# across restarts, replays and replicas (insert-if-absent in the transaction that fills the outbox).
clock_alert = Table(
    "turnaround_clock_alert",
    metadata,
    Column("dossier_id", String(36), primary_key=True),
    Column("leg", String(24), primary_key=True),
    Column("generation", Integer, primary_key=True),
    Column("threshold", String(16), primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
)

# Alert envelopes waiting for Kafka; deleted once the broker acknowledged them.
outbox = Table(
    "turnaround_outbox",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_turnaround_outbox_created_at", "created_at"),
)

# Running totals behind the counter and histogram metrics, updated in the transaction that finished the
# clock (or applied the event): exact across replicas, restarts and replays. `working_days` is the
# integer value observed (-1 when the tally has none); `total` sums the observed values.
tally = Table(
    "turnaround_tally",
    metadata,
    Column("metric", String(32), primary_key=True),
    Column("leg", String(24), primary_key=True),
    Column("province", String(32), primary_key=True),
    Column("field_key", String(40), primary_key=True),
    Column("route", String(32), primary_key=True),
    Column("outcome", String(32), primary_key=True),
    Column("working_days", Integer, primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
)
