"""Use cases: apply consumed events to the clocks; raise due-soon and overdue alerts; publish the outbox.

`ClockProjector` is the consumer's applier: it runs inside the BatchProcessor's transaction (together with
the inbox), so clocks, tallies and the inbox commit or roll back as one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.enums import Leg
from contracts.envelope import Envelope, decode, encode
from contracts.events import (
    ClockAlert,
    ClockDueSoon,
    ClockOverdue,
    DeliveryFailed,
    DeliveryFailedV2,
    DossierClosed,
    Event,
    ResultDelivered,
    ResultReturnedToAgency,
    SupplementRequested,
)
from contracts.sources import TURNAROUND_SOURCE
from services.shared.kafka import EventPublisher
from services.shared.logs import log_event
from services.turnaround import domain
from services.turnaround.adapters import repository
from services.turnaround.adapters.repository import AlertRow, TallyKey
from services.turnaround.closures import closure_tally
from services.turnaround.domain import Clock, ClockRules, Facts, Threshold
from services.turnaround.metrics import (
    CLOCK_FINISHED,
    DELIVERY_ATTEMPT,
    DELIVERY_FAILURE,
    JOURNEY,
    JOURNEY_BUCKETS,
    RESULT_RETURNED,
    SUPPLEMENT_BREACH,
    WORKING_DAY_BUCKETS,
    TurnaroundMetrics,
)
from services.turnaround.provinces import UNKNOWN
from services.turnaround.quality import nonconformity_repository
from services.turnaround.quality.breaches import Breach, BreachRules
from services.turnaround.quality.nonconformity_metrics import opened_tally
from services.turnaround.quality.postal_rules import default_postal_rules

logger = logging.getLogger(__name__)

Now = Callable[[], datetime]


class Tallies:
    def __init__(self) -> None:
        self.increments: dict[TallyKey, tuple[int, int]] = defaultdict(lambda: (0, 0))

    def add(self, key: TallyKey, value: int = 0) -> None:
        count, total = self.increments[key]
        self.increments[key] = (count + 1, total + value)


def _journey_known(facts: Facts) -> bool:
    # Counted once both ends are known, not when the delivery arrives: a consumer catching up may apply
    # the delivery (postal topic) before the registration for return that starts the journey (agency topic).
    return facts.delivered_at is not None and (facts.accepted_at or facts.filed_at) is not None


def _capped(value: int, bounds: tuple[int, ...]) -> int:
    # Values beyond the last bucket only matter to +Inf; one row for all of them keeps the table small.
    return min(value, bounds[-1] + 1)


class ClockProjector:
    """Applies postal and agency events to the dossiers' facts, clocks and tallies."""

    def __init__(self, rules: ClockRules, now: Now, breaches: BreachRules | None = None) -> None:
        self._rules = rules
        self._now = now
        self._breaches = breaches or BreachRules(rules, default_postal_rules())

    async def __call__(self, conn: AsyncConnection, events: Sequence[Envelope[Event]]) -> None:
        by_dossier: dict[str, list[Envelope[Event]]] = defaultdict(list)
        for envelope in events:
            if envelope.type.startswith(("postal.", "agency.")):
                by_dossier[envelope.subject].append(envelope)
        if not by_dossier:
            return
        stored_facts = await repository.lock_facts(conn, by_dossier)
        stored_clocks = await repository.load_clocks(conn, by_dossier)
        new_facts: dict[str, Facts] = {}
        changed_facts: dict[str, Facts] = {}
        changed_clocks: list[tuple[str, Clock]] = []
        tallies = Tallies()
        breaches: list[Breach] = []
        for dossier_id, envelopes in by_dossier.items():
            before = stored_facts.get(dossier_id)
            facts = before or Facts()
            for envelope in envelopes:
                journey_before = _journey_known(facts)
                facts = domain.record(facts, envelope)
                breaches += self._breaches.of_event(envelope, facts)
                self._count_event(envelope, tallies)
                self._count_supplement_breaches(envelope, facts, tallies)
                if isinstance(envelope.data, DossierClosed):
                    tallies.add(closure_tally(envelope.data, facts, self._rules))
                if not journey_before and _journey_known(facts):
                    self._count_journey(facts, tallies)
            if before is None:
                new_facts[dossier_id] = facts
            elif facts != before:
                changed_facts[dossier_id] = facts
            for leg, derived in domain.clocks_of(facts, self._rules).items():
                stored = stored_clocks.get((dossier_id, leg))
                kept, just_finished = domain.reconcile(stored, derived, facts)
                if kept != stored:
                    changed_clocks.append((dossier_id, kept))
                if just_finished:
                    self._count_finished(kept, tallies)
                    breaches += self._breaches.of_finished_clock(dossier_id, kept, facts)
                    log_event(
                        logger,
                        "clock_finished",
                        dossier_id=dossier_id,
                        leg=kept.leg.value,
                        timeliness=kept.timeliness.value if kept.timeliness else None,
                        working_days=kept.working_days,
                    )
        now = self._now()
        await repository.save_facts(conn, new_facts, changed_facts, now)
        await repository.upsert_clocks(conn, changed_clocks, now)
        # Opened once per breach (the register's unique key), in this transaction with the inbox.
        for breach in await nonconformity_repository.open_if_absent(conn, breaches, now):
            tallies.add(opened_tally(breach))
            log_event(logger, "nonconformity_opened", dossier_id=breach.dossier_id, kind=breach.kind.value)
        await repository.add_tallies(conn, tallies.increments)

    def _province(self, post_office_code: str) -> str:
        return self._rules.provinces.of_post_office(post_office_code) or UNKNOWN

    def _count_event(self, envelope: Envelope[Event], tallies: Tallies) -> None:
        event = envelope.data
        if isinstance(event, DeliveryFailed | DeliveryFailedV2):
            province = self._province(event.post_office_code)
            tallies.add(TallyKey(DELIVERY_ATTEMPT, province=province, outcome="failed"))
            tallies.add(TallyKey(DELIVERY_FAILURE, province=province, outcome=event.reason.value))
        elif isinstance(event, ResultDelivered):
            tallies.add(
                TallyKey(
                    DELIVERY_ATTEMPT, province=self._province(event.post_office_code), outcome="delivered"
                )
            )
        elif isinstance(event, ResultReturnedToAgency):
            tallies.add(TallyKey(RESULT_RETURNED, province=self._province(event.post_office_code)))

    def _count_supplement_breaches(self, envelope: Envelope[Event], facts: Facts, tallies: Tallies) -> None:
        event = envelope.data
        if not isinstance(event, SupplementRequested) or not event.breach:
            return
        # The agency clock's province: the post office that handed the dossier over, else the agency's.
        provinces = self._rules.provinces
        province = (
            provinces.of_post_office(facts.handover_post_office)
            or provinces.of_agency(event.agency_code)
            or UNKNOWN
        )
        for reason in event.breach_reasons:
            tallies.add(TallyKey(SUPPLEMENT_BREACH, province=province, outcome=reason.value))

    def _count_journey(self, facts: Facts, tallies: Tallies) -> None:
        trip = domain.journey(facts, self._rules)
        if trip is None:
            return
        wd = _capped(trip.working_days, JOURNEY_BUCKETS)
        days = _capped(trip.days, JOURNEY_BUCKETS)
        tallies.add(
            TallyKey(JOURNEY, province=trip.province, outcome="working_days", working_days=wd),
            trip.working_days,
        )
        tallies.add(TallyKey(JOURNEY, province=trip.province, outcome="days", working_days=days), trip.days)

    def _count_finished(self, clock: Clock, tallies: Tallies) -> None:
        if clock.timeliness is None or clock.working_days is None:
            return  # a clock without a due date cannot be classified
        tallies.add(
            TallyKey(
                CLOCK_FINISHED,
                leg=clock.leg.value,
                province=clock.province,
                field_key=clock.field_key,
                route=clock.route,
                outcome=clock.timeliness.value,
                working_days=_capped(clock.working_days, WORKING_DAY_BUCKETS),
            ),
            clock.working_days,
        )


