"""The use cases: learn from the consumed events (one transaction per batch, with the consumer's inbox),
plan each message once under its idempotency key, and dispatch the planned messages through the channels.

Exactly once per (dossier, message, channel): the message row, unique by its key, is committed before any
provider is called; an attempt claims the row (another replica's claim wins), and its outcome is stored
only if the row is still that attempt's. A crash between the provider's answer and the stored outcome
leaves a claimed row whose lease runs out; the next attempt sends with the same idempotency key, which a
provider that supports one answers as a duplicate (counted as sent). SMTP has no such key: the e-mail
carries a Message-ID derived from it, so a mail client shows the rare second copy as the same message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.enums import PersonalDataHolder
from contracts.envelope import Envelope
from contracts.events import Event
from services.notifications.adapters import repository as repo
from services.notifications.backoff import doubling_backoff_s
from services.notifications.contacts import (
    Contact,
    ContactRefusedError,
    ContactStore,
    ContactUnavailableError,
)
from services.notifications.deliveries import Deliveries
from services.notifications.deliveries import fall_back as _fall_back
from services.notifications.domain import (
    DESK_KINDS,
    Kind,
    LateRule,
    Suppression,
    late_message_helps,
    message_key,
    release_at,
)
from services.notifications.facts import ContactErased, Intake, MessageFact, StageSeen, learned_from
from services.notifications.fallback import first_choice
from services.notifications.metrics import NotificationMetrics
from services.notifications.ports import Channel, Message, Sender, SendOutcome, SendResult
from services.notifications.templates import TemplateBook
from services.shared.logs import log_event

logger = logging.getLogger(__name__)

Now = Callable[[], datetime]


class Learner:
    """The consumer's applier: every event of a batch, in the batch's transaction."""

    def __init__(self, rule: LateRule, metrics: NotificationMetrics, now: Now) -> None:
        self._rule = rule
        self._metrics = metrics
        self._now = now

    async def __call__(self, conn: AsyncConnection, events: Sequence[Envelope[Event]]) -> None:
        now = self._now()
        learned = [item for envelope in events for item in learned_from(envelope)]
        # Locked in one order: two batches touching the same dossiers never deadlock.
        dossiers = sorted({item.dossier_id for item in learned})
        for dossier_id in dossiers:
            await repo.lock_dossier(conn, dossier_id, now)
        for item in learned:
            match item:
                case Intake():
                    await repo.record_intake(conn, item, now)
                case MessageFact():
                    await repo.record_fact(conn, item, now)
                case StageSeen():
                    await repo.record_stage(conn, item, now)
                case ContactErased():
                    for row in await repo.erase_dossier(conn, item.dossier_id, now):
                        self._metrics.count(row.channel, row.kind, "suppressed", Suppression.ERASED)
        for dossier_id in dossiers:
            await self._plan(conn, dossier_id, now)

    async def _plan(self, conn: AsyncConnection, dossier_id: str, now: datetime) -> None:
        """Every fact of the dossier whose stage was announced (or that awaits none) becomes its
        messages, once; a fact waits while its stage, or the dossier's intake, is unknown."""
        dossier = await repo.dossier_row(conn, dossier_id)
        assert dossier is not None  # locked, hence created, by the caller
        told: set[str] | None = None
        for fact in await repo.unplanned_facts(conn, dossier_id):
            kind = Kind(fact.kind)
            parameters = dict(fact.parameters) | {"dossier_ref": dossier.reference or dossier_id}
            if kind in DESK_KINDS:
                await self._add(conn, dossier_id, kind, fact.occurrence, Channel.EMAIL, None, parameters, now)
                await repo.mark_planned(conn, fact.event_id)
                continue
            if dossier.reference is None:
                continue
            late = False
            if fact.stage is not None:
                announced = await repo.stage_of(conn, fact.event_id, fact.stage)
                if announced is None:
                    continue
                late = announced.late
            if told is None:
                told = await repo.told_kinds(conn, dossier_id)
            reason: Suppression | None = None
            if dossier.erased_at is not None:
                reason = Suppression.ERASED
            elif late and not late_message_helps(kind, frozenset(Kind(k) for k in told), self._rule):
                reason = Suppression.LATE
            first = first_choice(set(repo.channels_of(dossier.channels)))
            channels = [] if first is None else [first]
            if not channels:
                await self._add(
                    conn, dossier_id, kind, fact.occurrence, None, Suppression.NO_CONSENT, parameters, now
                )
            for channel in channels:
                await self._add(conn, dossier_id, kind, fact.occurrence, channel, reason, parameters, now)
            if reason is None and channels:
                told.add(kind.value)
            await repo.mark_planned(conn, fact.event_id)

    async def _add(
        self,
        conn: AsyncConnection,
        dossier_id: str,
        kind: Kind,
        occurrence: int,
        channel: Channel | None,
        reason: Suppression | None,
        parameters: dict[str, str],
        now: datetime,
    ) -> None:
        added = await repo.add_message(
            conn,
            key=message_key(dossier_id, kind, occurrence, channel),
            dossier_id=dossier_id,
            kind=kind.value,
            occurrence=occurrence,
            channel=channel,
            status=repo.PENDING if reason is None else repo.SUPPRESSED,
            reason=None if reason is None else reason.value,
            parameters=parameters,
            now=now,
        )
        if added and reason is not None:
            self._metrics.count(None if channel is None else channel.value, kind.value, "suppressed", reason)


