"""The outbox relay: publishes the stage changes the projection committed, then deletes them.

A stage change is written to ``tracker_outbox`` in the same transaction as the projection that caused
it, so it can be neither lost (the projection committed, the process died before publishing) nor
published for a projection that rolled back. The relay publishes rows in commit-sequence order and
deletes them only after Kafka acknowledged them (acks=all); a crash in between re-publishes them with
the same event id, which subscribers deduplicate. On PostgreSQL a transaction-scoped advisory lock lets
one relay at a time publish, so replicas do not interleave one dossier's changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

from pydantic_core import from_json
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import EncodedEnvelope
from contracts.events import StageChanged
from services.shared.consuming import Backoff, is_transient
from services.shared.db.sql import among
from services.shared.kafka import EventPublisher
from services.shared.logs import log_event
from services.tracker.adapters.tables import outbox
from services.tracker.metrics import TrackerMetrics

logger = logging.getLogger(__name__)

STAGE_CHANGED_TYPE, STAGE_CHANGED_VERSION = StageChanged.key()

# "tracker" in ASCII: the key of the advisory lock that elects the publishing relay.
RELAY_LOCK_KEY = 0x74_72_61_63_6B_65_72


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        publisher: EventPublisher,
        metrics: TrackerMetrics,
        *,
        batch: int = 500,
        idle_s: float = 0.5,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._metrics = metrics
        self._batch = batch
        self._idle_s = idle_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A transaction just committed stage changes: publish them without waiting for the next poll."""
        self._wake.set()

    async def drain_once(self) -> int:
        """Publish one round of pending stage changes; returns how many were published."""
        async with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql" and not await conn.scalar(
                select(func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY))
            ):
                return 0
            rows = (
                await conn.execute(
                    select(outbox.c.seq, outbox.c.event_id, outbox.c.dossier_id, outbox.c.payload)
                    .order_by(outbox.c.seq)
                    .limit(self._batch)
                )
            ).all()
            if rows:
                # The projection wrote each payload (handlers.stage_changed_payload) as the JSON of a
                # valid envelope: publish those bytes as they are.
                await self._publisher.publish_many(
                    [
                        EncodedEnvelope(
                            row.event_id,
                            STAGE_CHANGED_TYPE,
                            STAGE_CHANGED_VERSION,
                            row.dossier_id,
                            row.payload.encode(),
                        )
                        for row in rows
                    ]
                )
                await conn.execute(delete(outbox).where(among(conn, outbox.c.seq, [row.seq for row in rows])))
                reached = Counter(from_json(row.payload)["data"]["to_stage"] for row in rows)
                for stage, count in reached.items():
                    self._metrics.stage_changes_published.labels(stage).inc(count)
            backlog = await conn.scalar(select(func.count()).select_from(outbox))
        self._metrics.outbox_backlog.set(backlog or 0)
        return len(rows)

    async def run(self) -> None:
        """Publish until cancelled; outages of Kafka or the database are retried with backoff."""
        backoff = Backoff(initial_s=0.2, maximum_s=5.0)
        while True:
            self._wake.clear()
            try:
                published = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    log_event(logger, "outbox_relay_failed", logging.ERROR, error=type(exc).__name__)
                self._metrics.outbox_failures.inc()
                log_event(logger, "outbox_relay_retrying", logging.WARNING, error=type(exc).__name__)
                await backoff.wait()
                continue
            backoff.reset()
            if published >= self._batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._idle_s)
