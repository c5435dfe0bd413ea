"""Use cases of the post office: load the items, apply the rules, store, publish, then commit.

Each use case runs in one database transaction and publishes its events inside it: the commit comes
only after Kafka acknowledged every event. A refusal (RefusedError) or an unacknowledged publication
(BrokerUnavailableError) rolls the transaction back, so nothing is half-recorded. If the commit itself
fails after the acknowledgement, the events are on Kafka but the state is not: the client's retry
produces the same event ids (they are deterministic), which consumers deduplicate.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from contracts.events import DeliveryFailedV2, ResultDelivered, ResultReturnedToAgency
from contracts.values import parse_s10
from services.post_office import delivery, domain
from services.post_office.adapters.repository import PostOfficeRepository, StoredScan, transaction
from services.post_office.commands import (
    AcceptDossier,
    EventRecorded,
    HandOver,
    ItemOutcomeStatus,
    ManifestItem,
    ManifestResult,
    PickupReceipt,
    PickUpResult,
    Receipt,
    ReportIncident,
    ReturnToAgency,
    ValidationIssue,
)
from services.post_office.domain import Item, Reason, Recorded, RefusedError, Replay, Verdict
from services.post_office.metrics import PostOfficeMetrics
from services.post_office.scan_commands import (
    AnyScan,
    BatchResult,
    DeliveryFailedScan,
    InvalidScan,
    ScanBatch,
    ScanOutcome,
)
from services.post_office.scan_identity import fingerprint as scan_fingerprint
from services.post_office.scan_identity import same_scan
from services.shared.calendar import WorkingCalendar
from services.shared.catalog import Catalog
from services.shared.logs import log_event
from services.shared.naive_times import naive_time_detail
from services.shared.personal_data.phone_check import PhoneDigest
from services.shared.personal_data.purposes import Purpose
from services.shared.personal_data.retention import DEFAULT_RETENTION, Retention
from services.shared.personal_data.vault import Vault
from services.shared.postal_limits import RouteLimits

log = logging.getLogger("services.post_office")


class Publisher(Protocol):
    async def publish_many(self, envelopes: Sequence[Envelope[Any]]) -> None: ...


@dataclass(frozen=True)
class Rules:
    """The configuration the rules read: procedure catalog, working calendar, postal time limits."""

    catalog: Catalog
    calendar: WorkingCalendar
    limits: RouteLimits
    clock_skew: timedelta = domain.DEFAULT_CLOCK_SKEW


@dataclass(frozen=True)
class ScanResult:
    """One scan's outcome, with the refusal kept so that an online scan can answer with its status."""

    index: int
    scan_id: uuid.UUID | None
    status: ItemOutcomeStatus
    event_id: uuid.UUID | None = None
    item: Item | None = None
    refusal: RefusedError | None = None
    errors: list[dict[str, Any]] | None = None

    def outcome(self) -> ScanOutcome:
        return ScanOutcome(
            index=self.index,
            scan_id=self.scan_id,
            status=self.status,
            event_id=self.event_id,
            reason=None if self.refusal is None else self.refusal.reason.value,
            detail=None if self.refusal is None else self.refusal.detail,
            errors=None if self.errors is None else [ValidationIssue.model_validate(e) for e in self.errors],
        )


APPLICANT = "applicant"
"""The vault's kind of an applicant's contact."""
DELIVERY_NOTE = "delivery_note"
"""The vault's kind of a courier's note on a failed attempt (``delivery_note:<result item>:<attempt>``)."""