# --------------------------------------------------------------------------- alerts


def alert_envelope(dossier_id: str, clock: Clock, threshold: Threshold, at: datetime) -> Envelope[ClockAlert]:
    assert clock.due_date is not None
    post_office = clock.post_office_code if clock.leg is not Leg.AGENCY_PROCESSING else None
    fields = {"leg": clock.leg, "due_date": clock.due_date, "agency_code": clock.agency_code}
    event: ClockAlert = (
        ClockOverdue(**fields, post_office_code=post_office)
        if threshold is Threshold.OVERDUE
        else ClockDueSoon(**fields, post_office_code=post_office)
    )
    return Envelope.new(
        event,
        subject=dossier_id,
        source=TURNAROUND_SOURCE,
        time=at,
        id=domain.alert_event_id(dossier_id, clock.leg, clock.generation, threshold),
    )


class AlertRaiser:
    """One scheduler tick: raise every due-soon and overdue alert that is due, once, into the outbox."""

    def __init__(
        self, engine: AsyncEngine, rules: ClockRules, now: Now, metrics: TurnaroundMetrics, batch: int = 500
    ) -> None:
        self._engine = engine
        self._rules = rules
        self._now = now
        self._metrics = metrics
        self._batch = batch

    async def tick(self) -> int:
        """Returns how many alerts this replica raised."""
        raised_total = 0
        while True:
            now = self._now()
            today = domain.vn_day(now)
            horizon = domain.alert_horizon(today, self._rules.calendar)
            async with self._engine.begin() as conn:
                candidates = await repository.alert_candidates(conn, today, horizon, self._batch)
                alerts: list[tuple[AlertRow, Envelope[ClockAlert]]] = []
                for candidate in candidates:
                    threshold = domain.threshold_reached(candidate.clock, today, self._rules.calendar)
                    if threshold is None:
                        continue
                    envelope = alert_envelope(candidate.dossier_id, candidate.clock, threshold, now)
                    row = AlertRow(
                        candidate.dossier_id,
                        candidate.clock.leg,
                        candidate.clock.generation,
                        threshold,
                        str(envelope.id),
                        envelope.data.due_date,
                    )
                    alerts.append((row, envelope))
                raised = await repository.insert_alerts_if_absent(conn, [row for row, _ in alerts], now)
                raised_ids = {row.event_id for row in raised}
                await repository.add_to_outbox(
                    conn,
                    [(str(env.id), encode(env).decode()) for _, env in alerts if str(env.id) in raised_ids],
                    now,
                )
            for row in raised:
                self._metrics.alerts.labels(row.leg.value, row.threshold.value).inc()
                log_event(
                    logger,
                    "clock_alert_raised",
                    dossier_id=row.dossier_id,
                    leg=row.leg.value,
                    threshold=row.threshold.value,
                    generation=row.generation,
                )
            raised_total += len(raised)
            # A full page may hide more candidates; a page raising nothing new means the rest lost races.
            if len(candidates) < self._batch or not raised:
                return raised_total


class OutboxRelay:
    """Publishes pending alerts and deletes them once Kafka acknowledged; the deterministic event ids make a
    publication repeated after a crash harmless to consumers."""

    def __init__(
        self, engine: AsyncEngine, publisher: EventPublisher, metrics: TurnaroundMetrics, batch: int = 500
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._metrics = metrics
        self._batch = batch

    async def publish_pending(self) -> int:
        published = 0
        while True:
            async with self._engine.begin() as conn:
                rows = await repository.claim_outbox(conn, self._batch)
                if not rows:
                    return published
                await self._publisher.publish_many([decode(payload.encode()) for _, payload in rows])
                await repository.delete_from_outbox(conn, [event_id for event_id, _ in rows])
            self._metrics.published.inc(len(rows))
            published += len(rows)
