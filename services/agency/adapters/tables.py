"""The agency service's tables (migration branch "agency", services/shared/db/migrations/versions/ag_*).

One row per dossier the agency service knows: learned from the post office's events or registered at
a desk. The applicant's contact and delivery address of a registration are kept only sealed, in the
vault tables (``personal_data_tables``), never in the events (contracts/README.md, Personal data).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String, Table

from services.shared.db.schema import metadata
from services.shared.personal_data.tables import vault_tables

agency_dossier = Table(
    "agency_dossier",
    metadata,
    Column("dossier_id", String(36), primary_key=True),
    # The agency the dossier is addressed to: the only one that may report on it.
    Column("agency_code", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    # Agency events recorded so far; the id of the next event an officer reports derives from it.
    Column("sequence", Integer, nullable=False),
    Column("service_form", String(24), nullable=True),
    Column("item_id", String(13), nullable=True),
    Column("procedure_code", String(8), nullable=True),
    Column("agency_dossier_code", String(32), nullable=True, unique=True),
    Column("filed_at", DateTime(timezone=True), nullable=True),
    Column("filing_day", Date, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=True),
    Column("legal_due_date", Date, nullable=True),
    Column("appointment_date", Date, nullable=True),
    Column("due_date", Date, nullable=True),
    Column("delay_notices", Integer, nullable=False),
    Column("delay_breach", Boolean, nullable=True),
    # Supplement requests recorded (migration rules_0001): the rules allow one, more are flagged.
    Column("supplement_requests", Integer, nullable=False, server_default="0"),
    Column("supplement_requested_at", DateTime(timezone=True), nullable=True),
    # When the dossier is closed if still awaiting its supplement (migration closure_0001): the closure
    # job's index. None when the rules in force on the day of the request set no closure period.
    Column("closure_due_at", DateTime(timezone=True), nullable=True, index=True),
    Column("supplement_item_id", String(13), nullable=True),
    Column("supplement_handed_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(8), nullable=True),
    # The latest fact of the dossier's journey at the agency (an event type) and when it happened: a
    # report recorded late is refused if it happened before it (migration ag_0002).
    Column("last_fact", String(64), nullable=True),
    Column("last_fact_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The contacts and delivery addresses this agency collected, sealed, and every staff read (append-only).
personal_data_tables = vault_tables("agency")