class Dispatcher:
    """Sends the due messages: quiet hours, the contact, the template, the channel, the outcome."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        book: TemplateBook,
        senders: Mapping[Channel, Sender],
        contacts: ContactStore,
        deliveries: Deliveries,
        desk_emails: Mapping[str, str],
        metrics: NotificationMetrics,
        now: Now,
        max_attempts: int = 5,
        backoff_base_s: float = 30.0,
        backoff_cap_s: float = 3600.0,
        lease_s: float = 120.0,
        send_timeout_s: float = 30.0,
        batch_size: int = 100,
    ) -> None:
        self._engine = engine
        self._book = book
        self._senders = senders
        self._contacts = contacts
        self._deliveries = deliveries
        self._desk_emails = desk_emails
        self._metrics = metrics
        self._now = now
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._lease = timedelta(seconds=lease_s)
        self._send_timeout_s = send_timeout_s
        self._batch_size = batch_size

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop goes on: the database or a provider may come back
                log_event(logger, "notifications_dispatch_failed", logging.WARNING, error=type(exc).__name__)
            await asyncio.sleep(interval_s)

    async def dispatch_once(self) -> int:
        """One pass over the due messages; returns how many attempts were made."""
        now = self._now()
        async with self._engine.begin() as conn:
            due = await repo.due_messages(conn, now, self._batch_size)
            await repo.drop_expired_contacts(conn, now)
        await self._deliveries.sweep(self._batch_size)
        attempts = 0
        for row in due:
            release = release_at(Channel(row.channel), now)
            if release > now:
                # Quiet hours: queued until 07:00, not dropped, no attempt spent.
                async with self._engine.begin() as conn:
                    await repo.postpone(conn, row.message_id, release, now)
                continue
            async with self._engine.begin() as conn:
                claimed = await repo.claim(conn, row.message_id, now, now + self._lease)
            if claimed is None:
                continue
            attempts += 1
            if claimed.attempts > self._max_attempts:
                # Earlier attempts died without an outcome (the process killed mid-send, each time):
                # the budget is spent all the same; a poison message must not loop forever.
                await self._give_up(claimed, "attempts_exhausted", now)
                continue
            try:
                await self._attempt(claimed, now)
            except Exception as exc:  # a bug or an outage mid-attempt: retried within the budget
                await self._retry_or_give_up(claimed, f"error:{type(exc).__name__}", now)
        async with self._engine.connect() as conn:
            depth = await repo.queue_depth(conn)
        for channel in Channel:
            self._metrics.queue_depth.labels(channel.value).set(depth.get(channel.value, 0))
        return attempts

    async def _attempt(self, claimed: Any, now: datetime) -> None:
        kind, channel = Kind(claimed.kind), Channel(claimed.channel)
        async with self._engine.connect() as conn:
            dossier = await repo.dossier_row(conn, claimed.dossier_id)
        if dossier is not None and dossier.erased_at is not None and kind not in DESK_KINDS:
            await self._suppress(claimed, Suppression.ERASED, now)
            return
        if kind in DESK_KINDS:
            to = self._desk_emails.get(claimed.parameters.get("agency", ""))
        else:
            assert dossier is not None and dossier.owner is not None and dossier.reference is not None
            try:
                contact = await self._contacts.contact(
                    claimed.dossier_id, PersonalDataHolder(dossier.owner), dossier.reference, now
                )
            except ContactUnavailableError as exc:
                await self._retry_or_give_up(claimed, f"contact_unavailable:{exc.reason}", now)
                return
            except ContactRefusedError as exc:
                await self._fail(claimed, f"contact_refused:{exc.reason}", now)
                return
            if not isinstance(contact, Contact):  # the owner answered: erased
                async with self._engine.begin() as conn:
                    await repo.lock_dossier(conn, claimed.dossier_id, now)
                    for row in await repo.erase_dossier(conn, claimed.dossier_id, now):
                        self._metrics.count(row.channel, row.kind, "suppressed", Suppression.ERASED)
                await self._suppress(claimed, Suppression.ERASED, now)
                return
            to = contact.email if channel is Channel.EMAIL else contact.phone
        if not to:
            await self._suppress(claimed, Suppression.NO_ADDRESS, now)
            return
        template = self._book.get(kind, channel)
        sender = self._senders.get(channel)
        if template is None or sender is None:
            # Neither comes back on a retry: the channel failed for good, the next one may help.
            await self._fail(
                claimed, "no_template" if template is None else "channel_not_configured", now, fall_back=True
            )
            return
        rendered = template.render(claimed.parameters)
        message = Message(
            idempotency_key=claimed.idempotency_key,
            channel=channel,
            to=to,
            template=template.id,
            body=rendered.body,
            subject=rendered.subject,
            parameters=dict(claimed.parameters),
        )
        result = await self._send(sender, message)
        await self._record(claimed, result, now)

    async def _send(self, sender: Sender, message: Message) -> SendResult:
        started = time.perf_counter()
        try:
            return await asyncio.wait_for(sender.send(message), self._send_timeout_s)
        except TimeoutError:
            return SendResult(SendOutcome.TEMPORARY_FAILURE, detail="timeout")
        except Exception as exc:  # an adapter's bug must not lose the message: retried, then dead-lettered
            return SendResult(SendOutcome.TEMPORARY_FAILURE, detail=type(exc).__name__)
        finally:
            self._metrics.provider_latency.labels(message.channel.value).observe(
                time.perf_counter() - started
            )

    async def _record(self, claimed: Any, result: SendResult, now: datetime) -> None:
        if result.outcome in (SendOutcome.SENT, SendOutcome.DUPLICATE):
            async with self._engine.begin() as conn:
                done = await repo.finish(
                    conn,
                    claimed,
                    status=repo.SENT,
                    now=now,
                    reason=None if result.outcome is SendOutcome.SENT else "duplicate",
                    provider_message_id=result.provider_message_id,
                    provider_code=result.code,
                )
            if done:
                self._metrics.count(claimed.channel, claimed.kind, "sent")
                log_event(logger, "notification_sent", channel=claimed.channel, template=claimed.kind)
            return
        reason = (result.code or result.detail or result.outcome.value)[:64]
        if result.outcome is SendOutcome.TEMPORARY_FAILURE:
            await self._retry_or_give_up(claimed, reason, now)
        else:
            await self._fail(claimed, reason, now, provider_code=result.code, fall_back=True)

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=doubling_backoff_s(self._backoff_base_s, self._backoff_cap_s, attempts))

    async def _retry_or_give_up(self, claimed: Any, reason: str, now: datetime) -> None:
        async with self._engine.begin() as conn:
            if claimed.attempts < self._max_attempts:
                done = await repo.finish(
                    conn,
                    claimed,
                    status=repo.PENDING,
                    now=now,
                    reason=reason[:64],
                    next_attempt_at=now + self.backoff(claimed.attempts),
                )
                outcome = "retried"
            else:
                done = await self._dead(conn, claimed, reason, now)
                outcome = "dead"
        if done:
            self._metrics.count(claimed.channel, claimed.kind, outcome)
            log_event(
                logger,
                "notification_dead_lettered" if outcome == "dead" else "notification_retry_scheduled",
                logging.WARNING,
                channel=claimed.channel,
                template=claimed.kind,
                attempts=claimed.attempts,
                reason=reason,
            )

    async def _dead(self, conn: AsyncConnection, claimed: Any, reason: str, now: datetime) -> bool:
        done = await repo.finish(conn, claimed, status=repo.DEAD, now=now, reason=reason[:64])
        if done:
            await repo.add_dead_letter(conn, claimed, reason, now)
        return done

    async def _give_up(self, claimed: Any, reason: str, now: datetime) -> None:
        async with self._engine.begin() as conn:
            done = await self._dead(conn, claimed, reason, now)
        if done:
            self._metrics.count(claimed.channel, claimed.kind, "dead")
            log_event(
                logger,
                "notification_dead_lettered",
                logging.WARNING,
                channel=claimed.channel,
                template=claimed.kind,
                attempts=claimed.attempts,
                reason=reason,
            )

    async def _fail(
        self,
        claimed: Any,
        reason: str,
        now: datetime,
        provider_code: str | None = None,
        fall_back: bool = False,
    ) -> None:
        """A permanent failure; with ``fall_back``, a failure of the channel itself (not of the dossier's
        contact), so the message is planned once more on the next consented channel, in the same
        transaction."""
        fallen: Channel | None = None
        async with self._engine.begin() as conn:
            done = await repo.finish(
                conn, claimed, status=repo.FAILED, now=now, reason=reason[:64], provider_code=provider_code
            )
            if done and fall_back:
                fallen = await _fall_back(conn, claimed, SendOutcome.PERMANENT_FAILURE, now)
        if done:
            self._metrics.count(claimed.channel, claimed.kind, "failed")
            if fallen is not None:
                self._metrics.fallbacks.labels(claimed.channel, fallen.value).inc()
            log_event(
                logger,
                "notification_failed",
                logging.WARNING,
                channel=claimed.channel,
                template=claimed.kind,
                reason=reason,
                fallback=None if fallen is None else fallen.value,
            )

    async def _suppress(self, claimed: Any, reason: Suppression, now: datetime) -> None:
        async with self._engine.begin() as conn:
            done = await repo.finish(conn, claimed, status=repo.SUPPRESSED, now=now, reason=reason.value)
        if done:
            self._metrics.count(claimed.channel, claimed.kind, "suppressed", reason)
