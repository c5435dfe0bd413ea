"""The notifications store: every statement on the service's tables, on a connection the caller holds (one
transaction per consumed batch or per message step). ``INSERT … ON CONFLICT`` on the idempotency key
carries the exactly-once guarantee; on PostgreSQL ``FOR UPDATE`` on the dossier's row serialises its
consumers and dispatchers, on SQLite (the local run, one process) the database's one writer does."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifications.adapters.tables import (
    contact,
    dead_letter,
    dossier,
    fact,
    message,
    receipt,
    stage,
)
from services.notifications.channels.reference import reference_for
from services.notifications.facts import Intake, MessageFact, StageSeen
from services.notifications.ports import Channel, Receipt

PENDING, SENDING, SENT, FAILED, SUPPRESSED, DEAD = (
    "pending",
    "sending",
    "sent",
    "failed",
    "suppressed",
    "dead",
)
TOLD = (PENDING, SENDING, SENT)
"""The statuses of a message the citizen has been, or is about to be, told."""


def insert(conn: AsyncConnection, table: Table) -> Any:
    """``INSERT`` with the dialect's ``ON CONFLICT`` (PostgreSQL in production, SQLite in the local run)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def lock_dossier(conn: AsyncConnection, dossier_id: str, now: datetime) -> None:
    """Create the dossier's row if needed and lock it until the transaction ends."""
    await conn.execute(
        insert(conn, dossier).values(dossier_id=dossier_id, updated_at=now).on_conflict_do_nothing()
    )
    await conn.execute(
        select(dossier.c.dossier_id).where(dossier.c.dossier_id == dossier_id).with_for_update()
    )


async def dossier_row(conn: AsyncConnection, dossier_id: str) -> Row[Any] | None:
    return (await conn.execute(select(dossier).where(dossier.c.dossier_id == dossier_id))).first()


async def record_intake(conn: AsyncConnection, intake: Intake, now: datetime) -> None:
    # The first intake wins: a replay, or a version 1 copy of it, changes nothing.
    await conn.execute(
        update(dossier)
        .where(dossier.c.dossier_id == intake.dossier_id, dossier.c.reference.is_(None))
        .values(
            reference=intake.reference,
            owner=intake.owner.value,
            channels=",".join(sorted(c.value for c in intake.consent.channels)),
            agency_code=intake.agency_code,
            post_office_code=intake.post_office_code,
            updated_at=now,
        )
    )


async def record_fact(conn: AsyncConnection, learned: MessageFact, now: datetime) -> None:
    await conn.execute(
        insert(conn, fact)
        .values(
            event_id=learned.event_id,
            dossier_id=learned.dossier_id,
            kind=learned.kind.value,
            occurrence=learned.occurrence,
            stage=None if learned.stage is None else learned.stage.value,
            parameters=learned.parameters,
            planned=False,
            recorded_at=now,
        )
        .on_conflict_do_nothing()
    )


async def record_stage(conn: AsyncConnection, seen: StageSeen, now: datetime) -> None:
    await conn.execute(
        insert(conn, stage)
        .values(
            cause_event_id=seen.cause_event_id,
            stage=seen.stage.value,
            dossier_id=seen.dossier_id,
            late=seen.late,
            recorded_at=now,
        )
        .on_conflict_do_nothing()
    )


async def unplanned_facts(conn: AsyncConnection, dossier_id: str) -> Sequence[Row[Any]]:
    rows = await conn.execute(
        select(fact)
        .where(fact.c.dossier_id == dossier_id, fact.c.planned.is_(False))
        .order_by(fact.c.recorded_at, fact.c.event_id)
    )
    return rows.all()


async def stage_of(conn: AsyncConnection, cause_event_id: str, stage_name: str) -> Row[Any] | None:
    rows = await conn.execute(
        select(stage).where(stage.c.cause_event_id == cause_event_id, stage.c.stage == stage_name)
    )
    return rows.first()


async def mark_planned(conn: AsyncConnection, event_id: str) -> None:
    await conn.execute(update(fact).where(fact.c.event_id == event_id).values(planned=True))


async def told_kinds(conn: AsyncConnection, dossier_id: str) -> set[str]:
    rows = await conn.execute(
        select(message.c.kind)
        .where(message.c.dossier_id == dossier_id, message.c.status.in_(TOLD))
        .distinct()
    )
    return set(rows.scalars())


