"""The post office's rules: what may happen to a postal item next, and the event each act records.

Pure: no I/O and no clock reads (the time of the act and the current time are passed in). Every act
either returns the item's next state with the envelope to publish, or raises a RefusedError naming a stable
reason. Event ids are derived from what identifies the act (the item and the step, or the client's
scan id), so a retried request publishes the same event id and consumers deduplicate it.

An item is one postal leg: the inbound dossier (kind DOSSIER) or the result (kind RESULT). Its stage
uses the tracker's vocabulary (contracts.enums.Stage), restricted to what the post office sees.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from contracts.enums import (
    DeliveryFailureReason,
    DocumentForm,
    ItemKind,
    PersonalDataHolder,
    ServiceForm,
    Stage,
)
from contracts.enums import RouteClass as ContractRouteClass
from contracts.envelope import Envelope
from contracts.events.postal import (
    DossierAcceptedV2,
    DossierHandedToAgency,
    ItemDamaged,
    ItemLost,
    PostalEvent,
    ResultPickedUp,
)
from contracts.sources import post_office_source
from contracts.values import dossier_id_for_agency_code, dossier_id_for_item
from services.post_office import fingerprints
from services.post_office.commands import (
    AcceptDossier,
    HandOver,
    PickUpResult,
    ReportIncident,
)
from services.shared.calendar import WorkingCalendar, to_vietnam_time
from services.shared.catalog import Catalog, SubmittedDocument, UnknownProcedureError
from services.shared.personal_data.phone_check import PhoneDigest
from services.shared.personal_data.purposes import Purpose
from services.shared.postal_limits import RouteClass, RouteLimits, postal_leg_due

# Fixed for ever: every event id this service derives depends on it.
EVENT_NAMESPACE = uuid.UUID("adb5dddd-a9ca-4aa2-aae1-c00344034da6")

DEFAULT_CLOCK_SKEW = timedelta(minutes=5)
EARLIEST_ACT = datetime(2016, 1, 1, tzinfo=UTC)
MIN_FAILED_ATTEMPTS_BEFORE_RETURN = 2
MIN_WORKING_DAYS_BETWEEN_FAILED_ATTEMPTS = 2
COMPENSATION_POSTAGE_MULTIPLE = 4

IN_POSTAL_CUSTODY = frozenset(
    {
        Stage.ACCEPTED,
        Stage.IN_TRANSIT,
        Stage.RESULT_PICKED_UP,
        Stage.RESULT_IN_TRANSIT,
        Stage.OUT_FOR_DELIVERY,
        Stage.DELIVERY_FAILED,
    }
)
"""Stages in which the post (a post office, a facility or a courier) holds the item."""
AT_A_POSTAL_FACILITY = IN_POSTAL_CUSTODY - {Stage.OUT_FOR_DELIVERY}
"""Stages in which the item lies at a post office or facility, not with a courier on a round."""

# The contracts name route classes after the circular's wording; the limit table after the 2025
# reform's. Same four classes.
_ROUTE_CLASS = {
    ContractRouteClass.LOCAL: RouteClass.SAME_COMMUNE,
    ContractRouteClass.INTRA_PROVINCIAL: RouteClass.SAME_PROVINCE,
    ContractRouteClass.BETWEEN_MAJOR_CITIES: RouteClass.BETWEEN_SPECIAL_CITIES,
    ContractRouteClass.INTER_PROVINCIAL: RouteClass.INTER_PROVINCIAL,
}
# A certified copy (bản sao chứng thực) satisfies the catalog's "copy".
_CATALOG_FORM: dict[DocumentForm, Literal["original", "copy"]] = {
    DocumentForm.ORIGINAL: "original",
    DocumentForm.COPY: "copy",
    DocumentForm.CERTIFIED_COPY: "copy",
}


# --------------------------------------------------------------------------- refusals


class Verdict(enum.Enum):
    """The kind of refusal, which the API maps to a status code."""

    INVALID = "invalid"  # the request contradicts a rule on its own (422)
    UNKNOWN = "unknown"  # the item it is about was never recorded here (404)
    CONFLICT = "conflict"  # the item's current state does not allow it (409)


class Reason(enum.StrEnum):
    """Why the post office refuses an act. A closed set: it is a metric label."""

    TIME_IN_FUTURE = "time_in_future"
    TIME_OUT_OF_RANGE = "time_out_of_range"
    UNKNOWN_PROCEDURE = "unknown_procedure"
    PROCEDURE_NOT_BY_POST = "procedure_not_by_post"
    MISSING_DOCUMENTS = "missing_documents"
    ITEM_ALREADY_USED = "item_already_used"
    INVALID_ITEM_ID = "invalid_item_id"
    UNKNOWN_ITEM = "unknown_item"
    NOT_A_DOSSIER = "not_a_dossier"
    NOT_A_RESULT = "not_a_result"
    WRONG_AGENCY = "wrong_agency"
    ALREADY_HANDED_OVER = "already_handed_over"
    DUPLICATE_IN_MANIFEST = "duplicate_in_manifest"
    HANDOVER_RECORD_CONFLICT = "handover_record_conflict"
    NOT_IN_POSTAL_CUSTODY = "not_in_postal_custody"
    RESULT_NOT_BY_POST = "result_not_by_post"
    DOSSIER_NOT_HANDED_OVER = "dossier_not_handed_over"
    ALREADY_OUT_FOR_DELIVERY = "already_out_for_delivery"
    NOT_OUT_FOR_DELIVERY = "not_out_for_delivery"
    IDENTITY_NOT_VERIFIED = "identity_not_verified"
    AUTHORISATION_NOT_CHECKED = "authorisation_not_checked"
    TOO_FEW_FAILED_ATTEMPTS = "too_few_failed_attempts"
    FAILED_ATTEMPTS_TOO_CLOSE = "failed_attempts_too_close"
    COMPENSATION_BELOW_MINIMUM = "compensation_below_minimum"
    INVALID_SCAN = "invalid_scan"
    TIME_WITHOUT_OFFSET = "time_without_offset"
    SCAN_ID_REUSED = "scan_id_reused"


class RefusedError(Exception):
    """A rule refused the act. `detail` is a sentence safe to show: codes and dates, no personal data."""

    def __init__(self, verdict: Verdict, reason: Reason, detail: str, **extra: Any) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.verdict = verdict
        self.reason = reason
        self.detail = detail
        self.extra = extra


def check_act_time(at: datetime, now: datetime, skew: timedelta, what: str) -> None:
    """Acts are recorded after they happen (a device clock may run a little fast, no more), and none
    happened before public post carried dossiers (Decision 45/2016/QĐ-TTg)."""
    if at > now + skew:
        raise RefusedError(
            Verdict.INVALID,
            Reason.TIME_IN_FUTURE,
            f"{what} lies {_duration(at - now)} in the future; at most {_duration(skew)} of clock skew "
            "is allowed",
        )
    if at < EARLIEST_ACT:
        raise RefusedError(
            Verdict.INVALID,
            Reason.TIME_OUT_OF_RANGE,
            f"{what} lies before {EARLIEST_ACT.date()}, when public post began carrying dossiers",
        )


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 60} min {seconds % 60} s"


# --------------------------------------------------------------------------- state


class AttemptOutcome(enum.StrEnum):
    FAILED = "FAILED"
    DELIVERED = "DELIVERED"


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of a result: a round by a courier, or a collection at the counter."""

    number: int
    courier_id: str
    started_at: datetime | None  # None: collected at the counter, without a round
    outcome: AttemptOutcome | None = None  # None while the courier is out
    ended_at: datetime | None = None
    failure_reason: DeliveryFailureReason | None = None


