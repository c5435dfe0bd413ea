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
    UniqueConstraint,
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
    # The procedure (thủ tục) of the dossier, for the reports' top late procedures (ta_0003; null on
    # clocks finished before it and until the procedure is known).
    Column("procedure_code", String(64), nullable=True),
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
    # Objectives and reports count a leg's clocks finished in a period (ta_0004_q_objectives).
    Index("ix_turnaround_clock_leg_finished_day", "leg", "finished_day"),
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

# --------------------------------------------------------------------------- quality (ta_0003)
# The ISO 9001 loop (services/turnaround/quality): nonconformities, their audit trail, and the periodic
# reports. A module of turnaround because it is measured on turnaround's stored clocks and opened in the
# transaction that applies the breaching event (the inbox makes that exactly once across replays).

# One row per breach the rules define. `occurrence` tells apart two breaches of the same kind on one
# dossier (e.g. the leg, or the delay notice's number); the unique key is what opens each exactly once.
# The row id is derived from that key (uuid5), so a replay computes the same id.
nonconformity = Table(
    "quality_nonconformity",
    metadata,
    Column("nonconformity_id", String(36), primary_key=True),
    Column("dossier_id", String(36), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("occurrence", String(40), nullable=False),
    Column("leg", String(24), nullable=True),
    # The unit that must analyse it: "agency" or "post_office", and its code.
    Column("responsible_kind", String(16), nullable=False),
    Column("responsible_code", String(32), nullable=False),
    Column("province", String(32), nullable=False),
    Column("procedure_code", String(64), nullable=True),
    # The rule broken: the rule set in force (deploy/rules) and the article it cites.
    Column("rule_set", String(64), nullable=False),
    Column("article", String(160), nullable=False),
    # The facts that show the breach: dates, codes and counts only, never personal data.
    Column("facts", JSON, nullable=False),
    # When the breach happened (the event's time), and when it was recorded here.
    Column("detected_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),
    Column("cause", Text, nullable=True),
    Column("correction", Text, nullable=True),
    Column("corrective_action", Text, nullable=True),
    Column("verification", Text, nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    # Bumped by every change: a change made on a stale version is refused (no lost update between staff).
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("dossier_id", "kind", "occurrence", name="uq_quality_nonconformity_breach"),
    Index("ix_quality_nonconformity_responsible", "responsible_kind", "responsible_code", "state"),
    Index("ix_quality_nonconformity_detected_at", "detected_at"),
)

# Who changed what and when, one row per change of a nonconformity (append-only).
nonconformity_audit = Table(
    "quality_nonconformity_audit",
    metadata,
    Column("nonconformity_id", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("actor", String(128), nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("action", String(24), nullable=False),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=False),
    Column("changes", JSON, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# A periodic report, generated once per period and scope (the key), kept as the JSON every format is
# rendered from, so the CSV, XLSX and PDF of a period always hold the same numbers.
report = Table(
    "quality_report",
    metadata,
    Column("period", String(8), primary_key=True),
    Column("scope_kind", String(16), primary_key=True),
    Column("scope_code", String(32), primary_key=True),
    Column("generated_at", DateTime(timezone=True), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("body", JSON, nullable=False),
)