async def add_message(
    conn: AsyncConnection,
    *,
    key: str,
    dossier_id: str,
    kind: str,
    occurrence: int,
    channel: Channel | None,
    status: str,
    reason: str | None,
    parameters: dict[str, str],
    now: datetime,
    fallback_from: Channel | None = None,
) -> bool:
    """Insert the message under its idempotency key; False when the key was already there."""
    inserted = await conn.execute(
        insert(conn, message)
        .values(
            message_id=str(uuid.uuid4()),
            idempotency_key=key,
            dossier_id=dossier_id,
            kind=kind,
            occurrence=occurrence,
            channel=None if channel is None else channel.value,
            status=status,
            reason=reason,
            parameters=parameters,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
            client_reference=None if channel is None else reference_for(channel, key),
            fallback_from=None if fallback_from is None else fallback_from.value,
        )
        .on_conflict_do_nothing(index_elements=[message.c.idempotency_key])
        .returning(message.c.message_id)
    )
    return inserted.first() is not None


async def erase_dossier(conn: AsyncConnection, dossier_id: str, now: datetime) -> list[Row[Any]]:
    """The owner erased the applicant's contact: drop our sealed copy, and every message not yet sent is
    suppressed (reason ``erased``); returns those messages (channel, kind) for the metrics."""
    await conn.execute(
        update(dossier)
        .where(dossier.c.dossier_id == dossier_id, dossier.c.erased_at.is_(None))
        .values(erased_at=now, updated_at=now)
    )
    await conn.execute(contact.delete().where(contact.c.dossier_id == dossier_id))
    suppressed = await conn.execute(
        update(message)
        .where(message.c.dossier_id == dossier_id, message.c.status == PENDING)
        .values(status=SUPPRESSED, reason="erased", updated_at=now)
        .returning(message.c.channel, message.c.kind)
    )
    return list(suppressed.all())


# --------------------------------------------------------------------------- the dispatcher's steps


async def due_messages(conn: AsyncConnection, now: datetime, limit: int) -> Sequence[Any]:
    m = message.c
    rows = await conn.execute(
        select(m.message_id, m.channel, m.next_attempt_at)
        .where(
            ((m.status == PENDING) & (m.next_attempt_at <= now))
            | ((m.status == SENDING) & (m.lease_until <= now))
        )
        .order_by(m.next_attempt_at)
        .limit(limit)
    )
    return rows.all()


async def postpone(conn: AsyncConnection, message_id: str, until: datetime, now: datetime) -> None:
    await conn.execute(
        update(message)
        .where(message.c.message_id == message_id, message.c.status == PENDING)
        .values(next_attempt_at=until, updated_at=now)
    )


async def claim(
    conn: AsyncConnection, message_id: str, now: datetime, lease_until: datetime
) -> Row[Any] | None:
    """Take the message for one attempt (another replica that took it first wins); the attempt count is
    the fencing token of the steps that follow."""
    m = message.c
    claimed = await conn.execute(
        update(message)
        .where(
            m.message_id == message_id,
            ((m.status == PENDING) & (m.next_attempt_at <= now))
            | ((m.status == SENDING) & (m.lease_until <= now)),
        )
        .values(status=SENDING, attempts=m.attempts + 1, lease_until=lease_until, updated_at=now)
        .returning(*message.c)
    )
    return claimed.first()