@dataclass(frozen=True)
class Item:
    """A postal item the post office recorded: the inbound dossier or the result."""

    item_id: str
    kind: ItemKind
    dossier_id: str
    agency_code: str
    post_office_code: str  # the office that accepted the dossier or picked the result up
    service_form: ServiceForm
    stage: Stage
    recorded_at: datetime  # acceptance or pickup time
    due_date: date  # inbound: handover to the agency; result: first delivery attempt
    fingerprint: str  # of the command that created it: a retry with the same content is a replay
    procedure_code: str | None = None
    postage_vnd: int | None = None
    dossier_item_id: str | None = None
    agency_dossier_code: str | None = None
    handover_record_id: str | None = None
    attempts: tuple[Attempt, ...] = field(default=())

    @property
    def current_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def failed_attempts(self) -> tuple[Attempt, ...]:
        return tuple(a for a in self.attempts if a.outcome is AttemptOutcome.FAILED)


@dataclass(frozen=True)
class HandoverRecord:
    """The header of a signed handover record (biên bản giao nhận)."""

    record_id: str
    post_office_code: str
    agency_code: str
    postal_worker_id: str
    agency_officer_id: str
    signed_at: datetime


@dataclass(frozen=True)
class Recorded:
    """What an accepted act leaves behind: the item's next state and the event to publish."""

    item: Item
    envelope: Envelope[PostalEvent]


