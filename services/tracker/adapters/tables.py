"""The tracker's tables, on the shared metadata (migration branch ``tracker``, revision tr_0001).

Nothing personal is stored: event data is kept without the fields the contract marks as personal data,
and the applicant's phone only as an HMAC of its last four digits (``phone_digest``) for the public
lookup. Every row is a function of the history alone (no wall-clock columns), so a rebuild from the
Kafka log produces the same rows as the live projection.
"""

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
)

from services.shared.db.schema import metadata

ID = String(36)

# The current state of each dossier: the fold of its ordered history.
dossier = Table(
    "tracker_dossier",
    metadata,
    Column("dossier_id", ID, primary_key=True),
    Column("stage", String(24), nullable=True),
    Column("stage_since", DateTime(timezone=True), nullable=True),
    Column("custody_kind", String(16), nullable=True),
    Column("custody_code", String(64), nullable=True),
    Column("custody_office", String(64), nullable=True),
    Column("service_form", String(20), nullable=True),
    Column("procedure_code", String(16), nullable=True),
    Column("agency_code", String(20), nullable=True),
    Column("origin_post_office", String(6), nullable=True),
    Column("item_id", String(13), nullable=True),
    Column("result_item_id", String(13), nullable=True),
    Column("agency_dossier_code", String(32), nullable=True),
    Column("is_open", Boolean, nullable=False),
    Column("clock", String(20), nullable=True),
    Column("due_date", Date, nullable=True),
    Column("expected_date", Date, nullable=True),
    Column("accepted_at", DateTime(timezone=True), nullable=True),
    Column("filed_at", DateTime(timezone=True), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=True),
    Column("result_ready_at", DateTime(timezone=True), nullable=True),
    Column("refused_at", DateTime(timezone=True), nullable=True),
    Column("picked_up_at", DateTime(timezone=True), nullable=True),
    Column("first_attempt_at", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("inbound_due_date", Date, nullable=True),
    Column("agency_due_date", Date, nullable=True),
    Column("appointment_date", Date, nullable=True),
    Column("return_due_date", Date, nullable=True),
    Column("delay_notified", Boolean, nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("failed_attempts", Integer, nullable=False),
    Column("phone_digest", String(64), nullable=True),
    # Set by an erasure event of the contact's owner; never by the fold (the erasure is no journey step).
    Column("contact_erased_at", DateTime(timezone=True), nullable=True),
    Column("start_event_id", ID, nullable=True),
    Column("event_count", Integer, nullable=False),
    Column("anomaly_count", Integer, nullable=False),
    Column("first_event_at", DateTime(timezone=True), nullable=False),
    Column("last_event_at", DateTime(timezone=True), nullable=False),
    # With last_event_at, the sort key of the last event: a batch that only appends to the history
    # resumes the fold from this row instead of reading the history again.
    Column("last_event_type", String(100), nullable=False),
    Column("last_event_id", ID, nullable=False),
    # Keyset pagination: every list is ordered by (last_event_at, dossier_id) descending, or by
    # (due_date, dossier_id) for overdue dossiers; each filter has an index that yields that order.
    Index("ix_tracker_dossier_recent", "last_event_at", "dossier_id"),
    Index("ix_tracker_dossier_stage_recent", "stage", "last_event_at", "dossier_id"),
    Index("ix_tracker_dossier_agency_recent", "agency_code", "last_event_at", "dossier_id"),
    Index("ix_tracker_dossier_agency_stage_recent", "agency_code", "stage", "last_event_at", "dossier_id"),
    Index("ix_tracker_dossier_procedure_recent", "procedure_code", "last_event_at", "dossier_id"),
    Index("ix_tracker_dossier_due", "due_date", "dossier_id"),
    Index("ix_tracker_dossier_agency_due", "agency_code", "due_date", "dossier_id"),
)

# Every event of every dossier, once (the event id is the key), without personal data.
event = Table(
    "tracker_event",
    metadata,
    Column("event_id", ID, primary_key=True),
    Column("dossier_id", ID, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("source", String(200), nullable=False),
    Column("data", JSON, nullable=False),
    Column("phone_digest", String(64), nullable=True),
    Index("ix_tracker_event_dossier", "dossier_id", "occurred_at"),
)

# Events the fold flags as contradicting the state machine (recomputed with every fold of the dossier).
anomaly = Table(
    "tracker_anomaly",
    metadata,
    Column("event_id", ID, primary_key=True),
    Column("dossier_id", ID, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", String(300), nullable=False),
    Index("ix_tracker_anomaly_recent", "occurred_at", "event_id"),
    Index("ix_tracker_anomaly_reason_recent", "reason", "occurred_at", "event_id"),
    Index("ix_tracker_anomaly_dossier", "dossier_id"),
)

# The post offices and agencies that handled each dossier: who may look it up.
party = Table(
    "tracker_party",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("dossier_id", ID, primary_key=True),
    Index("ix_tracker_party_dossier", "dossier_id"),
)

# Item ids and agency dossier codes that lead to a dossier (public and staff lookups by reference).
reference = Table(
    "tracker_reference",
    metadata,
    Column("reference", String(32), primary_key=True),
    Column("dossier_id", ID, primary_key=True),
    Column("kind", String(24), nullable=False),
)

# Transactional outbox: stage changes written with the projection, published by the relay, then deleted.
outbox = Table(
    "tracker_outbox",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", ID, nullable=False, unique=True),
    Column("dossier_id", ID, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Budgets of failed public lookups (adapters/lookup_budget.py; revision tr_0003): one row per
# client, dossier or unknown reference in its current fixed window, keyed by an HMAC of that name so that
# no client address or reference is stored. Not part of the projection: a rebuild leaves it alone. Rows
# whose window ended are deleted as lookups go.
lookup_budget = Table(
    "tracker_lookup_budget",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("window_ends_ms", BigInteger, nullable=False),
    Column("used", Integer, nullable=False),
    Index("ix_tracker_lookup_budget_window_ends", "window_ends_ms"),
)

PROJECTION_TABLES = (dossier, event, anomaly, party, reference)
"""The tables a rebuild fills and compares; the outbox is not part of the projection."""
