"""Use cases: an officer's report, a registration for return, a look at a record, and the consumers' work
(learning dossiers from the post, taking in the reports agency systems publish directly).

An officer's report is decided with the dossier's row locked, published, and recorded only once Kafka
has acknowledged it: a BrokerUnavailableError rolls everything back (the API answers 503) and the retry
derives the same event id, so consumers deduplicate a publication that got through after all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.enums import PersonalDataHolder
from contracts.envelope import Envelope
from contracts.events import (
    AgencyEvent,
    DossierAccepted,
    DossierAcceptedV2,
    DossierClosed,
    DossierHandedToAgency,
    DossierRegisteredForReturn,
    DossierWithdrawn,
    Event,
    ResultDelivered,
    ResultReturnedToAgency,
)
from contracts.sources import agency_source
from contracts.values import dossier_id_for_agency_code
from services.agency import commands as cmd
from services.agency import domain
from services.agency.adapters.repository import Dossiers
from services.agency.domain import Actor, Dossier, DossierRef
from services.agency.metrics import AgencyMetrics
from services.agency.personal_data import registration_records
from services.agency.policy import Policy
from services.agency.rejections import Reason, ReportRejectedError
from services.shared.kafka import EventPublisher
from services.shared.logs import log_event
from services.shared.personal_data.phone_check import PhoneDigest
from services.shared.personal_data.retention import DEFAULT_RETENTION, Retention
from services.shared.personal_data.upcast import upcast
from services.shared.personal_data.vault import Sealing, Vault

logger = logging.getLogger(__name__)

HTTP = "http"
INTAKE = "intake"
CLOSURE = "closure"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Recorded:
    """A report published and recorded: its envelope and the dossier's record after it."""

    envelope: Envelope[AgencyEvent]
    dossier: Dossier


