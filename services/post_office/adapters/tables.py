"""The post office's tables, on the shared metadata; migrations/versions/po_0001_post_office.py creates them.

The applicant's contact is kept only sealed, in the vault tables (``personal_data_tables``), never in the
events (contracts/README.md, Personal data).
Times are stored in UTC.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, ForeignKey, Integer, String, Table

from services.shared.db.schema import metadata
from services.shared.personal_data.tables import vault_tables

# Every postal item the post office recorded: inbound dossiers it accepted and results it picked up.
post_office_item = Table(
    "post_office_item",
    metadata,
    Column("item_id", String(13), primary_key=True),
    Column("kind", String(16), nullable=False),  # contracts.enums.ItemKind
    Column("dossier_id", String(36), nullable=False),
    Column("agency_code", String(13), nullable=False),
    Column("post_office_code", String(6), nullable=False),  # accepted or picked up by
    Column("service_form", String(16), nullable=False),  # contracts.enums.ServiceForm
    Column("stage", String(32), nullable=False),  # contracts.enums.Stage
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("fingerprint", String(64), nullable=False),  # of the creating command, for replays
    Column("procedure_code", String(8), nullable=True),
    Column("postage_vnd", BigInteger, nullable=True),
    Column("dossier_item_id", String(13), nullable=True),  # a result's inbound dossier item
    Column("agency_dossier_code", String(32), nullable=True),
    Column("handover_record_id", String(64), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Signed handover records (biên bản giao nhận); record numbers are unique within a post office.
post_office_handover = Table(
    "post_office_handover",
    metadata,
    Column("post_office_code", String(6), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Column("agency_code", String(13), nullable=False),
    Column("postal_worker_id", String(64), nullable=False),
    Column("agency_officer_id", String(64), nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False),
)

# Delivery attempts of results: a courier's round, or a collection at the counter (started_at empty).
post_office_delivery_attempt = Table(
    "post_office_delivery_attempt",
    metadata,
    Column("item_id", String(13), ForeignKey("post_office_item.item_id"), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("courier_id", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(16), nullable=True),  # FAILED, DELIVERED; empty while out
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("failure_reason", String(32), nullable=True),
)

# Scans recorded (online or from offline batches), by the client's scan id: sending a scan again
# records nothing new. Only accepted scans are kept; a rejected one is judged again when resent.
post_office_scan = Table(
    "post_office_scan",
    metadata,
    Column("scan_id", String(36), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("item_id", String(13), nullable=False),
    Column("post_office_code", String(6), nullable=False),
    Column("scanned_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# The applicant contacts this post office collected, sealed, and every staff read of one (append-only).
personal_data_tables = vault_tables("post_office")
