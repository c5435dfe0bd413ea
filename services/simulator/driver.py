"""Plays the planned journeys against the running system, as clerks, couriers and officers would.

Journeys run concurrently, each one's acts in order; a cap on requests in flight keeps the load
steady. Acts that concern many dossiers at once are gathered: a handover record lists every item of
its sitting, and an offline scanner's scans are uploaded in one batch after the rounds. A journey whose
act is refused stops there and is counted with the reason (the summary shows them).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from contracts.envelope import Envelope
from contracts.events import (
    DelayNotified,
    DossierProcessing,
    DossierReceived,
    DossierRefused,
    DossierRegisteredForReturn,
    DossierWithdrawn,
    Event,
    ResultReady,
    SupplementReceived,
    SupplementRequested,
)
from contracts.sources import agency_source
from services.shared.calendar import WorkingCalendar, to_vietnam_time
from services.shared.logs import log_event
from services.simulator import steps as s
from services.simulator.clients import Answer, Credentials, Http, Intake
from services.simulator.geography import Reporting

logger = logging.getLogger("services.simulator")

SIM_NAMESPACE = uuid.UUID("5d0c3a52-8f53-4e0e-9d2a-2f7f3c1e9b41")
MANIFEST_WINDOW_S = 1.5
"""How long a handover record waits for the rest of its items before it is signed with those present."""


class Progress:
    """Told about every act played; the terminal bar draws it (tests use this silent one)."""

    def start(self, total: int) -> None:
        """The number of acts to play."""

    def advance(self, n: int = 1) -> None:
        """n more acts were played (or skipped after a refusal)."""

    def finish(self) -> None:
        """Every act was played."""


class JourneyFailedError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Manifest:
    """Items waiting to be handed over on one record."""

    session: s.HandoverSession
    waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    flushing: asyncio.Task[None] | None = None


@dataclass
class Outcome:
    played: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    scenarios: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    batch_scans: int = 0
    seconds: float = 0.0


class Driver:
    def __init__(
        self,
        http: Http,
        intake: Intake,
        credentials: Credentials,
        calendar: WorkingCalendar,
        *,
        progress: Progress | None = None,
        propagation_timeout_s: float = 60.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.http = http
        self.intake = intake
        self.tokens = credentials
        self.calendar = calendar
        self.progress = progress or Progress()
        self.propagation_timeout_s = propagation_timeout_s
        self.clock = clock
        self.manifests: dict[str, Manifest] = {}
        self.devices: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.outcome = Outcome()

    # ----------------------------------------------------------------------- the run

    async def play(self, journeys: list[s.Journey]) -> Outcome:
        loop = asyncio.get_running_loop()
        started = loop.time()
        total = sum(len(j.steps) for j in journeys)
        self.progress.start(total + 1)
        await asyncio.gather(*(self._journey(j) for j in journeys))
        await self._upload_batches()
        self.progress.advance()
        self.progress.finish()
        for journey in journeys:
            self.outcome.scenarios[journey.scenario if journey.failed is None else "failed"] += 1
        self.outcome.seconds = loop.time() - started
        return self.outcome

    async def _journey(self, j: s.Journey) -> None:
        for index, step in enumerate(j.steps):
            try:
                await self._step(j, step)
            except JourneyFailedError as failed:
                j.failed = failed.reason
                self.outcome.failures[failed.reason] += 1
                log_event(
                    logger,
                    "simulated_journey_failed",
                    logging.INFO,
                    dossier_id=j.dossier_id,
                    step=type(step).__name__,
                    reason=failed.reason,
                    detail=failed.detail,
                )
                self.progress.advance(len(j.steps) - index)
                return
            j.done += 1
            self.outcome.played += 1
            self.progress.advance()

    async def _step(self, j: s.Journey, step: s.Step) -> None:
        if isinstance(step, s.AGENCY_STEPS):
            if j.reporting is Reporting.SYSTEM:
                await self._intake(j, step)
            else:
                await self._desk(j, step)
            return
        match step:
            case s.Accept():
                await self._accept(j, step)
            case s.Transit():
                await self._post("/v1/scans/in-transit", step.office, self._transit_body(step))
            case s.HandOver():
                await self._hand_over(j, step)
            case s.PickUp():
                await self._pick_up(j, step)
            case s.OutForDelivery() | s.DeliveryFailed() | s.Delivered():
                await self._scan(j, step)
            case s.Return():
                await self._post(
                    "/v1/returns",
                    step.office,
                    {
                        "result_item_id": j.result_item_id,
                        "agency_code": j.agency.code,
                        "post_office_code": step.office,
                        "return_record_id": step.record_id,
                        "postal_worker_id": step.postal_worker_id,
                        "agency_officer_id": step.agency_officer_id,
                        "returned_at": self._when(step),
                    },
                )
            case s.Incident():
                await self._post(
                    "/v1/losses" if step.lost else "/v1/damages",
                    step.office,
                    {
                        "item_id": step.item,
                        "post_office_code": step.office,
                        "reported_by": f"supervisor-{step.office}",
                        "at_fault": step.at_fault,
                        "compensation_vnd": step.compensation_vnd,
                        "reported_at": self._when(step),
                    },
                )
            case _:  # pragma: no cover
                raise TypeError(type(step).__name__)

    def _when(self, step: s.Step) -> str:
        return _iso(step.at if step.at is not None else self.clock())

    # ----------------------------------------------------------------------- the post

    async def _post(
        self, path: str, office: str, body: dict[str, Any], *, ok: tuple[int, ...] = (200, 201)
    ) -> Answer:
        answer = await self.http.call("post_office", "POST", path, self.tokens.post_offices[office], body)
        if answer.status not in ok:
            raise JourneyFailedError(f"post_office {answer.status} {answer.reason}", _detail(answer))
        return answer

    async def _accept(self, j: s.Journey, step: s.Accept) -> None:
        documents = [d.model_dump(mode="json") for d in step.documents]
        body = {
            "item_id": j.item_id,
            "procedure_code": j.procedure_code,
            "agency_code": j.agency.code,
            "service_form": j.form.value,
            "channel": step.channel,
            "applicant": j.applicant.model_dump(mode="json", exclude_none=True),
            "notify_by": [channel.value for channel in j.notify_by],
            "documents": documents,
            "fee_vnd": step.fee_vnd,
            "charge_vnd": step.charge_vnd,
            "postage_vnd": step.postage_vnd,
            "clerk_id": step.clerk_id,
            "post_office_code": step.office,
            "route_class": step.route.value,
            "carries_appointment_slip_back": step.slip_back,
            "accepted_at": _iso(step.at or self.clock()),
        }
        if step.forgets_a_document and len(step.documents) > 1:
            # The first document of a catalog list is always a required one (the application form).
            incomplete = {**body, "documents": documents[1:]}
            answer = await self.http.call(
                "post_office", "POST", "/v1/dossiers", self.tokens.post_offices[step.office], incomplete
            )
            if answer.status != 422 or answer.reason != "missing_documents":
                raise JourneyFailedError(f"incomplete package answered {answer.status} {answer.reason}")
        await self._post("/v1/dossiers", step.office, body)

    @staticmethod
    def _transit_body(step: s.Transit) -> dict[str, Any]:
        return {
            "scan_id": str(step.scan_id),
            "item_id": step.item,
            "scanned_at": _iso(step.at) if step.at else _iso(datetime.now(UTC)),
            "direction": step.direction.value,
            "post_office_code": step.office,
        }

    async def _hand_over(self, j: s.Journey, step: s.HandOver) -> None:
        session = step.session
        manifest = self.manifests.get(session.record_id)
        if manifest is None:
            manifest = self.manifests[session.record_id] = Manifest(session)
        assert j.item_id is not None
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        manifest.waiting[j.item_id] = future
        if len(manifest.waiting) >= len(session.items):
            self._flush(manifest, now=True)
        elif manifest.flushing is None:
            self._flush(manifest, now=False)
        outcome = await future
        if outcome.get("status") not in ("accepted", "duplicate"):
            raise JourneyFailedError(f"handover {outcome.get('reason')}", str(outcome.get("detail", "")))

    def _flush(self, manifest: Manifest, *, now: bool) -> None:
        if manifest.flushing is not None and now:
            manifest.flushing.cancel()
        manifest.flushing = asyncio.create_task(self._sign(manifest, 0 if now else MANIFEST_WINDOW_S))

    async def _sign(self, manifest: Manifest, delay: float) -> None:
        await asyncio.sleep(delay)
        waiting, manifest.waiting, manifest.flushing = manifest.waiting, {}, None
        session = manifest.session
        body = {
            "handover_record_id": session.record_id,
            "agency_code": session.agency,
            "post_office_code": session.office,
            "postal_worker_id": session.postal_worker_id,
            "agency_officer_id": session.agency_officer_id,
            "signed_at": _iso(session.signed_at),
            "item_ids": list(waiting),
        }
        answer = await self.http.call(
            "post_office", "POST", "/v1/handovers", self.tokens.post_offices[session.office], body
        )
        items = answer.body.get("items", []) if answer.status == 200 and isinstance(answer.body, dict) else []
        by_item = {item.get("item_id"): item for item in items}
        for item_id, future in waiting.items():
            if not future.done():
                future.set_result(
                    by_item.get(item_id)
                    or {
                        "status": "rejected",
                        "reason": f"{answer.status} {answer.reason}",
                        "detail": _detail(answer),
                    }
                )

    async def _pick_up(self, j: s.Journey, step: s.PickUp) -> None:
        body = {
            "result_item_id": j.result_item_id,
            "dossier_item_id": j.item_id,
            "agency_dossier_code": j.agency_dossier_code,
            "pickup_record_id": step.record_id,
            "agency_code": j.agency.code,
            "post_office_code": step.office,
            "postal_worker_id": step.postal_worker_id,
            "agency_officer_id": step.agency_officer_id,
            "route_class": step.route.value,
            "picked_up_at": self._when(step),
        }
        await self._post("/v1/pickups", step.office, body)

    async def _scan(self, j: s.Journey, step: s.OutForDelivery | s.DeliveryFailed | s.Delivered) -> None:
        scan: dict[str, Any] = {
            "scan_id": str(step.scan_id),
            "item_id": j.result_item_id,
            "scanned_at": self._when(step),
            "courier_id": step.courier_id,
        }
        match step:
            case s.OutForDelivery():
                kind, path = "OUT_FOR_DELIVERY", "/v1/scans/out-for-delivery"
            case s.DeliveryFailed():
                kind, path = "DELIVERY_FAILED", "/v1/scans/delivery-failed"
                scan.update(
                    reason=step.reason.value,
                    invitation_left=step.next_attempt_on is not None,
                    next_attempt_on=step.next_attempt_on.isoformat() if step.next_attempt_on else None,
                )
                if step.reason.value == "OTHER":
                    scan["note"] = "Khách hẹn giao lại"
            case s.Delivered():
                kind, path = "DELIVERED", "/v1/scans/delivered"
                proxy = step.recipient.value == "AUTHORISED_PROXY"
                scan.update(
                    recipient_kind=step.recipient.value,
                    id_document_type=step.id_document.value,
                    identity_verified=True,
                    authorisation_checked=proxy,
                )
        if step.offline:
            self.devices[step.office].append({"kind": kind, **scan})
            return
        await self._post(path, step.office, {**scan, "post_office_code": step.office})

    async def _upload_batches(self) -> None:
        """The offline scanners come back from their rounds: each uploads what it captured, in order."""
        for office, scans in sorted(self.devices.items()):
            scans.sort(key=lambda scan: scan["scanned_at"])
            for start in range(0, len(scans), 1000):
                chunk = scans[start : start + 1000]
                body = {"post_office_code": office, "device_id": f"scanner-{office}", "scans": chunk}
                answer = await self.http.call(
                    "post_office", "POST", "/v1/scans/batches", self.tokens.post_offices[office], body
                )
                self.outcome.batches += 1
                self.outcome.batch_scans += len(chunk)
                if answer.status != 200:
                    self.outcome.failures[f"batch {answer.status} {answer.reason}"] += 1
                    continue
                for outcome in answer.body.get("scans", []):
                    if outcome.get("status") == "rejected":
                        self.outcome.failures[f"batch scan {outcome.get('reason')}"] += 1
        self.devices.clear()

    # ----------------------------------------------------------------------- agency desks (HTTP)

    async def _desk(self, j: s.Journey, step: s.Step) -> None:
        token = self.tokens.agencies[j.agency.code]
        ref = j.reference
        body: dict[str, Any]
        match step:
            case s.Register():
                body = {
                    "agency_dossier_code": j.agency_dossier_code,
                    "procedure_code": j.procedure_code,
                    "filing_channel": step.filing_channel,
                    "filed_at": _iso(step.filed_at),
                    "applicant": j.applicant.model_dump(mode="json", exclude_none=True),
                    "notify_by": [channel.value for channel in j.notify_by],
                    "delivery_address": step.delivery_address.model_dump(mode="json"),
                }
                answer = await self.http.call("agency", "POST", "/dossiers", token, body)
                self._check_desk(answer)
                return
            case s.Receive():
                path, body = (
                    "received",
                    {
                        "agency_dossier_code": j.agency_dossier_code,
                        "appointment_date": step.appointment_date.isoformat(),
                    },
                )
            case s.Refuse():
                path, body = "refused", {"reason": step.reason}
                if step.with_code:
                    body["agency_dossier_code"] = j.agency_dossier_code
            case s.RequestSupplement():
                path, body = (
                    "supplement-requested",
                    {"missing_documents": list(step.documents), "reason": step.reason},
                )
            case s.ReceiveSupplement():
                path, body = "supplement-received", {"received_at": _iso(step.received_at or self.clock())}
            case s.Processing():
                path, body = "processing", {"department": step.department}
            case s.NotifyDelay():
                due, filed = j.extras.get("desk_due"), j.extras.get("desk_filing_day")
                today = to_vietnam_time(self.clock()).date()
                if not isinstance(due, date) or (isinstance(filed, date) and filed > today):
                    # No running clock, or a filing that counts from tomorrow (after the cut-off): an
                    # apology slip cannot be dated before the filing day, so the desk issues none today.
                    j.extras["skipped"] = int(j.extras.get("skipped", 0)) + 1
                    return
                new_due = self.calendar.add_working_days(due, step.extra_working_days)
                path, body = "delay-notified", {"new_due_date": new_due.isoformat(), "reason": step.reason}
            case s.Withdraw():
                path, body = "withdrawn", {"reason": step.reason}
            case s.ResultReady():
                path, body = (
                    "result-ready",
                    {"outcome": step.outcome.value, "result_reference": step.reference},
                )
            case _:  # pragma: no cover
                raise TypeError(type(step).__name__)
        # The desk learns of a handover from the post's events: right after it, the dossier may not be
        # known yet (404 unknown_dossier, 409 not_handed_over). The officer tries again.
        waited = 0.0
        while True:
            answer = await self.http.call("agency", "POST", f"/dossiers/{ref}/{path}", token, body)
            if (
                answer.reason in ("unknown_dossier", "not_handed_over")
                and waited < self.propagation_timeout_s
            ):
                await asyncio.sleep(0.25)
                waited += 0.25
                continue
            break
        self._check_desk(answer)
        dossier = answer.body.get("dossier", {}) if isinstance(answer.body, dict) else {}
        due_text, filed_text = dossier.get("due_date"), dossier.get("filing_day")
        j.extras["desk_due"] = date.fromisoformat(due_text) if due_text else None
        j.extras["desk_filing_day"] = date.fromisoformat(filed_text) if filed_text else None

    @staticmethod
    def _check_desk(answer: Answer) -> None:
        if answer.status not in (200, 201):
            raise JourneyFailedError(f"agency {answer.status} {answer.reason}", _detail(answer))

    # ----------------------------------------------------------------------- agency systems (Kafka)

    async def _intake(self, j: s.Journey, step: s.Step) -> None:
        """An agency system's report of a past act: a complete event on agency.intake.v1, stamped with the
        act's time. The agency service validates it by the desk's rules and republishes it."""
        assert step.at is not None, "agency systems report past acts"
        if not j.extras.get("filed_seen") and not isinstance(step, s.Register):
            await self._until_filed(j)
            j.extras["filed_seen"] = True
        desk = {"agency_code": j.agency.code, "officer_id": f"officer-{j.agency.code.replace('.', '')}-1"}
        code = j.agency_dossier_code
        event: Event
        match step:
            case s.Register():
                assert code is not None
                event = DossierRegisteredForReturn(
                    **desk,
                    agency_dossier_code=code,
                    procedure_code=j.procedure_code,
                    filing_channel=step.filing_channel,
                    filed_at=step.filed_at,
                    applicant=j.applicant,
                    delivery_address=step.delivery_address,
                )
            case s.Receive():
                assert code is not None
                event = DossierReceived(
                    **desk,
                    agency_dossier_code=code,
                    procedure_code=j.procedure_code,
                    item_id=j.item_id,
                    filed_at=step.filed_at,
                    legal_due_date=step.legal_due_date,
                    appointment_date=step.appointment_date,
                    appointment_later_than_legal=step.appointment_date > step.legal_due_date,
                )
            case s.Refuse():
                event = DossierRefused(
                    **desk, agency_dossier_code=code if step.with_code else None, reason=step.reason
                )
            case s.RequestSupplement():
                event = SupplementRequested(
                    **desk, agency_dossier_code=code, missing_documents=step.documents, reason=step.reason
                )
            case s.ReceiveSupplement():
                assert step.received_at is not None
                event = SupplementReceived(**desk, agency_dossier_code=code, received_at=step.received_at)
            case s.Processing():
                assert code is not None
                event = DossierProcessing(**desk, agency_dossier_code=code, department=step.department)
            case s.NotifyDelay():
                assert code is not None and step.previous_due_date and step.new_due_date and step.issued_on
                event = DelayNotified(
                    **desk,
                    agency_dossier_code=code,
                    previous_due_date=step.previous_due_date,
                    new_due_date=step.new_due_date,
                    reason=step.reason,
                    issued_on=step.issued_on,
                    breach=bool(step.breach),
                )
            case s.Withdraw():
                event = DossierWithdrawn(**desk, agency_dossier_code=code, reason=step.reason)
            case s.ResultReady():
                assert code is not None
                event = ResultReady(
                    **desk, agency_dossier_code=code, outcome=step.outcome, result_reference=step.reference
                )
            case _:  # pragma: no cover
                raise TypeError(type(step).__name__)
        envelope: Envelope[Event] = Envelope.new(
            event,
            subject=j.dossier_id,
            source=agency_source(j.agency.code),
            time=step.at,
            id=uuid.uuid5(SIM_NAMESPACE, f"{j.dossier_id}/{event.type}/{step.at.isoformat()}"),
        )
        try:
            await self.intake.publish(envelope)
        except Exception as exc:  # aiokafka's errors: the agency system could not deliver its report
            raise JourneyFailedError("intake unavailable", type(exc).__name__) from None

    async def _until_filed(self, j: s.Journey) -> None:
        """An agency system reports on a dossier once the agency service has learned of its handover."""
        token = self.tokens.agencies[j.agency.code]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.propagation_timeout_s
        while True:
            answer = await self.http.call("agency", "GET", f"/dossiers/{j.reference}", token)
            status = answer.body.get("status") if isinstance(answer.body, dict) else None
            if answer.status == 200 and status != "ANNOUNCED":
                return
            if loop.time() > deadline:
                raise JourneyFailedError("agency never learned of the handover", f"{answer.status} {status}")
            await asyncio.sleep(0.25)


def _detail(answer: Answer) -> str:
    if isinstance(answer.body, dict):
        return str(answer.body.get("detail", ""))[:300]
    return ""
