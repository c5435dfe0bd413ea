"""The post office's erasure announcements: ``postal.personal_data_erased`` for each dossier whose vault
records were erased, published (acks=all) in the transaction that erased them (services/shared/
personal_data/erasure.py says why that makes each erasure announced once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.enums import ErasureReason
from contracts.envelope import Envelope
from contracts.events import PersonalDataErased
from contracts.sources import post_office_source
from services.post_office.adapters.tables import post_office_item
from services.shared.kafka import EventPublisher
from services.shared.personal_data.erasure import erasure_event_id
from services.shared.personal_data.vault import Erasure

EVENT_TYPE = PersonalDataErased.key()[0]


async def _post_offices(conn: AsyncConnection, dossier_ids: Sequence[str]) -> dict[str, str]:
    """The post office that accepted (or picked up the result of) each dossier: the events' source."""
    t = post_office_item
    rows = await conn.execute(
        select(t.c.dossier_id, t.c.post_office_code)
        .where(t.c.dossier_id.in_(list(dossier_ids)))
        .order_by(t.c.dossier_id, t.c.recorded_at)
    )
    found: dict[str, str] = {}
    for dossier_id, code in rows:
        found.setdefault(dossier_id, code)
    return found


def erasure_envelopes(
    erasures: Sequence[Erasure], offices: dict[str, str], fallback: str
) -> list[Envelope[Any]]:
    return [
        Envelope.new(
            PersonalDataErased(reason=ErasureReason(e.reason), erased_at=e.at, kinds=sorted(e.kinds)),
            subject=e.dossier_id,
            source=post_office_source(offices.get(e.dossier_id, fallback)),
            time=e.at,
            id=erasure_event_id(EVENT_TYPE, e),
        )
        for e in erasures
    ]


class PostalErasureAnnouncer:
    """Publishes the erasure events of the post office (the job's and the requests')."""

    def __init__(self, publisher: EventPublisher, *, fallback_office: str = "000000") -> None:
        self._publisher = publisher
        self._fallback = fallback_office

    async def __call__(
        self, conn: AsyncConnection, erasures: Sequence[Erasure], officer_id: str = ""
    ) -> None:
        """``officer_id`` is the agency's field; a postal event names only the post office."""
        offices = await _post_offices(conn, [e.dossier_id for e in erasures])
        await self._publisher.publish_many(erasure_envelopes(erasures, offices, self._fallback))