class PostOfficeHandlers:
    def __init__(
        self,
        engine: AsyncEngine,
        publisher: Publisher,
        rules: Rules,
        metrics: PostOfficeMetrics,
        clock: Callable[[], datetime],
        vault: Vault,
        phone_check: PhoneDigest,
        retention: Retention = DEFAULT_RETENTION,
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._retention = retention
        self._phone_check = phone_check
        self._publisher = publisher
        self._rules = rules
        self._metrics = metrics
        self._clock = clock

    async def _end_purposes(self, repo: PostOfficeRepository, envelopes: Sequence[Envelope[Any]]) -> None:
        """In the transaction that records a delivery or a return: when each purpose of the dossier's
        personal data ends (the vault stores it, and the erasure job erases once all have ended)."""
        for envelope in envelopes:
            if isinstance(envelope.data, ResultDelivered):
                ends = self._retention.delivered(envelope.time)
            elif isinstance(envelope.data, ResultReturnedToAgency):
                ends = self._retention.finished_without_delivery(envelope.time)
            else:
                continue
            await self._vault.end_purposes(repo.connection, envelope.subject, ends.ends, adding=ends.adding)

    async def _publish(self, envelopes: Sequence[Envelope[Any]]) -> None:
        started = time.perf_counter()
        await self._publisher.publish_many(envelopes)
        self._metrics.publish_duration.observe(time.perf_counter() - started)
        self._metrics.published(e.type for e in envelopes)

    def _not_in_future(self, at: datetime, now: datetime, what: str) -> None:
        domain.check_act_time(at, now, self._rules.clock_skew, what)

    # ----------------------------------------------------------------------- intake

    async def accept_dossier(self, cmd: AcceptDossier) -> Receipt:
        now = self._clock()
        self._not_in_future(cmd.accepted_at, now, "accepted_at")
        async with transaction(self._engine, now) as repo:
            outcome = domain.accept_dossier(
                cmd,
                existing=await repo.item(cmd.item_id),
                catalog=self._rules.catalog,
                calendar=self._rules.calendar,
                limits=self._rules.limits,
                phone_check=self._phone_check,
            )
            if isinstance(outcome, Recorded):
                await repo.add_item(outcome.item)
                # In the transaction that records the item: the contact is vaulted exactly when the
                # acceptance is recorded, and a failed publication rolls both back.
                await self._vault.store(
                    repo.connection,
                    dossier_id=outcome.item.dossier_id,
                    kind=APPLICANT,
                    purposes=domain.contact_purposes(cmd.service_form),
                    data=cmd.applicant.model_dump(mode="json", exclude_none=True),
                    collected_at=cmd.accepted_at,
                    phone=cmd.applicant.phone,
                    id_number=cmd.applicant.id_number,
                )
                await self._publish([outcome.envelope])
        item = outcome.item
        log_event(
            log,
            "dossier_accepted" if isinstance(outcome, Recorded) else "dossier_acceptance_replayed",
            item_id=item.item_id,
            dossier_id=item.dossier_id,
            post_office=item.post_office_code,
            procedure=item.procedure_code,
        )
        return Receipt(
            item_id=item.item_id,
            dossier_id=item.dossier_id,
            event_id=domain.event_id_for(item.item_id, "accepted"),
            inbound_due_date=item.due_date,
            replayed=isinstance(outcome, Replay),
        )

    # ----------------------------------------------------------------------- handover to the agency

    async def hand_over(self, cmd: HandOver) -> ManifestResult:
        now = self._clock()
        self._not_in_future(cmd.signed_at, now, "signed_at")
        record = domain.record_for(cmd)
        # Each listed id is judged on its own: a typo in one must not hold back the others.
        parsed: list[tuple[str | None, str]] = []
        for listed in cmd.item_ids:
            try:
                parsed.append((parse_s10(listed), ""))
            except ValueError as exc:
                parsed.append((None, str(exc)))
        results: list[ManifestItem] = []
        async with transaction(self._engine, now) as repo:
            existing_record = await repo.handover_record(record.post_office_code, record.record_id)
            domain.check_handover_record(existing_record, record)
            items = await repo.items({item_id for item_id, _ in parsed if item_id is not None})
            seen: set[str] = set()
            changes: list[tuple[Item, Item]] = []
            envelopes: list[Envelope[Any]] = []
            for index, (item_id, parse_error) in enumerate(parsed):
                if item_id is None:
                    results.append(self._manifest_rejection(index, None, Reason.INVALID_ITEM_ID, parse_error))
                    continue
                try:
                    if item_id in seen:
                        raise RefusedError(
                            Verdict.INVALID,
                            Reason.DUPLICATE_IN_MANIFEST,
                            f"item {item_id} is listed more than once on this record",
                        )
                    seen.add(item_id)
                    outcome = domain.hand_over(items.get(item_id), item_id, record)
                except RefusedError as refusal:
                    results.append(self._manifest_rejection(index, item_id, refusal.reason, refusal.detail))
                    continue
                event_id = domain.event_id_for(item_id, "handed-to-agency")
                status: ItemOutcomeStatus = "duplicate" if isinstance(outcome, Replay) else "accepted"
                results.append(ManifestItem(index=index, item_id=item_id, status=status, event_id=event_id))
                if isinstance(outcome, Recorded):
                    changes.append((items[item_id], outcome.item))
                    envelopes.append(outcome.envelope)
            if envelopes:
                if existing_record is None:
                    await repo.add_handover_record(record)
                await repo.save_items(changes)
                await self._publish(envelopes)
        answer = ManifestResult(
            handover_record_id=record.record_id,
            accepted=sum(r.status == "accepted" for r in results),
            duplicates=sum(r.status == "duplicate" for r in results),
            rejected=sum(r.status == "rejected" for r in results),
            items=results,
        )
        log_event(
            log,
            "dossiers_handed_to_agency",
            handover_record_id=record.record_id,
            agency=record.agency_code,
            post_office=record.post_office_code,
            accepted=answer.accepted,
            duplicates=answer.duplicates,
            rejected=answer.rejected,
        )
        return answer

    def _manifest_rejection(
        self, index: int, item_id: str | None, reason: Reason, detail: str
    ) -> ManifestItem:
        self._metrics.rejected(reason.value)
        return ManifestItem(
            index=index, item_id=item_id, status="rejected", reason=reason.value, detail=detail
        )

    # ----------------------------------------------------------------------- result pickup

    async def pick_up_result(self, cmd: PickUpResult) -> PickupReceipt:
        now = self._clock()
        self._not_in_future(cmd.picked_up_at, now, "picked_up_at")
        async with transaction(self._engine, now) as repo:
            wanted = [cmd.result_item_id, *([cmd.dossier_item_id] if cmd.dossier_item_id else [])]
            items = await repo.items(wanted)
            outcome = domain.pick_up_result(
                cmd,
                existing=items.get(cmd.result_item_id),
                dossier_item=items.get(cmd.dossier_item_id) if cmd.dossier_item_id else None,
                calendar=self._rules.calendar,
                limits=self._rules.limits,
            )
            if isinstance(outcome, Recorded):
                await repo.add_item(outcome.item)
                await self._publish([outcome.envelope])
        item = outcome.item
        log_event(
            log,
            "result_picked_up" if isinstance(outcome, Recorded) else "result_pickup_replayed",
            item_id=item.item_id,
            dossier_id=item.dossier_id,
            post_office=item.post_office_code,
            agency=item.agency_code,
        )
        return PickupReceipt(
            result_item_id=item.item_id,
            dossier_id=item.dossier_id,
            event_id=domain.event_id_for(item.item_id, "picked-up"),
            return_due_date=item.due_date,
            replayed=isinstance(outcome, Replay),
        )

    # ----------------------------------------------------------------------- scans

    async def record_batch(self, batch: ScanBatch) -> BatchResult:
        results = await self._record_scans(batch.post_office_code, batch.scans)
        answer = BatchResult(
            accepted=sum(r.status == "accepted" for r in results),
            duplicates=sum(r.status == "duplicate" for r in results),
            rejected=sum(r.status == "rejected" for r in results),
            scans=[r.outcome() for r in results],
        )
        log_event(
            log,
            "scan_batch_recorded",
            post_office=batch.post_office_code,
            device=batch.device_id,
            accepted=answer.accepted,
            duplicates=answer.duplicates,
            rejected=answer.rejected,
        )
        return answer

    async def record_scan(self, post_office_code: str, scan: AnyScan) -> EventRecorded:
        """One scan recorded online: the batch's rules, answered as one act (refusals raise)."""
        (result,) = await self._record_scans(post_office_code, [scan])
        if result.refusal is not None:
            raise result.refusal
        assert result.event_id is not None and result.item is not None
        # DEBUG: an online scan is counted (post_office_scans_total) and its event is on Kafka; a JSON line
        # for each of hundreds a second was 7 % of a scan's CPU (issue 19). The other acts log at INFO.
        log_event(
            log,
            "scan_recorded",
            logging.DEBUG,
            kind=scan.kind,
            item_id=scan.item_id,
            dossier_id=result.item.dossier_id,
            post_office=post_office_code,
            status=result.status,
        )
        return EventRecorded(
            item_id=scan.item_id,
            dossier_id=result.item.dossier_id,
            event_id=result.event_id,
            status="accepted" if result.status == "accepted" else "duplicate",
        )

    async def _record_scans(
        self, post_office_code: str, scans: Sequence[AnyScan | InvalidScan]
    ) -> list[ScanResult]:
        now = self._clock()
        results: dict[int, ScanResult] = {}
        valid: list[tuple[int, AnyScan]] = []
        for index, scan in enumerate(scans):
            if isinstance(scan, InvalidScan):
                results[index] = self._scan_rejected(
                    index, scan.scan_id, _invalid_scan_refusal(scan), errors=scan.errors
                )
            else:
                valid.append((index, scan))
        async with transaction(self._engine, now) as repo:
            # Items first: their locks make a concurrent upload of the same scans wait, and then see them.
            loaded, recorded = await repo.items_and_scans(
                {s.item_id for _, s in valid}, {s.scan_id for _, s in valid}
            )
            items = dict(loaded)
            new_scans: dict[uuid.UUID, StoredScan] = {}
            envelopes: list[Envelope[Any]] = []
            # Scans captured offline arrive in any order; the item's story is told in scan time order.
            for index, scan in sorted(valid, key=lambda v: (v[1].scanned_at, v[0])):
                earlier = recorded.get(scan.scan_id) or new_scans.get(scan.scan_id)
                if earlier is not None:
                    if same_scan(earlier.fingerprint, earlier.post_office_code, post_office_code, scan):
                        results[index] = ScanResult(
                            index, scan.scan_id, "duplicate", earlier.event_id, items.get(earlier.item_id)
                        )
                    else:
                        results[index] = self._scan_rejected(
                            index,
                            scan.scan_id,
                            RefusedError(
                                Verdict.CONFLICT,
                                Reason.SCAN_ID_REUSED,
                                f"scan id {scan.scan_id} was recorded earlier for another scan; a scan id "
                                "names one scan",
                            ),
                        )
                    continue
                try:
                    self._not_in_future(scan.scanned_at, now, "scanned_at")
                    outcome = delivery.apply_scan(items.get(scan.item_id), scan, post_office_code)
                except RefusedError as refusal:
                    results[index] = self._scan_rejected(index, scan.scan_id, refusal)
                    continue
                items[scan.item_id] = outcome.item
                envelopes.append(outcome.envelope)
                if isinstance(scan, DeliveryFailedScan) and scan.note is not None:
                    await self._vault_note(repo, outcome, scan.note, scan.scanned_at)
                new_scans[scan.scan_id] = StoredScan(
                    scan_id=scan.scan_id,
                    fingerprint=scan_fingerprint(post_office_code, scan),
                    event_id=outcome.envelope.id,
                    kind=scan.kind,
                    item_id=scan.item_id,
                    post_office_code=post_office_code,
                    scanned_at=scan.scanned_at,
                )
                results[index] = ScanResult(
                    index, scan.scan_id, "accepted", outcome.envelope.id, outcome.item
                )
            if envelopes:
                changed = [(loaded[i], after) for i, after in items.items() if after is not loaded[i]]
                await repo.save_scans(changed, list(new_scans.values()))
                await self._end_purposes(repo, envelopes)
                await self._publish(envelopes)
        for result in results.values():
            self._metrics.scans.labels(result.status).inc()
        return [results[index] for index in range(len(scans))]

    async def _vault_note(
        self, repo: PostOfficeRepository, outcome: Recorded, note: str, written_at: datetime
    ) -> None:
        """A courier's note on a failed attempt: kept in the vault (one record per attempt), in the
        transaction that records the scan; the event says only that there is one."""
        data = outcome.envelope.data
        assert isinstance(data, DeliveryFailedV2)
        await self._vault.store(
            repo.connection,
            dossier_id=outcome.item.dossier_id,
            kind=f"{DELIVERY_NOTE}:{data.result_item_id}:{data.attempt}",
            purposes=(Purpose.RESULT_DELIVERY,),
            data={"note": note, "attempt": data.attempt},
            collected_at=written_at,
        )

    def _scan_rejected(
        self,
        index: int,
        scan_id: uuid.UUID | None,
        refusal: RefusedError,
        errors: list[dict[str, Any]] | None = None,
    ) -> ScanResult:
        self._metrics.rejected(refusal.reason.value)
        return ScanResult(index, scan_id, "rejected", refusal=refusal, errors=errors)

    # ----------------------------------------------------------------------- return, loss, damage

    async def return_to_agency(self, cmd: ReturnToAgency) -> EventRecorded:
        now = self._clock()
        self._not_in_future(cmd.returned_at, now, "returned_at")
        async with transaction(self._engine, now) as repo:
            before = await repo.item(cmd.result_item_id)
            outcome = delivery.return_to_agency(before, cmd, self._rules.calendar)
            await self._store_and_publish(repo, before, outcome)
        return self._recorded("result_returned_to_agency", outcome, cmd.post_office_code)

    async def declare_lost(self, cmd: ReportIncident) -> EventRecorded:
        now = self._clock()
        self._not_in_future(cmd.reported_at, now, "reported_at")
        async with transaction(self._engine, now) as repo:
            before = await repo.item(cmd.item_id)
            outcome = domain.declare_lost(before, cmd)
            await self._store_and_publish(repo, before, outcome)
        return self._recorded("item_lost", outcome, cmd.post_office_code)

    async def record_damage(self, cmd: ReportIncident) -> EventRecorded:
        now = self._clock()
        self._not_in_future(cmd.reported_at, now, "reported_at")
        async with transaction(self._engine, now) as repo:
            before = await repo.item(cmd.item_id)
            outcome = domain.record_damage(before, cmd)
            await self._store_and_publish(repo, before, outcome)
        return self._recorded("item_damaged", outcome, cmd.post_office_code)

    async def _store_and_publish(
        self, repo: PostOfficeRepository, before: Item | None, outcome: Recorded
    ) -> None:
        assert before is not None  # the rules refuse an unknown item
        await repo.save_items([(before, outcome.item)])
        await self._end_purposes(repo, [outcome.envelope])
        await self._publish([outcome.envelope])

    def _recorded(self, event_key: str, outcome: Recorded, post_office_code: str) -> EventRecorded:
        item = outcome.item
        log_event(
            log,
            event_key,
            item_id=item.item_id,
            dossier_id=item.dossier_id,
            post_office=post_office_code,
            event_id=str(outcome.envelope.id),
        )
        return EventRecorded(
            item_id=item.item_id, dossier_id=item.dossier_id, event_id=outcome.envelope.id, status="accepted"
        )


def _invalid_scan_refusal(scan: InvalidScan) -> RefusedError:
    """A malformed scan of a batch: time_without_offset when that is its only fault (as for a single
    request), else invalid_scan."""
    # Each error's loc starts with the scan's kind (the tag of the union it failed): the clerk's field is
    # what follows it.
    naive = naive_time_detail([{**e, "loc": e["loc"][1:]} for e in scan.errors])
    if naive is not None:
        return RefusedError(Verdict.INVALID, Reason.TIME_WITHOUT_OFFSET, naive)
    return RefusedError(Verdict.INVALID, Reason.INVALID_SCAN, "the scan does not match the schema")
