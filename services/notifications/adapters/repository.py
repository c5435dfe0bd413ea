"""The notifications store: every statement on the service's tables, on a connection the caller holds (one
transaction per consumed batch or per message step). PostgreSQL: ``INSERT … ON CONFLICT`` and
``FOR UPDATE`` carry the exactly-once guarantees."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifications.adapters.tables import contact, dead_letter, dossier, fact, message, stage
from services.notifications.facts import Intake, MessageFact, StageSeen
from services.notifications.ports import Channel

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


async def lock_dossier(conn: AsyncConnection, dossier_id: str, now: datetime) -> None:
    """Create the dossier's row if needed and lock it until the transaction ends."""
    await conn.execute(insert(dossier).values(dossier_id=dossier_id, updated_at=now).on_conflict_do_nothing())
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
            updated_at=now,
        )
    )


async def record_fact(conn: AsyncConnection, learned: MessageFact, now: datetime) -> None:
    await conn.execute(
        insert(fact)
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
        insert(stage)
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
) -> bool:
    """Insert the message under its idempotency key; False when the key was already there."""
    inserted = await conn.execute(
        insert(message)
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
        insert(dead_letter)
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
        insert(contact)
        .values(dossier_id=dossier_id, **values)
        .on_conflict_do_update(index_elements=[contact.c.dossier_id], set_=values)
    )


async def drop_expired_contacts(conn: AsyncConnection, now: datetime) -> int:
    dropped = await conn.execute(contact.delete().where(contact.c.held_until <= now))
    return int(dropped.rowcount)


def channels_of(value: str | None) -> Iterable[Channel]:
    return [Channel(c) for c in (value or "").split(",") if c]
