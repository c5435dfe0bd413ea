"""The staff's read of a dossier's messages: who may read it (the dossier's agency and accepting post
office) and what became of each message, oldest first. It selects only the columns the staff are shown:
never the parameters (dates, codes and free text the templates are rendered with), the provider's or our
own references, nor anything of the sealed contact."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifications.adapters.tables import dossier, message

SHOWN = (
    message.c.message_id,
    message.c.kind,
    message.c.occurrence,
    message.c.channel,
    message.c.status,
    message.c.reason,
    message.c.attempts,
    message.c.created_at,
    message.c.sent_at,
    message.c.provider_code,
    message.c.delivery,
    message.c.delivery_code,
    message.c.delivery_reported_at,
    message.c.fallback_from,
)


@dataclass(frozen=True)
class History:
    agency_code: str | None
    post_office_code: str | None
    """The accepting post office; none for a dossier registered at the agency."""
    messages: Sequence[Any]


async def history_of(conn: AsyncConnection, dossier_id: str) -> History | None:
    """The dossier's messages, oldest first; None when the service never heard of the dossier."""
    d = dossier.c
    owner = (
        await conn.execute(select(d.agency_code, d.post_office_code).where(d.dossier_id == dossier_id))
    ).first()
    if owner is None:
        return None
    rows = await conn.execute(
        select(*SHOWN)
        .where(message.c.dossier_id == dossier_id)
        # A fallback is planned in the very step its first choice failed in, so it can carry the same
        # time: it still comes after it. Other ties are broken by the message id, the same on every read.
        .order_by(message.c.created_at, message.c.fallback_from.is_not(None), message.c.message_id)
    )
    return History(owner.agency_code, owner.post_office_code, rows.all())