@dataclass(frozen=True)
class Replay:
    """The act had been recorded already with the same content; nothing new to publish."""

    item: Item


# --------------------------------------------------------------------------- event ids and envelopes


def event_id_for(item_id: str, step: str) -> uuid.UUID:
    """The id of the event of a once-per-item step (accepted, handed over, picked up, returned, lost)."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{item_id}/{step}")


def event_id_for_scan(scan_id: uuid.UUID) -> uuid.UUID:
    """The id of the event a scan produced: one scan id, one event id, online or in a batch."""
    return uuid.uuid5(EVENT_NAMESPACE, f"scan/{scan_id}")


def item_envelope(
    event: PostalEvent, dossier_id: str, post_office_code: str, at: datetime, event_id: uuid.UUID
) -> Envelope[PostalEvent]:
    return Envelope.new(
        event, subject=dossier_id, source=post_office_source(post_office_code), time=at, id=event_id
    )


# --------------------------------------------------------------------------- postal time limits


def postal_due_date(
    start: datetime,
    route_class: ContractRouteClass,
    calendar: WorkingCalendar,
    limits: RouteLimits,
    carries_appointment_slip: bool = False,
) -> date:
    """J+n: J is the day (in Vietnam) the leg started; n working days by route class."""
    return postal_leg_due(
        to_vietnam_time(start).date(),
        _ROUTE_CLASS[route_class],
        calendar,
        carries_appointment_slip,
        limits,
    )


# --------------------------------------------------------------------------- intake


def contact_purposes(form: ServiceForm) -> tuple[Purpose, ...]:
    """Why the post office keeps an applicant's contact: to tell them where the dossier stands, and to
    carry the result to them when it comes back by post."""
    if form is ServiceForm.SEND_AND_RECEIVE:
        return (Purpose.NOTIFICATIONS, Purpose.RESULT_DELIVERY)
    return (Purpose.NOTIFICATIONS,)


def accept_dossier(
    cmd: AcceptDossier,
    *,
    existing: Item | None,
    catalog: Catalog,
    calendar: WorkingCalendar,
    limits: RouteLimits,
    phone_check: PhoneDigest,
) -> Recorded | Replay:
    """Accept a dossier whose documents cover the procedure's published list."""
    if existing is not None:
        if existing.kind is ItemKind.DOSSIER and fingerprints.matches(existing.fingerprint, cmd):
            return Replay(existing)
        raise RefusedError(
            Verdict.CONFLICT,
            Reason.ITEM_ALREADY_USED,
            f"item {cmd.item_id} was already recorded as a {existing.kind.value.lower()} item with other "
            "details; an item id is used once",
        )
    try:
        procedure = catalog.get(cmd.procedure_code)
    except UnknownProcedureError:
        raise RefusedError(
            Verdict.INVALID,
            Reason.UNKNOWN_PROCEDURE,
            f"procedure {cmd.procedure_code} is not in the catalog of procedures the post carries",
        ) from None
    if not procedure.by_post:
        raise RefusedError(
            Verdict.INVALID,
            Reason.PROCEDURE_NOT_BY_POST,
            procedure.not_by_post_reason or "this procedure may not be done by post",
            procedure_code=procedure.code,
        )
    submitted = [
        SubmittedDocument(name=d.name, form=_CATALOG_FORM[d.form], count=d.count) for d in cmd.documents
    ]
    missing = catalog.missing_documents(procedure.code, submitted)
    if missing:
        raise RefusedError(
            Verdict.INVALID,
            Reason.MISSING_DOCUMENTS,
            f"the dossier lacks {len(missing)} required document(s) of procedure {procedure.code}: "
            + "; ".join(f"{d.name} ({d.form}, {d.count})" for d in missing),
            missing_documents=[{"name": d.name, "form": d.form, "count": d.count} for d in missing],
        )
    due = postal_due_date(
        cmd.accepted_at, cmd.route_class, calendar, limits, cmd.carries_appointment_slip_back
    )
    dossier_id = dossier_id_for_item(cmd.item_id)
    item = Item(
        item_id=cmd.item_id,
        kind=ItemKind.DOSSIER,
        dossier_id=dossier_id,
        agency_code=cmd.agency_code,
        post_office_code=cmd.post_office_code,
        service_form=cmd.service_form,
        stage=Stage.ACCEPTED,
        recorded_at=cmd.accepted_at,
        due_date=due,
        fingerprint=fingerprints.fingerprint(cmd),
        procedure_code=procedure.code,
        postage_vnd=cmd.postage_vnd,
    )
    # Version 2: the contact goes to the post office's vault (handlers), never into the event.
    event = DossierAcceptedV2(
        item_id=cmd.item_id,
        procedure_code=cmd.procedure_code,
        agency_code=cmd.agency_code,
        service_form=cmd.service_form,
        channel=cmd.channel,
        held_by=PersonalDataHolder.POST_OFFICE,
        phone_check=phone_check.of_phone(dossier_id, cmd.applicant.phone),
        documents=cmd.documents,
        fee_vnd=cmd.fee_vnd,
        charge_vnd=cmd.charge_vnd,
        postage_vnd=cmd.postage_vnd,
        clerk_id=cmd.clerk_id,
        post_office_code=cmd.post_office_code,
        route_class=cmd.route_class,
        carries_appointment_slip_back=cmd.carries_appointment_slip_back,
        inbound_due_date=due,
        notify_by=cmd.notify_by,
    )
    envelope = item_envelope(
        event, dossier_id, cmd.post_office_code, cmd.accepted_at, event_id_for(cmd.item_id, "accepted")
    )
    return Recorded(item, envelope)