async def finish(
    conn: AsyncConnection,
    claimed: Row[Any],
    *,
    status: str,
    now: datetime,
    reason: str | None = None,
    next_attempt_at: datetime | None = None,
    provider_message_id: str | None = None,
    provider_code: str | None = None,
) -> bool:
    """Store the attempt's outcome, if the message is still this attempt's (False otherwise)."""
    values: dict[str, Any] = {
        "status": status,
        "reason": reason,
        "lease_until": None,
        "updated_at": now,
        "provider_message_id": provider_message_id,
        "provider_code": provider_code,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if status == SENT:
        values["sent_at"] = now
    done = await conn.execute(
        update(message)
        .where(
            message.c.message_id == claimed.message_id,
            message.c.status == SENDING,
            message.c.attempts == claimed.attempts,
        )
        .values(**values)
    )
    return bool(done.rowcount)


async def add_dead_letter(conn: AsyncConnection, claimed: Row[Any], reason: str, now: datetime) -> None:
    await conn.execute(
        insert(conn, dead_letter)
        .values(
            message_id=claimed.message_id,
            idempotency_key=claimed.idempotency_key,
            channel=claimed.channel,
            kind=claimed.kind,
            reason=reason[:200],
            attempts=claimed.attempts,
            recorded_at=now,
        )
        .on_conflict_do_nothing()
    )


async def queue_depth(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(
        select(message.c.channel, func.count())
        .where(message.c.status.in_((PENDING, SENDING)))
        .group_by(message.c.channel)
    )
    return {str(channel): int(count) for channel, count in rows.all()}


async def tried_channels(conn: AsyncConnection, dossier_id: str, kind: str, occurrence: int) -> set[Channel]:
    """The channels this (dossier, message, occurrence) was planned on, whatever became of them."""
    rows = await conn.execute(
        select(message.c.channel).where(
            message.c.dossier_id == dossier_id,
            message.c.kind == kind,
            message.c.occurrence == occurrence,
            message.c.channel.is_not(None),
        )
    )
    return {Channel(value) for value in rows.scalars()}


# --------------------------------------------------------------------------- delivery receipts


def receipt_id(report: Receipt) -> str:
    """One id per distinct report: the same receipt resent by the provider is stored once."""
    text = "|".join(
        (
            report.channel.value,
            report.provider_message_id,
            report.client_reference or "",
            report.status.value,
            report.code or "",
            str(report.reported_at_ms or ""),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def reported_at(report: Receipt) -> datetime | None:
    if report.reported_at_ms is None:
        return None
    return datetime.fromtimestamp(report.reported_at_ms / 1000, UTC)


async def store_receipt(conn: AsyncConnection, report: Receipt, now: datetime) -> str | None:
    """Keep the receipt as received; its id, or None when this very receipt was already kept."""
    rid = receipt_id(report)
    inserted = await conn.execute(
        insert(conn, receipt)
        .values(
            receipt_id=rid,
            channel=report.channel.value,
            provider_message_id=report.provider_message_id[:128],
            client_reference=None if report.client_reference is None else report.client_reference[:64],
            status=report.status.value,
            code=None if report.code is None else report.code[:64],
            reported_at=reported_at(report),
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=[receipt.c.receipt_id])
        .returning(receipt.c.receipt_id)
    )
    return rid if inserted.first() is not None else None


async def message_named_by(
    conn: AsyncConnection, channel: str, provider_message_id: str, client_reference: str | None
) -> Row[Any] | None:
    """The message a receipt names: by the provider's id, else by the reference the adapter sent."""
    m = message.c
    found = (
        await conn.execute(
            select(message).where(m.channel == channel, m.provider_message_id == provider_message_id)
        )
    ).first()
    if found is None and client_reference:
        found = (
            await conn.execute(
                select(message).where(m.channel == channel, m.client_reference == client_reference)
            )
        ).first()
    return found


async def receipts_now_matched(conn: AsyncConnection, limit: int) -> list[tuple[Row[Any], str]]:
    """Receipts kept ahead of their message whose message is now recorded, with its id. A receipt that
    never finds one (a message of another system, or of a dropped database) stays kept and unapplied."""
    r, m = receipt.c, message.c
    found: dict[str, tuple[Row[Any], str]] = {}
    for joined in (
        (m.channel == r.channel) & (m.provider_message_id == r.provider_message_id),
        (m.channel == r.channel) & (m.client_reference == r.client_reference),
    ):
        rows = await conn.execute(
            select(receipt, m.message_id.label("matched_message_id"))
            .join(message, joined)
            .where(r.applied_at.is_(None))
            .order_by(r.received_at)
            .limit(limit)
        )
        for row in rows:
            found.setdefault(row.receipt_id, (row, row.matched_message_id))
    return sorted(found.values(), key=lambda pair: pair[0].received_at)[:limit]


async def message_by_id(conn: AsyncConnection, message_id: str) -> Row[Any] | None:
    return (await conn.execute(select(message).where(message.c.message_id == message_id))).first()


async def set_delivery(
    conn: AsyncConnection,
    message_id: str,
    status: str,
    code: str | None,
    reported_at: datetime | None,
    now: datetime,
) -> None:
    await conn.execute(
        update(message)
        .where(message.c.message_id == message_id)
        .values(delivery=status, delivery_code=code, delivery_reported_at=reported_at, updated_at=now)
    )


async def mark_receipt_applied(conn: AsyncConnection, rid: str, now: datetime) -> None:
    await conn.execute(update(receipt).where(receipt.c.receipt_id == rid).values(applied_at=now))


# --------------------------------------------------------------------------- the sealed contact


async def sealed_contact(conn: AsyncConnection, dossier_id: str, now: datetime) -> Row[Any] | None:
    rows = await conn.execute(
        select(contact).where(contact.c.dossier_id == dossier_id, contact.c.held_until > now)
    )
    return rows.first()


async def keep_contact(
    conn: AsyncConnection,
    dossier_id: str,
    *,
    kid: str,
    wrapped_key: bytes,
    blob: bytes,
    now: datetime,
    until: datetime,
) -> None:
    values = {"kid": kid, "wrapped_key": wrapped_key, "blob": blob, "fetched_at": now, "held_until": until}
    await conn.execute(
        insert(conn, contact)
        .values(dossier_id=dossier_id, **values)
        .on_conflict_do_update(index_elements=[contact.c.dossier_id], set_=values)
    )


async def drop_expired_contacts(conn: AsyncConnection, now: datetime) -> int:
    dropped = await conn.execute(contact.delete().where(contact.c.held_until <= now))
    return int(dropped.rowcount)


def channels_of(value: str | None) -> Iterable[Channel]:
    return [Channel(c) for c in (value or "").split(",") if c]
