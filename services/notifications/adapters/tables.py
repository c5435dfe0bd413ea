"""The notifications service's tables (Alembic branch "notifications",
services/shared/db/migrations/versions/notify_0001_notifications.py). Registered on the shared metadata so
the drift test sees them. No column holds a phone number or an e-mail address in clear: the contact is
kept only sealed (notification_contact) and only until ``held_until``."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    false,
)

from services.shared.db.schema import metadata
from services.shared.personal_data.tables import UtcDateTime

# One row per dossier the service heard of: who holds the contact and what the applicant consented to.
# The row is also the dossier's lock (SELECT … FOR UPDATE): the consumers and the dispatcher of one
# dossier never interleave.
dossier = Table(
    "notification_dossier",
    metadata,
    Column("dossier_id", String(36), primary_key=True),
    # The item id (post office) or agency dossier code (agency): what the citizen knows the dossier by
    # and what the owner's contact API is asked with. Null until the intake event is seen.
    Column("reference", String(64), nullable=True),
    Column("owner", String(16), nullable=True),
    # The consented channels, comma-separated ("email,sms"); empty: none.
    Column("channels", String(32), nullable=True),
    Column("agency_code", String(32), nullable=True),
    # The post office that accepted the dossier (null: registered at the agency): with agency_code, who
    # among the staff may read the dossier's messages (migration notify_0003).
    Column("post_office_code", String(16), nullable=True),
    Column("erased_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# One row per fact that makes a message (the postal or agency event, or the clock alert): its message
# kind and parameters (dates, codes, documents: no personal data), waiting for the tracker's stage.
fact = Table(
    "notification_fact",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("dossier_id", String(36), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("occurrence", Integer, nullable=False),
    # The stage whose StageChanged (caused by this event) releases the message; null: no stage awaited.
    Column("stage", String(32), nullable=True),
    Column("parameters", JSON, nullable=False),
    Column("planned", Boolean, nullable=False, server_default=false()),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Index("ix_notification_fact_dossier_id", "dossier_id"),
)

# Every stage the tracker announced, by its causing event: the join with notification_fact.
stage = Table(
    "notification_stage",
    metadata,
    Column("cause_event_id", String(36), primary_key=True),
    Column("stage", String(32), primary_key=True),
    Column("dossier_id", String(36), nullable=False),
    Column("late", Boolean, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
)

# One row per (dossier, message, channel), inserted before any provider is called: the idempotency key is
# unique, so a replayed event, a second replica or a restart never makes a second message.
message = Table(
    "notification_message",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("idempotency_key", String(128), nullable=False),
    Column("dossier_id", String(36), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("occurrence", Integer, nullable=False),
    # Null for the one "no consent" record of a message nobody may be sent.
    Column("channel", String(8), nullable=True),
    # pending → sending → sent | failed | dead; or suppressed from the start.
    Column("status", String(16), nullable=False),
    Column("reason", String(64), nullable=True),
    Column("parameters", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("provider_message_id", String(128), nullable=True),
    Column("provider_code", String(64), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    # What the adapter sent as the provider's client reference (channels/reference.py): a receipt that
    # names only that finds its message by it.
    Column("client_reference", String(64), nullable=True),
    # What the provider reported later (its delivery receipt): delivered, temporary_failure or
    # permanent_failure, its code and when it says it happened. Null: no receipt yet.
    Column("delivery", String(20), nullable=True),
    Column("delivery_code", String(64), nullable=True),
    Column("delivery_reported_at", UtcDateTime(), nullable=True),
    # The channel whose permanent failure this message falls back from (at most once per message kind
    # and occurrence); null for the first choice.
    Column("fallback_from", String(8), nullable=True),
    UniqueConstraint("idempotency_key", name="uq_notification_message_idempotency_key"),
    Index("ix_notification_message_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_notification_message_dossier_id", "dossier_id"),
    Index("ix_notification_message_provider_id", "channel", "provider_message_id"),
    Index("ix_notification_message_client_reference", "channel", "client_reference"),
)

# The messages given up on after the retry budget, with the reason: nothing is dropped silently.
dead_letter = Table(
    "notification_dead_letter",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("idempotency_key", String(128), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
)

# The applicant's phone and e-mail as the owner answered them, sealed (AES-256-GCM under a fresh data key
# wrapped by PERSONAL_DATA_KEYS), kept until held_until and deleted then, or at once when the owner
# announces its erasure.
contact = Table(
    "notification_contact",
    metadata,
    Column("dossier_id", String(36), primary_key=True),
    Column("kid", String(64), nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("blob", LargeBinary, nullable=False),
    Column("fetched_at", UtcDateTime(), nullable=False),
    Column("held_until", UtcDateTime(), nullable=False),
)

# Every authentic delivery receipt, kept as received (no personal data: ids, status, the provider's code),
# unique by its content so a resent receipt is stored once; ``applied_at`` null while no message it names
# is recorded yet (a receipt can overtake the record of the send it reports on).
receipt = Table(
    "notification_receipt",
    metadata,
    Column("receipt_id", String(64), primary_key=True),
    Column("channel", String(8), nullable=False),
    Column("provider_message_id", String(128), nullable=False),
    Column("client_reference", String(64), nullable=True),
    Column("status", String(20), nullable=False),
    Column("code", String(64), nullable=True),
    Column("reported_at", UtcDateTime(), nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("applied_at", UtcDateTime(), nullable=True),
    Index("ix_notification_receipt_pending", "channel", "applied_at"),
)
