"""Erasure of vault records, announced: the retention job of each owning service, and the id of the
erasure event both it and a person's erasure request publish.

Exactly once across replicas and restarts, as the agency's closure job: the records are claimed with
their rows locked (``FOR UPDATE SKIP LOCKED``: a replica skips what another holds), erased in the
transaction, and the erasure event published (acks=all) before that transaction commits, with an id
derived from what was erased. A failed publication rolls the erasure back (the next run tries again); a
crash between Kafka's acknowledgement and the commit erases and publishes the same id again, which
consumers deduplicate. (The post office and the agency have no outbox table; this is their one way to
keep a record and its event together.)
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.enums import ErasureReason
from services.shared.logs import log_event
from services.shared.personal_data.vault import Erasure, Vault

logger = logging.getLogger(__name__)

ERASURE_NAMESPACE = uuid.UUID("5d7c3f0e-93c4-4a57-9d0b-5b0f1c3e2a71")

Announce = Callable[[AsyncConnection, Sequence[Erasure]], Awaitable[None]]
"""Publish the erasure events of these erasures (acks=all), inside the caller's transaction."""


def erasure_event_id(event_type: str, erasure: Erasure) -> uuid.UUID:
    """One id per erasure: a republication after a crash carries the same id."""
    kinds = ",".join(sorted(erasure.kinds))
    return uuid.uuid5(ERASURE_NAMESPACE, f"{event_type}/{erasure.dossier_id}/{erasure.reason}/{kinds}")


class ErasureJob:
    """Every ``interval_s``, in every replica: erase the records whose every purpose has ended."""

    def __init__(
        self,
        engine: AsyncEngine,
        vault: Vault,
        announce: Announce,
        clock: Callable[[], datetime],
        *,
        interval_s: float,
        batch: int = 100,
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._announce = announce
        self._clock = clock
        self._interval_s = interval_s
        self._batch = batch

    async def erase_due(self, now: datetime | None = None) -> list[Erasure]:
        """Erase what is due at ``now`` (the clock's time), batch by batch; the erasures this replica made."""
        done: list[Erasure] = []
        while True:
            async with self._engine.begin() as conn:
                erased = await self._vault.erase_expired(
                    conn, now or self._clock(), reason=ErasureReason.RETENTION.value, batch=self._batch
                )
                if erased:
                    await self._announce(conn, erased)
            for erasure in erased:
                log_event(
                    logger,
                    "personal_data_erased",
                    dossier_id=erasure.dossier_id,
                    records=len(erasure.kinds),
                    reason=erasure.reason,
                )
            done.extend(erased)
            if sum(len(e.kinds) for e in erased) < self._batch:
                return done

    async def run_once(self) -> int:
        """One run; how many dossiers' records this replica erased (0 after a failure, retried next run)."""
        try:
            return len(await self.erase_due())
        except Exception as exc:  # the broker or the database is away: nothing erased, the next run retries
            log_event(logger, "personal_data_erasure_failed", logging.WARNING, error=type(exc).__name__)
            return 0

    async def run(self) -> None:
        while True:
            # An interval first: a replica that starts does not add its run to the start's work.
            await asyncio.sleep(self._interval_s)
            await self.run_once()