# --------------------------------------------------------------------------- handover to the agency


def record_for(cmd: HandOver) -> HandoverRecord:
    return HandoverRecord(
        record_id=cmd.handover_record_id,
        post_office_code=cmd.post_office_code,
        agency_code=cmd.agency_code,
        postal_worker_id=cmd.postal_worker_id,
        agency_officer_id=cmd.agency_officer_id,
        signed_at=cmd.signed_at,
    )


def check_handover_record(existing: HandoverRecord | None, record: HandoverRecord) -> None:
    """A record number names one signed paper: sent again, it must say the same."""
    if existing is not None and existing != record:
        raise RefusedError(
            Verdict.CONFLICT,
            Reason.HANDOVER_RECORD_CONFLICT,
            f"handover record {record.record_id} was already recorded with another agency, other signers "
            "or another signing time",
        )


def hand_over(item: Item | None, item_id: str, record: HandoverRecord) -> Recorded | Replay:
    """Hand one listed dossier to the agency; its signing time is the filing time."""
    if item is None:
        raise RefusedError(
            Verdict.UNKNOWN, Reason.UNKNOWN_ITEM, f"item {item_id} was never accepted by the post"
        )
    if item.kind is not ItemKind.DOSSIER:
        raise RefusedError(
            Verdict.CONFLICT, Reason.NOT_A_DOSSIER, f"item {item_id} is a result, not an inbound dossier"
        )
    if item.stage is Stage.HANDED_TO_AGENCY:
        if item.handover_record_id == record.record_id:
            return Replay(item)
        raise RefusedError(
            Verdict.CONFLICT,
            Reason.ALREADY_HANDED_OVER,
            f"item {item_id} was already handed over with record {item.handover_record_id}",
        )
    if item.stage not in IN_POSTAL_CUSTODY:
        raise RefusedError(
            Verdict.CONFLICT,
            Reason.NOT_IN_POSTAL_CUSTODY,
            f"item {item_id} is {item.stage.value.lower()}; the post does not hold it",
        )
    if item.agency_code != record.agency_code:
        raise RefusedError(
            Verdict.CONFLICT,
            Reason.WRONG_AGENCY,
            f"item {item_id} is addressed to agency {item.agency_code}, not {record.agency_code}",
        )
    event = DossierHandedToAgency(
        item_id=item.item_id,
        handover_record_id=record.record_id,
        agency_code=record.agency_code,
        post_office_code=record.post_office_code,
        postal_worker_id=record.postal_worker_id,
        agency_officer_id=record.agency_officer_id,
        signed_at=record.signed_at,
    )
    after = replace(item, stage=Stage.HANDED_TO_AGENCY, handover_record_id=record.record_id)
    envelope = item_envelope(
        event,
        item.dossier_id,
        record.post_office_code,
        record.signed_at,
        event_id_for(item.item_id, "handed-to-agency"),
    )
    return Recorded(after, envelope)