class AgencyDesk:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        publisher: EventPublisher,
        policy: Policy,
        metrics: AgencyMetrics,
        vault: Vault,
        phone_check: PhoneDigest,
        clock: Callable[[], datetime] = utc_now,
        retention: Retention = DEFAULT_RETENTION,
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._retention = retention
        self._phone_check = phone_check
        self._publisher = publisher
        self._policy = policy
        self._metrics = metrics
        self._clock = clock

    # ----------------------------------------------------------------------- the officers' API

    async def report(self, actor: Actor, ref: DossierRef, report: cmd.Report) -> Recorded:
        """Decide, publish and record an officer's report on a known dossier."""
        now = self._clock()
        try:
            async with self._engine.begin() as conn:
                dossiers = Dossiers(conn)
                dossier = await self._find(dossiers, ref, lock=True)
                event = domain.compose(dossier, report, actor, now, self._policy)
                at = domain.occurrence_time(report, event, now)
                return await self._record(dossiers, dossier, dossier.dossier_id, event, actor, at, now)
        except ReportRejectedError as rejected:
            self._rejected(rejected, HTTP, ref_kind="item" if ref.item_id else "code")
            raise
        except IntegrityError:
            # Another dossier took the same agency dossier code between our check and our write.
            self._metrics.reports_rejected.labels(Reason.CODE_IN_USE.value, HTTP).inc()
            raise ReportRejectedError(
                Reason.CODE_IN_USE, "the agency dossier code is already the code of another dossier"
            ) from None

    async def register(self, actor: Actor, registration: cmd.RegisterForReturn) -> Recorded:
        """Register a dossier filed in person or online for return of its result by post."""
        now = self._clock()
        dossier_id = dossier_id_for_agency_code(registration.agency_dossier_code)
        event = domain.compose_registration(registration, actor, self._phone_check)
        sealed = registration_records(registration.applicant, registration.delivery_address)
        try:
            async with self._engine.begin() as conn:
                dossiers = Dossiers(conn)
                existing = await dossiers.get(dossier_id, lock=True)
                return await self._record(
                    dossiers, existing, dossier_id, event, actor, now, now, sealed=(conn, sealed)
                )
        except ReportRejectedError as rejected:
            self._rejected(rejected, HTTP, ref_kind="registration")
            raise
        except IntegrityError:
            # A concurrent registration of the same code won; it published the same event id.
            self._metrics.reports_rejected.labels(Reason.ALREADY_REGISTERED.value, HTTP).inc()
            raise ReportRejectedError(
                Reason.ALREADY_REGISTERED, "the dossier is already registered"
            ) from None

    async def schedule_closures(self, batch: int = 500) -> int:
        """Give a closure time to every dossier that awaits its supplement without one, by the rules in
        force on the day of its request; how many got one.

        Requests recorded before the closure rules were deployed (migration closure_0001) stored none, so
        the closure job would never see them. Run once when the job starts: a dossier whose rule set has
        no closure period keeps none, and is looked at again only at the next start.
        """
        scheduled = 0
        after = ""
        while True:
            async with self._engine.begin() as conn:
                dossiers = Dossiers(conn)
                found = await dossiers.awaiting_without_closure_due(after, batch)
                changed = []
                for dossier in found:
                    assert dossier.supplement_requested_at is not None  # selected so
                    due = self._policy.closure_due(dossier.supplement_requested_at)
                    if due is not None:
                        changed.append(replace(dossier, closure_due_at=due.closes_at))
                await dossiers.save(new=[], changed=changed)
                scheduled += len(changed)
            if len(found) < batch:
                return scheduled
            after = found[-1].dossier_id

    async def close_due(self, batch: int = 100) -> int:
        """Close every dossier whose closure period has ended without its supplement; how many this
        replica closed.

        Exactly once whatever the number of replicas and restarts: each dossier is decided with its row
        locked (rows another replica holds are skipped), its state checked again under the lock, and
        its closure published (acks=all) before it is recorded, with the event id of its next event. A
        crash between the publication and the commit leaves the dossier awaiting: the next run publishes
        the same event id again, which consumers deduplicate.
        """
        closed = 0
        while True:
            now = self._clock()
            async with self._engine.begin() as conn:
                dossiers = Dossiers(conn)
                due = await dossiers.due_for_closure(now, batch)
                for dossier in due:
                    event = domain.due_closure(dossier, now, self._policy)
                    if event is None:  # moved on since, or no longer due under the rules: left alone
                        continue
                    at = domain.closure_time(dossier, self._policy)
                    actor = Actor(agency_code=dossier.agency_code, officer_id=event.officer_id)
                    await self._record(dossiers, dossier, dossier.dossier_id, event, actor, at, now, CLOSURE)
                    log_event(
                        logger,
                        "dossier_closed",
                        dossier_id=dossier.dossier_id,
                        reason=event.reason.value,
                        rule_set=event.rule_set,
                    )
                    closed += 1
            if len(due) < batch:
                return closed

    async def view(self, ref: DossierRef, agency_code: str | None) -> Dossier:
        """The record of a dossier; `agency_code` None is an operator, who may read every dossier."""
        async with self._engine.connect() as conn:
            dossier = await self._find(Dossiers(conn), ref, lock=False)
        if agency_code is not None and dossier.agency_code != agency_code:
            raise ReportRejectedError(Reason.ANOTHER_AGENCY, "the dossier is addressed to another agency")
        return dossier

    async def _find(self, dossiers: Dossiers, ref: DossierRef, *, lock: bool) -> Dossier:
        dossier_id = ref.derived_id
        if dossier_id is None and ref.agency_dossier_code is not None:
            dossier_id = await dossiers.id_for_code(ref.agency_dossier_code)
        dossier = await dossiers.get(dossier_id, lock=lock) if dossier_id else None
        if dossier is None:
            raise ReportRejectedError(
                Reason.UNKNOWN_DOSSIER, "no dossier with this reference is known to the agency service"
            )
        return dossier

    async def _record(
        self,
        dossiers: Dossiers,
        dossier: Dossier | None,
        dossier_id: str,
        event: AgencyEvent,
        actor: Actor,
        at: datetime,
        now: datetime,
        channel: str = HTTP,
        sealed: tuple[AsyncConnection, Sequence[Sealing]] | None = None,
    ) -> Recorded:
        """Accept, publish and store an event that happened `at`, recorded `now`; with `sealed`, the
        personal data the event no longer carries is vaulted in the same transaction, once the rules
        accepted the event and before it is published."""
        source = agency_source(actor.agency_code)
        code = getattr(event, "agency_dossier_code", None)
        holder = (await dossiers.code_holders([code])).get(code) if code else None
        after = domain.accept(
            dossier,
            event,
            subject=dossier_id,
            source=source,
            occurred_at=at,
            now=now,
            policy=self._policy,
            code_holder=holder,
        )
        if sealed is not None:
            conn, records = sealed
            await self._vault.store_all(conn, dossier_id, records, collected_at=now)
        envelope = Envelope.new(
            event,
            subject=dossier_id,
            source=source,
            time=at,
            id=domain.next_event_id(dossier, dossier_id, event.type),
        )
        await self._end_purposes(dossiers.connection, envelope)
        await self._publisher.publish(envelope)
        if dossier is None:
            await dossiers.save(new=[after], changed=[])
        else:
            await dossiers.save(new=[], changed=[after])
        self._metrics.events_published.labels(event.type, channel).inc()
        return Recorded(envelope, after)

    def _rejected(self, rejected: ReportRejectedError, channel: str, **fields: str) -> None:
        self._metrics.reports_rejected.labels(rejected.reason.value, channel).inc()
        log_event(
            logger,
            "agency_report_rejected",
            logging.INFO,
            reason=rejected.reason.value,
            channel=channel,
            **fields,
        )

    # ----------------------------------------------------------------------- the consumers

    async def _end_purposes(self, conn: AsyncConnection, envelope: Envelope[Any]) -> None:
        """When a fact ends the purposes of a dossier's personal data in the agency's vault: its result
        delivered or returned (learned from the post), or the dossier ended without a result to carry
        (withdrawn, closed). Stored in the transaction that records the fact; no-op for a dossier whose
        data the agency does not hold (one that came by post)."""
        data = envelope.data
        if isinstance(data, ResultDelivered):
            ends = self._retention.delivered(envelope.time)
        elif isinstance(data, ResultReturnedToAgency | DossierWithdrawn | DossierClosed):
            ends = self._retention.finished_without_delivery(envelope.time)
        else:
            return
        await self._vault.end_purposes(conn, envelope.subject, ends.ends, adding=ends.adding)

    async def learn_from_postal(self, conn: AsyncConnection, events: Sequence[Envelope[Event]]) -> None:
        """Applier of postal.events.v1: which agency each dossier is addressed to, and its filing time;
        and when the result of a dossier whose personal data the agency holds was delivered or returned."""
        for envelope in events:
            await self._end_purposes(conn, envelope)
        learned = DossierAccepted | DossierAcceptedV2 | DossierHandedToAgency
        relevant = [e for e in events if isinstance(e.data, learned)]
        if not relevant:
            return
        dossiers = Dossiers(conn)
        known = await dossiers.get_many((e.subject for e in relevant), lock=True)
        state: dict[str, Dossier] = dict(known)
        for envelope in relevant:
            after = domain.learn(state.get(envelope.subject), envelope.subject, envelope.data, self._policy)
            if after is not None:
                state[envelope.subject] = after
        await dossiers.save(
            new=[d for key, d in state.items() if key not in known],
            changed=[d for key, d in state.items() if key in known and d != known[key]],
        )

    async def _vault_registration(
        self, conn: AsyncConnection, envelope: Envelope[Event], now: datetime
    ) -> Envelope[Event]:
        """A version 1 registration from an agency system: its contact and delivery address go to the
        vault, and it is republished as version 2 (same event id), so agency.events.v1 carries no personal
        data; the plain copy stays only on agency.intake.v1 until that topic's retention ends."""
        data = envelope.data
        assert isinstance(data, DossierRegisteredForReturn)
        records = registration_records(data.applicant, data.delivery_address)
        await self._vault.store_all(conn, envelope.subject, records, collected_at=now)
        return upcast(envelope, self._phone_check, held_by=PersonalDataHolder.AGENCY)

    async def take_in(
        self, conn: AsyncConnection, envelopes: Sequence[Envelope[Event]]
    ) -> list[tuple[Envelope[Event], ReportRejectedError]]:
        """Applier of agency.intake.v1: the same rules as an officer's report.

        The envelope's time is when the act happened: one in the future (beyond the clock skew) or
        before the fact it follows is refused like an officer's report, so it is dead-lettered with
        `time_in_future` or `before_previous_fact`.

        Valid reports are republished on agency.events.v1 with their own event id (acknowledged before the
        caller commits, so a retried batch republishes the same ids) and recorded; the rejected ones are
        returned, in order, for the dead-letter topic.
        """
        dossiers = Dossiers(conn)
        known = await dossiers.get_many((e.subject for e in envelopes), lock=True)
        codes = {code for e in envelopes if (code := getattr(e.data, "agency_dossier_code", None))}
        holders = await dossiers.code_holders(codes)
        state: dict[str, Dossier] = dict(known)
        accepted: list[Envelope[Event]] = []
        rejected: list[tuple[Envelope[Event], ReportRejectedError]] = []
        now = self._clock()
        for original in envelopes:
            # Republished completed with the rules' judgement; dead-lettered as it came.
            data = domain.with_judgement(
                state.get(original.subject), original.data, original.time, self._policy
            )
            envelope = original if data is original.data else original.model_copy(update={"data": data})
            code = getattr(envelope.data, "agency_dossier_code", None)
            try:
                after = domain.accept(
                    state.get(envelope.subject),
                    envelope.data,
                    subject=envelope.subject,
                    source=envelope.source,
                    occurred_at=envelope.time,
                    now=now,
                    policy=self._policy,
                    code_holder=holders.get(code) if code else None,
                )
            except ReportRejectedError as rejection:
                rejected.append((original, rejection))
                self._rejected(rejection, INTAKE, dossier_id=envelope.subject, type=envelope.type)
                continue
            state[envelope.subject] = after
            if after.agency_dossier_code:
                holders[after.agency_dossier_code] = after.dossier_id
            if isinstance(envelope.data, DossierRegisteredForReturn):
                envelope = await self._vault_registration(conn, envelope, now)
            await self._end_purposes(conn, envelope)
            accepted.append(envelope)
        await self._publisher.publish_many(accepted)
        for envelope in accepted:
            self._metrics.events_published.labels(envelope.type, INTAKE).inc()
        await dossiers.save(
            new=[d for key, d in state.items() if key not in known],
            changed=[d for key, d in state.items() if key in known and d != known[key]],
        )
        return rejected
