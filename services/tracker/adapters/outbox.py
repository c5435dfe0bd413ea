"""The outbox relay: publishes the stage changes the projection committed, then deletes them.

A stage change is written to ``tracker_outbox`` in the same transaction as the projection that caused
it, so it can be neither lost (the projection committed, the process died before publishing) nor
published for a projection that rolled back. The relay takes rows in commit-sequence order, deleting
them in a transaction that commits only after Kafka acknowledged them (acks=all); a failure rolls the
deletion back, and a crash between the acknowledgement and the commit re-publishes them with the same
event id, which subscribers deduplicate. On PostgreSQL a transaction-scoped advisory lock lets
one relay at a time publish, so replicas do not interleave one dossier's changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from operator import itemgetter

from pydantic_core import from_json
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import EncodedEnvelope
from contracts.events import StageChanged
from services.shared.consuming import Backoff, is_transient
from services.shared.kafka import EventPublisher
from services.shared.logs import log_event
from services.tracker.adapters.tables import outbox
from services.tracker.metrics import TrackerMetrics

logger = logging.getLogger(__name__)

STAGE_CHANGED_TYPE, STAGE_CHANGED_VERSION = StageChanged.key()

# "tracker" in ASCII: the key of the advisory lock that elects the publishing relay.
RELAY_LOCK_KEY = 0x74_72_61_63_6B_65_72


_TO_STAGE = '"to_stage":"'


def to_stage_of(payload: str) -> str:
    """The stage a stored stage change enters, for the published-changes metric.

    Found in the compact JSON the projection writes rather than by parsing every payload (parsing was
    a tenth of the relay's CPU, issue 19). In JSON text a quote inside a string is escaped, so the
    pattern can only be the key itself (the envelope has no other "to_stage"); any other layout falls
    back to parsing.
    """
    start = payload.rfind(_TO_STAGE)  # the data come last, and the stage near their end
    if start < 0:
        return str(from_json(payload)["data"]["to_stage"])
    start += len(_TO_STAGE)
    return payload[start : payload.index('"', start)]


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
        self._take = (
            delete(outbox)
            .where(outbox.c.seq.in_(select(outbox.c.seq).order_by(outbox.c.seq).limit(batch)))
            .returning(outbox.c.seq, outbox.c.event_id, outbox.c.dossier_id, outbox.c.payload)
        )

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
            # Taken and deleted in one statement, but the deletion commits only after Kafka acknowledged
            # every row: a failed publication raises, the transaction rolls back, the rows stay for the
            # next round (and are published again with the same event ids).
            rows = list(await conn.execute(self._take))
            if rows:
                rows.sort(key=itemgetter(0))  # RETURNING promises no order; the topic gets seq order
                # The projection wrote each payload (handlers.stage_changed_payload) as the JSON of a
                # valid envelope: publish those bytes as they are.
                await self._publisher.publish_many(
                    [
                        EncodedEnvelope(
                            event_id, STAGE_CHANGED_TYPE, STAGE_CHANGED_VERSION, dossier_id, payload.encode()
                        )
                        for _, event_id, dossier_id, payload in rows
                    ]
                )
                reached = Counter([to_stage_of(row[3]) for row in rows])
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