# --------------------------------------------------------------------------- result pickup


def pick_up_result(
    cmd: PickUpResult,
    *,
    existing: Item | None,
    dossier_item: Item | None,
    calendar: WorkingCalendar,
    limits: RouteLimits,
) -> Recorded | Replay:
    """Take custody of a result at the agency's desk: a new item on the dossier's return leg.

    With a dossier item id (form SEND_AND_RECEIVE) the dossier must have come by post, to this agency,
    and have been handed over. Without one (form RECEIVE_RESULT, filed at the agency) the agency
    dossier code identifies the dossier.
    """
    if existing is not None:
        if existing.kind is ItemKind.RESULT and fingerprints.matches(existing.fingerprint, cmd):
            return Replay(existing)
        raise RefusedError(
            Verdict.CONFLICT,
            Reason.ITEM_ALREADY_USED,
            f"item {cmd.result_item_id} was already recorded as a {existing.kind.value.lower()} item with "
            "other details; an item id is used once",
        )
    postage: int | None = None
    if cmd.dossier_item_id is None:
        dossier_id = dossier_id_for_agency_code(cmd.agency_dossier_code)
        form = ServiceForm.RECEIVE_RESULT
    else:
        if dossier_item is None:
            raise RefusedError(
                Verdict.UNKNOWN,
                Reason.UNKNOWN_ITEM,
                f"dossier item {cmd.dossier_item_id} was never accepted by the post; leave dossier_item_id "
                "out for a dossier filed at the agency",
            )
        if dossier_item.kind is not ItemKind.DOSSIER:
            raise RefusedError(
                Verdict.CONFLICT,
                Reason.NOT_A_DOSSIER,
                f"item {cmd.dossier_item_id} is a result, not an inbound dossier",
            )
        if dossier_item.service_form is ServiceForm.SEND_DOSSIER:
            raise RefusedError(
                Verdict.CONFLICT,
                Reason.RESULT_NOT_BY_POST,
                f"dossier item {cmd.dossier_item_id} was sent with form SEND_DOSSIER: the citizen collects "
                "the result in person",
            )
        if dossier_item.stage is not Stage.HANDED_TO_AGENCY:
            raise RefusedError(
                Verdict.CONFLICT,
                Reason.DOSSIER_NOT_HANDED_OVER,
                f"dossier item {cmd.dossier_item_id} is {dossier_item.stage.value.lower()}, not handed to "
                "the agency",
            )
        if dossier_item.agency_code != cmd.agency_code:
            raise RefusedError(
                Verdict.CONFLICT,
                Reason.WRONG_AGENCY,
                f"dossier item {cmd.dossier_item_id} went to agency {dossier_item.agency_code}, not "
                f"{cmd.agency_code}",
            )
        dossier_id = dossier_item.dossier_id
        form = dossier_item.service_form
        postage = dossier_item.postage_vnd  # SEND_AND_RECEIVE postage covers the return leg
    due = postal_due_date(cmd.picked_up_at, cmd.route_class, calendar, limits)
    item = Item(
        item_id=cmd.result_item_id,
        kind=ItemKind.RESULT,
        dossier_id=dossier_id,
        agency_code=cmd.agency_code,
        post_office_code=cmd.post_office_code,
        service_form=form,
        stage=Stage.RESULT_PICKED_UP,
        recorded_at=cmd.picked_up_at,
        due_date=due,
        fingerprint=fingerprints.fingerprint(cmd),
        postage_vnd=postage,
        dossier_item_id=cmd.dossier_item_id,
        agency_dossier_code=cmd.agency_dossier_code,
    )
    event = ResultPickedUp(
        result_item_id=cmd.result_item_id,
        dossier_item_id=cmd.dossier_item_id,
        agency_dossier_code=cmd.agency_dossier_code,
        pickup_record_id=cmd.pickup_record_id,
        agency_code=cmd.agency_code,
        post_office_code=cmd.post_office_code,
        postal_worker_id=cmd.postal_worker_id,
        agency_officer_id=cmd.agency_officer_id,
        route_class=cmd.route_class,
        return_due_date=due,
    )
    envelope = item_envelope(
        event,
        dossier_id,
        cmd.post_office_code,
        cmd.picked_up_at,
        event_id_for(cmd.result_item_id, "picked-up"),
    )
    return Recorded(item, envelope)


