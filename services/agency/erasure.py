"""The agency's erasure announcements: ``agency.personal_data_erased`` for each dossier whose vault
records were erased, published (acks=all) in the transaction that erased them (services/shared/
personal_data/erasure.py says why that makes each erasure announced once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.enums import ErasureReason
from contracts.envelope import Envelope
from contracts.events import AgencyPersonalDataErased
from contracts.sources import agency_source
from services.agency.adapters.tables import agency_dossier
from services.shared.kafka import EventPublisher
from services.shared.personal_data.erasure import erasure_event_id
from services.shared.personal_data.vault import Erasure

EVENT_TYPE = AgencyPersonalDataErased.key()[0]
RETENTION_OFFICER = "system:retention"
"""Who erased a record whose purposes ended: the agency service itself (as ``system:closure`` closes)."""


async def _agencies(conn: AsyncConnection, dossier_ids: Sequence[str]) -> dict[str, str]:
    t = agency_dossier
    rows = await conn.execute(
        select(t.c.dossier_id, t.c.agency_code).where(t.c.dossier_id.in_(list(dossier_ids)))
    )
    return {dossier_id: code for dossier_id, code in rows}


class AgencyErasureAnnouncer:
    """Publishes the erasure events of the agency (the job's, and a person's request's with the operator
    who recorded it)."""

    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    async def __call__(
        self, conn: AsyncConnection, erasures: Sequence[Erasure], officer_id: str = RETENTION_OFFICER
    ) -> None:
        agencies = await _agencies(conn, [e.dossier_id for e in erasures])
        envelopes: list[Envelope[Any]] = []
        for e in erasures:
            agency = agencies[e.dossier_id]  # vaulted in the transaction that recorded the dossier
            envelopes.append(
                Envelope.new(
                    AgencyPersonalDataErased(
                        agency_code=agency,
                        officer_id=officer_id,
                        reason=ErasureReason(e.reason),
                        erased_at=e.at,
                        kinds=sorted(e.kinds),
                    ),
                    subject=e.dossier_id,
                    source=agency_source(agency),
                    time=e.at,
                    id=erasure_event_id(EVENT_TYPE, e),
                )
            )
        await self._publisher.publish_many(envelopes)
