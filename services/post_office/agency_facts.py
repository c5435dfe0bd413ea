"""What the post office learns from agency.events.v1: when a dossier ends at the agency with no result
for the post to carry back, so the purposes of the contact it holds end (the erasure job then erases it).

- withdrawn, closed: nothing comes back by post; every purpose ends (``notifications`` after its
  retention: a last message may still be sent).
- result ready, refused: the post carries the result (or the refusal, ../shared/domain.md: "the refusal
  goes back like a result") back only when it holds the contact for ``result_delivery`` (form
  SEND_AND_RECEIVE); then the post's own delivery or return scan ends the purposes, as before. Otherwise
  (form SEND_DOSSIER: the citizen collects it in person) the fact ends them.

The vault keeps a purpose's first end, so a replayed or later fact never moves it. A dossier the post
office holds nothing for (most agency events) costs one primary-key read and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Envelope
from contracts.events import DossierClosed, DossierRefused, DossierWithdrawn, Event, ResultReady
from services.post_office.handlers import APPLICANT
from services.shared.personal_data.purposes import Purpose
from services.shared.personal_data.retention import Retention
from services.shared.personal_data.vault import Vault


class AgencyFacts:
    """Applier of agency.events.v1 (in the consumer's transaction, with its inbox)."""

    def __init__(self, vault: Vault, retention: Retention) -> None:
        self._vault = vault
        self._retention = retention

    async def __call__(self, conn: AsyncConnection, events: Sequence[Envelope[Event]]) -> None:
        for envelope in events:
            data = envelope.data
            if isinstance(data, ResultReady | DossierRefused):
                if await self._carried_back(conn, envelope.subject):
                    continue
            elif not isinstance(data, DossierWithdrawn | DossierClosed):
                continue
            ends = self._retention.finished_without_delivery(envelope.time)
            await self._vault.end_purposes(conn, envelope.subject, ends.ends, adding=ends.adding)

    async def _carried_back(self, conn: AsyncConnection, dossier_id: str) -> bool:
        """Whether the post will carry this dossier's result back: its contact is kept for it."""
        return any(
            h.kind == APPLICANT and Purpose.RESULT_DELIVERY in h.purposes
            for h in await self._vault.holding(conn, dossier_id)
        )