# --------------------------------------------------------------------------- loss and damage


def _check_incident(item: Item | None, cmd: ReportIncident) -> Item:
    if item is None:
        raise RefusedError(
            Verdict.UNKNOWN, Reason.UNKNOWN_ITEM, f"item {cmd.item_id} was never recorded by the post"
        )
    if item.stage not in IN_POSTAL_CUSTODY:
        raise RefusedError(
            Verdict.CONFLICT,
            Reason.NOT_IN_POSTAL_CUSTODY,
            f"item {item.item_id} is {item.stage.value.lower()}; the post does not hold it",
        )
    minimum = (item.postage_vnd or 0) * COMPENSATION_POSTAGE_MULTIPLE
    if cmd.at_fault and cmd.compensation_vnd is not None and cmd.compensation_vnd < minimum:
        raise RefusedError(
            Verdict.INVALID,
            Reason.COMPENSATION_BELOW_MINIMUM,
            f"at fault, the post pays at least {COMPENSATION_POSTAGE_MULTIPLE}× the postage: "
            f"{minimum} VND for item {item.item_id}",
        )
    return item


def declare_lost(item: Item | None, cmd: ReportIncident) -> Recorded:
    """The item is lost while the post held it; nothing more can happen to it."""
    held = _check_incident(item, cmd)
    event = ItemLost(
        item_id=held.item_id,
        item_kind=held.kind,
        stage=held.stage,
        post_office_code=cmd.post_office_code,
        reported_by=cmd.reported_by,
        at_fault=cmd.at_fault,
        compensation_vnd=cmd.compensation_vnd,
    )
    envelope = item_envelope(
        event, held.dossier_id, cmd.post_office_code, cmd.reported_at, event_id_for(held.item_id, "lost")
    )
    return Recorded(replace(held, stage=Stage.LOST), envelope)


def record_damage(item: Item | None, cmd: ReportIncident) -> Recorded:
    """The item was found damaged; it goes on its way (custody and stage do not change)."""
    held = _check_incident(item, cmd)
    event = ItemDamaged(
        item_id=held.item_id,
        item_kind=held.kind,
        stage=held.stage,
        post_office_code=cmd.post_office_code,
        reported_by=cmd.reported_by,
        at_fault=cmd.at_fault,
        compensation_vnd=cmd.compensation_vnd,
    )
    # One report per item and moment: a retry of the same report gets the same event id.
    step = f"damaged/{cmd.reported_at.timestamp():.6f}"
    envelope = item_envelope(
        event, held.dossier_id, cmd.post_office_code, cmd.reported_at, event_id_for(held.item_id, step)
    )
    return Recorded(held, envelope)
