"""What happens after a provider took a message: its delivery receipts, and the one fallback to another
channel when a channel failed for good (at sending, or reported later by a receipt).

A receipt is kept as received (its id is a digest of its content, so a resend is kept once) in the same
transaction that applies it to its message. A receipt that overtakes the record of its send is kept
unapplied, and the dispatcher's next pass applies it once the message is recorded (``sweep``): neither
the receipt's transaction nor the send's has to see the other's work, so no interleaving loses one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.notifications.adapters import repository as repo
from services.notifications.domain import DESK_KINDS, Kind, message_key, receipt_moves
from services.notifications.fallback import Failure, fallback_channel
from services.notifications.metrics import NotificationMetrics
from services.notifications.ports import Channel, Receipt, ReceiptStatus
from services.notifications.receipts.router import ReceiptApplied

Now = Callable[[], datetime]


async def fall_back(conn: AsyncConnection, failed: Any, failure: Failure, now: datetime) -> Channel | None:
    """Plan the failed citizen message once more on the next consented, untried channel (the rule:
    fallback.py); the channel it was planned on, or None. Planned under the message's idempotency key
    for that channel, so the send-time failure and a later receipt never plan it twice."""
    if failed.channel is None or Kind(failed.kind) in DESK_KINDS:
        return None
    dossier = await repo.dossier_row(conn, failed.dossier_id)
    if dossier is None or dossier.erased_at is not None:
        return None
    tried = await repo.tried_channels(conn, failed.dossier_id, failed.kind, failed.occurrence)
    channel = fallback_channel(
        Channel(failed.channel), failure, set(repo.channels_of(dossier.channels)), tried
    )
    if channel is None:
        return None
    added = await repo.add_message(
        conn,
        key=message_key(failed.dossier_id, Kind(failed.kind), failed.occurrence, channel),
        dossier_id=failed.dossier_id,
        kind=failed.kind,
        occurrence=failed.occurrence,
        channel=channel,
        status=repo.PENDING,
        reason=None,
        parameters=dict(failed.parameters),
        now=now,
        fallback_from=Channel(failed.channel),
    )
    return channel if added else None


class Deliveries:
    """The receipts' use case: the ``apply`` the receipt endpoints call, and the dispatcher's sweep."""

    def __init__(self, engine: AsyncEngine, metrics: NotificationMetrics, now: Now) -> None:
        self._engine = engine
        self._metrics = metrics
        self._now = now

    async def apply(self, report: Receipt) -> ReceiptApplied:
        now = self._now()
        fallen: list[tuple[str, Channel]] = []
        async with self._engine.begin() as conn:
            rid = await repo.store_receipt(conn, report, now)
            if rid is None:
                return ReceiptApplied.DUPLICATE
            target = await repo.message_named_by(
                conn, report.channel.value, report.provider_message_id, report.client_reference
            )
            if target is None:
                applied = ReceiptApplied.STORED_AHEAD
            else:
                moved = await self._deliver(
                    conn, target.message_id, report.status, report.code, repo.reported_at(report), now, fallen
                )
                await repo.mark_receipt_applied(conn, rid, now)
                applied = ReceiptApplied.APPLIED if moved else ReceiptApplied.DUPLICATE
        self._metrics.receipts.labels(report.channel.value, report.status.value).inc()
        self._count(fallen)
        return applied

    async def sweep(self, limit: int = 100) -> int:
        """Apply the receipts kept ahead whose message is now recorded; how many were applied."""
        now = self._now()
        fallen: list[tuple[str, Channel]] = []
        async with self._engine.begin() as conn:
            matched = await repo.receipts_now_matched(conn, limit)
            for kept, message_id in matched:
                await self._deliver(
                    conn, message_id, ReceiptStatus(kept.status), kept.code, kept.reported_at, now, fallen
                )
                await repo.mark_receipt_applied(conn, kept.receipt_id, now)
        self._count(fallen)
        return len(matched)

    async def _deliver(
        self,
        conn: AsyncConnection,
        message_id: str,
        status: ReceiptStatus,
        code: str | None,
        reported_at: datetime | None,
        now: datetime,
        fallen: list[tuple[str, Channel]],
    ) -> bool:
        target = await repo.message_by_id(conn, message_id)
        assert target is not None  # messages are never deleted
        await repo.lock_dossier(conn, target.dossier_id, now)
        target = await repo.message_by_id(conn, message_id)  # as it is under the lock
        assert target is not None
        if not receipt_moves(target.delivery):
            return False
        await repo.set_delivery(conn, message_id, status.value, code, reported_at, now)
        if status is ReceiptStatus.PERMANENT_FAILURE:
            channel = await fall_back(conn, target, status, now)
            if channel is not None:
                fallen.append((target.channel, channel))
        return True

    def _count(self, fallen: list[tuple[str, Channel]]) -> None:
        for failed, channel in fallen:
            self._metrics.fallbacks.labels(failed, channel.value).inc()
