"""The agency's part of a dossier's journey: its states, the reports a desk makes, and the rules.

One state machine serves both ways in: an officer's HTTP report is first *composed* into the complete
event (the service fills in what the record knows and computes what the rules decide), then every
event — composed or published by an agency system on the intake topic — is *accepted* against the
dossier's record, which checks who reports, what makes sense in the current state, and that the
computed fields agree with the record. Pure: no I/O; times are passed in.

The reports each state allows (any other is a conflict: 409 on the API, a dead letter on the intake)::

    ANNOUNCED             accepted by the post, not handed over   nothing yet
    FILED                 handed over, or registered at the desk  received, refused, supplement requested,
                                                                  withdrawn
    RECEIVED, PROCESSING  the clock runs                          processing, delay notified (once),
                                                                  supplement requested, result ready,
                                                                  withdrawn
    AWAITING_SUPPLEMENT   the clock is stopped                    supplement received (back to FILED, or to
                                                                  RECEIVED with a new due date), withdrawn,
                                                                  refused (if never received), closed
    REFUSED, WITHDRAWN, RESULT_READY, CLOSED                      nothing (after closure: dossier_closed)

A dossier still awaiting its supplement when the closure period of the rules in force on the day of the
request ends is closed by the service itself (`due_closure`): Decree 118/2025 Art. 19(5), 15 calendar
days after the notice, the notice day not counted (Civil Code Art. 147). The applicant has the whole of
the period's last day; the closure happens when it ends, at 00:00 (Vietnam time) of the next day. A
working-day period ends with the last of its working days, counted by the working calendar. Decree 61
sets no period: a dossier whose request fell under it is never closed automatically. An officer may
close a dossier awaiting its supplement with a reason of their own (`supplement_declined`, `other`).

Legal parameters (cut-off hour, supplement requests and their window, apology-slip lead time and count)
are `LegalRules` read from deploy/rules, each applied as in force on the day of the fact it judges:
Decree 118/2025/NĐ-CP replaced Decree 61/2018/NĐ-CP on 1/7/2025. A supplement request the rules do not
allow (a second one, or one after the window) is recorded and flagged, never refused.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from contracts.enums import ClosureReason, ItemKind, Outcome, PersonalDataHolder, ServiceForm
from contracts.events import (
    AgencyEvent,
    DelayNotified,
    DossierAccepted,
    DossierAcceptedV2,
    DossierClosed,
    DossierHandedToAgency,
    DossierProcessing,
    DossierReceived,
    DossierRefused,
    DossierRegisteredForReturn,
    DossierRegisteredForReturnV2,
    DossierWithdrawn,
    Event,
    ResultReady,
    SupplementReceived,
    SupplementRequested,
)
from contracts.values import (
    dossier_id_for_agency_code,
    dossier_id_for_item,
    parse_agency_code,
    parse_agency_dossier_code,
    parse_s10,
)
from services.agency import commands as cmd
from services.agency.policy import Policy
from services.agency.rejections import Reason, ReportRejectedError
from services.shared.calendar import to_vietnam_time
from services.shared.catalog import UnknownProcedureError
from services.shared.personal_data.phone_check import PhoneDigest

AGENCY_SOURCE_PREFIX = "/agencies/"
AUTOMATIC_OFFICER = "system:closure"
"""The officer_id of a closure the agency service publishes on its own (a staff id, never a person)."""


class Status(StrEnum):
    """Where a dossier is, as far as the agency is concerned."""

    ANNOUNCED = "ANNOUNCED"
    """The post office accepted it for this agency; not handed over yet."""
    FILED = "FILED"
    """Filed with the agency (handover record signed, or registered after filing in person or online);
    the desk has not issued its receipt yet."""
    RECEIVED = "RECEIVED"
    """Received with an agency dossier code and an appointment date; the clock runs."""
    PROCESSING = "PROCESSING"
    """With the competent department; the clock runs."""
    AWAITING_SUPPLEMENT = "AWAITING_SUPPLEMENT"
    """Documents were requested; the clock is stopped."""
    REFUSED = "REFUSED"
    """Not accepted for processing (final)."""
    WITHDRAWN = "WITHDRAWN"
    """Withdrawn by the citizen (final)."""
    RESULT_READY = "RESULT_READY"
    """The result is ready (final for the agency)."""
    CLOSED = "CLOSED"
    """Closed: the supplement never came within the closure period, or an officer closed it (final)."""


FINAL = frozenset({Status.REFUSED, Status.WITHDRAWN, Status.RESULT_READY, Status.CLOSED})


@dataclass(frozen=True)
class Dossier:
    """The agency's record of one dossier."""

    dossier_id: str
    agency_code: str
    """The agency the dossier is addressed to: the only one that may report on it."""
    status: Status
    sequence: int = 0
    """Agency events recorded for the dossier; the next event id of an HTTP report derives from it."""
    service_form: ServiceForm | None = None
    item_id: str | None = None
    """The inbound postal item, for a dossier that came by post."""
    procedure_code: str | None = None
    agency_dossier_code: str | None = None
    filed_at: datetime | None = None
    """The filing time the clock counts from: handover signing, filing in person or online, or the
    arrival of the latest supplement."""
    filing_day: date | None = None
    received_at: datetime | None = None
    """When the desk recorded its receipt; None until then."""
    legal_due_date: date | None = None
    appointment_date: date | None = None
    due_date: date | None = None
    """The date the clock runs to now: the legal due date, or the apology slip's new date; None while
    the clock is stopped or finished."""
    delay_notices: int = 0
    delay_breach: bool | None = None
    supplement_requests: int = 0
    """Supplement requests recorded on the dossier (the rules allow one; more are flagged)."""
    supplement_requested_at: datetime | None = None
    closure_due_at: datetime | None = None
    """When the dossier is closed if still awaiting its supplement; None when no period applies."""
    supplement_item_id: str | None = None
    supplement_handed_at: datetime | None = None
    """When the post handed over the latest supplement item (its own handover record)."""
    outcome: Outcome | None = None
    last_fact: str | None = None
    """The event type of the latest fact of the dossier's journey at the agency (the handover, the
    registration, then each report): a report cannot have happened before it."""
    last_fact_at: datetime | None = None
    """When that fact happened."""


def next_event_id(dossier: Dossier | None, dossier_id: str, event_type: str) -> uuid.UUID:
    """The id of the next event recorded for a dossier: a retry after a failed publication gets the same one.

    Derived from the dossier, the number of events recorded so far and the type, so two different
    reports never share an id while a retry of the same report (nothing was recorded) reuses it.
    """
    sequence = dossier.sequence if dossier is not None else 0
    return uuid.uuid5(uuid.UUID(dossier_id), f"agency:{sequence + 1}:{event_type}")


# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class DossierRef:
    """What an officer knows a dossier by: the inbound item id, or the agency dossier code."""

    item_id: str | None = None
    agency_dossier_code: str | None = None

    @property
    def derived_id(self) -> str | None:
        """The dossier id when the reference determines it (an inbound item id)."""
        return dossier_id_for_item(self.item_id) if self.item_id else None


def parse_reference(text: str) -> DossierRef:
    """An S10 item id or an agency dossier code; ValueError (safe to show) for anything else."""
    value = text.strip()
    if "-" in value:
        return DossierRef(agency_dossier_code=parse_agency_dossier_code(value))
    return DossierRef(item_id=parse_s10(value))


def agency_of_source(source: str) -> str | None:
    """The agency code in an envelope source `/agencies/<code>`, or None for any other producer."""
    if not source.startswith(AGENCY_SOURCE_PREFIX):
        return None
    try:
        return parse_agency_code(source.removeprefix(AGENCY_SOURCE_PREFIX))
    except ValueError:
        return None


def agency_of_code(agency_dossier_code: str) -> str:
    # An agency code holds no dash (contracts.values): the agency is what comes before the first one.
    return agency_dossier_code.partition("-")[0]


# --------------------------------------------------------------------------- learning from the post


def learn(dossier: Dossier | None, dossier_id: str, event: Event, policy: Policy) -> Dossier | None:
    """The record after a postal event: which agency a dossier is addressed to, and its filing time.

    Returns None when the event tells the agency nothing (other postal stages, unknown dossiers'
    supplements). The handover names the agency that signed for the dossier: it is the one that holds
    it and may report on it, even where the acceptance named another.
    """
    if isinstance(event, DossierAccepted | DossierAcceptedV2):
        if dossier is None:
            return Dossier(
                dossier_id=dossier_id,
                agency_code=event.agency_code,
                status=Status.ANNOUNCED,
                service_form=event.service_form,
                item_id=event.item_id,
                procedure_code=event.procedure_code,
            )
        return replace(
            dossier,
            service_form=dossier.service_form or event.service_form,
            item_id=dossier.item_id or event.item_id,
            procedure_code=dossier.procedure_code or event.procedure_code,
        )
    if isinstance(event, DossierHandedToAgency):
        if event.item_kind is ItemKind.SUPPLEMENT:
            if dossier is None:
                return None
            return replace(dossier, supplement_item_id=event.item_id, supplement_handed_at=event.signed_at)
        base = dossier or Dossier(
            dossier_id=dossier_id,
            agency_code=event.agency_code,
            status=Status.ANNOUNCED,
            item_id=event.item_id,
        )
        if base.status is not Status.ANNOUNCED:
            return dossier  # a repeated handover record changes nothing once filed
        return replace(
            base,
            agency_code=event.agency_code,
            status=Status.FILED,
            filed_at=event.signed_at,
            filing_day=policy.filing_day(event.signed_at),
            last_fact=event.type,
            last_fact_at=event.signed_at,
        )
    return dossier


# --------------------------------------------------------------------------- composing an officer's report


@dataclass(frozen=True)
class Actor:
    """Who reports: an officer of one agency (from the credential)."""

    agency_code: str
    officer_id: str


def compose(dossier: Dossier, report: cmd.Report, actor: Actor, now: datetime, policy: Policy) -> AgencyEvent:
    """The complete event of an officer's report: what the record knows and the rules compute, filled in.

    `now` is when the report is recorded; the act happened at the report's `occurred_at`, if given.
    Raises ReportRejectedError for another agency's dossier or a report its current state does not allow.
    """
    _authorise(dossier, actor.agency_code)
    desk = {"agency_code": actor.agency_code, "officer_id": actor.officer_id, "recorded_at": now}
    at = report.occurred_at or now
    code = dossier.agency_dossier_code
    match report:
        case cmd.ReceiveDossier():
            _check_state(dossier, DossierReceived)
            procedure = report.procedure_code or dossier.procedure_code
            if procedure is None:
                raise ReportRejectedError(
                    Reason.MISSING_PROCEDURE,
                    "the record names no procedure for this dossier; give procedure_code",
                )
            assert dossier.filed_at is not None  # FILED always has a filing time
            legal = policy.legal_due_date(dossier.filed_at, procedure)
            return DossierReceived(
                **desk,
                agency_dossier_code=report.agency_dossier_code,
                procedure_code=procedure,
                item_id=dossier.item_id,
                filed_at=dossier.filed_at,
                legal_due_date=legal,
                appointment_date=report.appointment_date,
                appointment_later_than_legal=report.appointment_date > legal,
            )
        case cmd.RefuseDossier():
            return DossierRefused(
                **desk, agency_dossier_code=report.agency_dossier_code or code, reason=report.reason
            )
        case cmd.RequestSupplement():
            judged = policy.judge_supplement_request(dossier, at)
            return SupplementRequested(
                **desk,
                agency_dossier_code=report.agency_dossier_code or code,
                missing_documents=report.missing_documents,
                reason=report.reason,
                request_number=judged.request_number,
                window_ends_on=judged.window_ends_on,
                rule_set=judged.rule_set,
                breach=bool(judged.breaches),
                breach_reasons=judged.breaches,
            )
        case cmd.ReceiveSupplement():
            _check_state(dossier, SupplementReceived)
            item_id, received_at = report.supplement_item_id, report.received_at or report.occurred_at
            if report.received_at and report.occurred_at and report.received_at != report.occurred_at:
                raise ReportRejectedError(
                    Reason.TIMES_DISAGREE, "received_at and occurred_at are two times for one arrival"
                )
            if received_at is None:
                item_id, received_at = _supplement_by_post(dossier, item_id)
            return SupplementReceived(
                **desk, agency_dossier_code=code, received_at=received_at, supplement_item_id=item_id
            )
        case cmd.StartProcessing():
            _check_state(dossier, DossierProcessing)
            assert code is not None  # received dossiers have a code
            return DossierProcessing(**desk, agency_dossier_code=code, department=report.department)
        case cmd.NotifyDelay():
            _check_state(dossier, DelayNotified)
            issued_on = report.issued_on or to_vietnam_time(at).date()
            _check_delay_allowed(dossier, policy, issued_on)
            assert code is not None and dossier.due_date is not None
            if report.occurred_at is not None and issued_on != to_vietnam_time(at).date():
                raise ReportRejectedError(
                    Reason.TIMES_DISAGREE, "issued_on is not the day of occurred_at (Vietnam time)"
                )
            return DelayNotified(
                **desk,
                agency_dossier_code=code,
                previous_due_date=dossier.due_date,
                new_due_date=report.new_due_date,
                reason=report.reason,
                issued_on=issued_on,
                breach=policy.delay_breach(issued_on, dossier.due_date),
            )
        case cmd.WithdrawDossier():
            return DossierWithdrawn(**desk, agency_dossier_code=code, reason=report.reason)
        case cmd.CloseDossier():
            _check_state(dossier, DossierClosed)
            return DossierClosed(
                **desk,
                agency_dossier_code=code,
                reason=report.reason,
                note=report.note,
                automatic=False,
                supplement_requested_at=dossier.supplement_requested_at,
            )
        case cmd.ReadyResult():
            _check_state(dossier, ResultReady)
            assert code is not None
            return ResultReady(
                **desk,
                agency_dossier_code=code,
                outcome=report.outcome,
                result_reference=report.result_reference,
            )
    raise TypeError(f"no report {type(report).__name__}")  # pragma: no cover


def due_closure(dossier: Dossier, now: datetime, policy: Policy) -> DossierClosed | None:
    """The automatic closure of a dossier still awaiting its supplement once its closure period has
    ended at `now`; None when it is not due (another state, no period, the period still running).
    Its occurrence time is the period's end (`closure_due`), whenever the job runs."""
    if dossier.status is not Status.AWAITING_SUPPLEMENT or dossier.supplement_requested_at is None:
        return None
    due = policy.closure_due(dossier.supplement_requested_at)
    if due is None or now < due.closes_at:
        return None
    return DossierClosed(
        agency_code=dossier.agency_code,
        officer_id=AUTOMATIC_OFFICER,
        recorded_at=now,
        agency_dossier_code=dossier.agency_dossier_code,
        reason=ClosureReason.SUPPLEMENT_NOT_COMPLETED,
        automatic=True,
        supplement_requested_at=dossier.supplement_requested_at,
        period_days=due.period.days,
        period_unit=due.period.unit,
        period_ended_on=due.period_ended_on,
        rule_set=due.rule_set,
    )


def closure_time(dossier: Dossier, policy: Policy) -> datetime:
    """When an automatic closure happened: the end of its period's last day."""
    assert dossier.supplement_requested_at is not None
    due = policy.closure_due(dossier.supplement_requested_at)
    assert due is not None
    return due.closes_at


def occurrence_time(report: cmd.Report, event: AgencyEvent, now: datetime) -> datetime:
    """When the reported act happened: the envelope's time, which the clocks count from.

    A supplement's receipt happened when the supplement arrived; any other report at its `occurred_at`,
    or when it is recorded (`now`) if it names no time.
    """
    if isinstance(event, SupplementReceived):
        return event.received_at
    return report.occurred_at or now


def compose_registration(
    report: cmd.RegisterForReturn, actor: Actor, phone_check: PhoneDigest
) -> DossierRegisteredForReturnV2:
    """Version 2: the contact and the delivery address go to the agency's vault, never into the event."""
    dossier_id = dossier_id_for_agency_code(report.agency_dossier_code)
    return DossierRegisteredForReturnV2(
        agency_code=actor.agency_code,
        officer_id=actor.officer_id,
        agency_dossier_code=report.agency_dossier_code,
        procedure_code=report.procedure_code,
        filing_channel=report.filing_channel,
        filed_at=report.filed_at,
        held_by=PersonalDataHolder.AGENCY,
        phone_check=phone_check.of_phone(dossier_id, report.applicant.phone),
        notify_by=report.notify_by,
    )


def _supplement_by_post(dossier: Dossier, item_id: str | None) -> tuple[str, datetime]:
    handed = dossier.supplement_handed_at
    requested = dossier.supplement_requested_at
    if (
        handed is not None
        and dossier.supplement_item_id is not None
        and item_id in (None, dossier.supplement_item_id)
        and (requested is None or handed >= requested)
    ):
        return dossier.supplement_item_id, handed
    raise ReportRejectedError(
        Reason.MISSING_RECEIVED_AT,
        "give received_at: no handover of a supplement by post is known since the request",
    )


# --------------------------------------------------------------------------- accepting an event


def accept(
    dossier: Dossier | None,
    event: Event,
    *,
    subject: str,
    source: str,
    occurred_at: datetime,
    now: datetime,
    policy: Policy,
    code_holder: str | None = None,
) -> Dossier:
    """The record after an agency event, or ReportRejectedError with the reason.

    `subject` is the envelope's dossier id, `source` its producer, `occurred_at` its time (when the act
    happened), `now` the service's clock; `code_holder` is the dossier that already holds the event's
    agency dossier code, if any. The same checks apply to an officer's composed report and to an agency
    system's raw message: neither may have happened in the future, nor before the fact it follows.
    """
    if not isinstance(event, AgencyEvent):
        raise ReportRejectedError(Reason.NOT_AN_AGENCY_EVENT, f"{event.type} is not an agency event")
    reporter = agency_of_source(source)
    if reporter != event.agency_code:
        raise ReportRejectedError(
            Reason.SOURCE_MISMATCH,
            f"the source must be {AGENCY_SOURCE_PREFIX}{event.agency_code}, the agency reporting",
        )
    _not_in_future(occurred_at, now, policy, "the report's time")
    if event.recorded_at is not None:  # an agency system's own recording time: not after now, either
        _not_in_future(event.recorded_at, now, policy, "recorded_at")
        _not_in_future(occurred_at, event.recorded_at, policy, "the report's time (after recorded_at)")
    if isinstance(event, DossierRegisteredForReturn | DossierRegisteredForReturnV2):
        return _register(dossier, event, subject, now, policy, code_holder)
    if dossier is None:
        raise ReportRejectedError(
            Reason.UNKNOWN_DOSSIER, "no dossier with this id is known to the agency service"
        )
    _authorise(dossier, event.agency_code)
    _check_state(dossier, type(event))
    new_code = _code_after(
        dossier, getattr(event, "agency_dossier_code", None), event.agency_code, code_holder
    )
    # A supplement's receipt happened when it arrived, which its event says (an agency system may
    # publish the envelope at another time).
    fact_at = occurred_at
    if isinstance(event, SupplementReceived):
        fact_at = event.received_at
        _not_in_future(fact_at, now, policy, "received_at")
    _not_before_previous_fact(dossier, event.type, fact_at)
    moved = replace(
        dossier,
        sequence=dossier.sequence + 1,
        agency_dossier_code=new_code,
        last_fact=event.type,
        last_fact_at=fact_at,
    )
    match event:
        case DossierReceived():
            return _received(moved, event, occurred_at, policy)
        case DossierRefused():
            return replace(moved, status=Status.REFUSED, due_date=None)
        case SupplementRequested():
            return _supplement_requested(moved, dossier, event, occurred_at, policy)
        case SupplementReceived():
            return _supplement_received(moved, event, policy)
        case DossierProcessing():
            return replace(moved, status=Status.PROCESSING)
        case DelayNotified():
            return _delay_notified(moved, event, now, policy)
        case DossierWithdrawn():
            return replace(moved, status=Status.WITHDRAWN, due_date=None)
        case DossierClosed():
            return _closed(moved, dossier, event, occurred_at, policy)
        case ResultReady():
            return replace(moved, status=Status.RESULT_READY, outcome=event.outcome, due_date=None)
    raise TypeError(f"no rule for {event.type}")  # pragma: no cover


def _register(
    dossier: Dossier | None,
    event: DossierRegisteredForReturn | DossierRegisteredForReturnV2,
    subject: str,
    now: datetime,
    policy: Policy,
    code_holder: str | None,
) -> Dossier:
    code = event.agency_dossier_code
    if agency_of_code(code) != event.agency_code:
        raise ReportRejectedError(
            Reason.CODE_OF_ANOTHER_AGENCY, f"{code} is a code of agency {agency_of_code(code)}"
        )
    if subject != dossier_id_for_agency_code(code):
        raise ReportRejectedError(
            Reason.WRONG_SUBJECT, "the subject of a registration is the dossier id derived from its code"
        )
    try:
        procedure = policy.catalog.get(event.procedure_code)
    except UnknownProcedureError:
        raise ReportRejectedError(
            Reason.UNKNOWN_PROCEDURE, f"procedure {event.procedure_code} is not in the procedure catalog"
        ) from None
    if not procedure.by_post:
        raise ReportRejectedError(
            Reason.PROCEDURE_NOT_BY_POST,
            f"procedure {procedure.code} cannot go by post: {procedure.not_by_post_reason}",
        )
    _not_in_future(event.filed_at, now, policy, "filed_at")
    if dossier is not None:
        raise ReportRejectedError(Reason.ALREADY_REGISTERED, f"dossier {code} is already registered")
    if code_holder is not None and code_holder != subject:
        raise ReportRejectedError(Reason.CODE_IN_USE, f"{code} is already the code of another dossier")
    return Dossier(
        dossier_id=subject,
        agency_code=event.agency_code,
        status=Status.FILED,
        sequence=1,
        service_form=ServiceForm.RECEIVE_RESULT,
        procedure_code=event.procedure_code,
        agency_dossier_code=code,
        filed_at=event.filed_at,
        filing_day=policy.filing_day(event.filed_at),
        last_fact=event.type,
        last_fact_at=event.filed_at,
    )


def _received(dossier: Dossier, event: DossierReceived, occurred_at: datetime, policy: Policy) -> Dossier:
    if event.item_id is not None and dossier.item_id is not None and event.item_id != dossier.item_id:
        raise ReportRejectedError(Reason.INCONSISTENT, "item_id: not the inbound item of this dossier")
    if (
        event.item_id is not None
        and dossier.item_id is None
        and dossier.dossier_id != dossier_id_for_item(event.item_id)
    ):
        raise ReportRejectedError(Reason.INCONSISTENT, "item_id: not the inbound item of this dossier")
    assert dossier.filed_at is not None
    if event.filed_at != dossier.filed_at:
        raise ReportRejectedError(
            Reason.INCONSISTENT, f"filed_at: the filing time on record is {dossier.filed_at.isoformat()}"
        )
    legal = policy.legal_due_date(dossier.filed_at, event.procedure_code)
    if event.legal_due_date != legal:
        raise ReportRejectedError(Reason.INCONSISTENT, f"legal_due_date: the rules give {legal.isoformat()}")
    filing_day = policy.filing_day(dossier.filed_at)
    if event.appointment_date < filing_day:
        raise ReportRejectedError(
            Reason.APPOINTMENT_BEFORE_FILING,
            f"the appointment date is before the filing day {filing_day.isoformat()}",
        )
    return replace(
        dossier,
        status=Status.RECEIVED,
        procedure_code=event.procedure_code,
        item_id=dossier.item_id or event.item_id,
        filing_day=filing_day,
        received_at=occurred_at,
        legal_due_date=legal,
        appointment_date=event.appointment_date,
        due_date=legal,
    )


def _supplement_received(dossier: Dossier, event: SupplementReceived, policy: Policy) -> Dossier:
    # The clock restarts from zero: the supplement's arrival is the new filing time.
    restarted = replace(
        dossier,
        filed_at=event.received_at,
        filing_day=policy.filing_day(event.received_at),
        closure_due_at=None,
        supplement_item_id=event.supplement_item_id or dossier.supplement_item_id,
    )
    if dossier.received_at is None:
        return replace(restarted, status=Status.FILED)
    assert dossier.procedure_code is not None
    legal = policy.legal_due_date(event.received_at, dossier.procedure_code)
    return replace(
        restarted, status=Status.RECEIVED, legal_due_date=legal, appointment_date=None, due_date=legal
    )


def with_judgement(dossier: Dossier | None, event: Event, occurred_at: datetime, policy: Policy) -> Event:
    """An agency system's supplement request that carries no judgement, completed with the rules' (the
    same act, the same event id), so the breach reaches every consumer as an officer's report does.
    Any other event, or a request that carries its own judgement (checked by `accept`), is unchanged."""
    if not isinstance(event, SupplementRequested) or event.breach is not None or dossier is None:
        return event
    judged = policy.judge_supplement_request(dossier, occurred_at)
    return event.model_copy(
        update={
            "request_number": judged.request_number,
            "window_ends_on": judged.window_ends_on,
            "rule_set": judged.rule_set,
            "breach": bool(judged.breaches),
            "breach_reasons": judged.breaches,
        }
    )


def _supplement_requested(
    moved: Dossier, before: Dossier, event: SupplementRequested, occurred_at: datetime, policy: Policy
) -> Dossier:
    # An agency system's request may carry no judgement (breach absent): it is recorded as it came, and
    # counted. One that carries a judgement must agree with the rules, like an apology slip's breach.
    judged = policy.judge_supplement_request(before, occurred_at)
    if event.breach is not None and (
        event.breach_reasons != judged.breaches
        or event.request_number not in (None, judged.request_number)
        or event.window_ends_on not in (None, judged.window_ends_on)
    ):
        reasons = ", ".join(judged.breaches) or "none"
        raise ReportRejectedError(
            Reason.INCONSISTENT,
            f"breach_reasons: request {judged.request_number} under {judged.rule_set} breaks the rules by: "
            f"{reasons}",
        )
    due = policy.closure_due(occurred_at)
    return replace(
        moved,
        status=Status.AWAITING_SUPPLEMENT,
        supplement_requested_at=occurred_at,
        supplement_requests=judged.request_number,
        due_date=None,
        closure_due_at=due.closes_at if due else None,
    )


def _closed(
    moved: Dossier, before: Dossier, event: DossierClosed, occurred_at: datetime, policy: Policy
) -> Dossier:
    # An automatic closure must be the one the rules give: the period of the rules in force on the day
    # of the request, ended by the closure's time (an agency system's closure is held to the same).
    if event.automatic:
        requested = before.supplement_requested_at
        due = policy.closure_due(requested) if requested is not None else None
        if (
            due is None
            or event.supplement_requested_at != requested
            or (event.period_days, event.period_unit) != (due.period.days, due.period.unit)
            or event.period_ended_on != due.period_ended_on
            or event.rule_set != due.rule_set
            or occurred_at < due.closes_at
        ):
            expected = f"at {due.closes_at.isoformat()} under {due.rule_set}" if due else "never"
            raise ReportRejectedError(
                Reason.INCONSISTENT, f"automatic closure: the rules close this dossier {expected}"
            )
    return replace(moved, status=Status.CLOSED, due_date=None, closure_due_at=None)


def _delay_notified(dossier: Dossier, event: DelayNotified, now: datetime, policy: Policy) -> Dossier:
    _check_delay_allowed(dossier, policy, event.issued_on)
    assert dossier.due_date is not None
    if event.previous_due_date != dossier.due_date:
        raise ReportRejectedError(
            Reason.INCONSISTENT,
            f"previous_due_date: the due date on record is {dossier.due_date.isoformat()}",
        )
    if event.new_due_date <= dossier.due_date:
        raise ReportRejectedError(
            Reason.NEW_DATE_NOT_LATER,
            f"the new date must be after the current due date {dossier.due_date.isoformat()}",
        )
    today = to_vietnam_time(now + policy.rules.clock_skew).date()
    if event.issued_on > today:
        raise ReportRejectedError(Reason.TIME_IN_FUTURE, "issued_on is after today (Vietnam time)")
    if dossier.filing_day is not None and event.issued_on < dossier.filing_day:
        raise ReportRejectedError(
            Reason.ISSUED_BEFORE_FILING,
            f"issued_on is before the filing day {dossier.filing_day.isoformat()}",
        )
    breach = policy.delay_breach(event.issued_on, dossier.due_date)
    if event.breach != breach:
        raise ReportRejectedError(
            Reason.INCONSISTENT,
            f"breach: a slip issued on {event.issued_on.isoformat()} for a due date of "
            f"{dossier.due_date.isoformat()} is {'' if breach else 'not '}a breach",
        )
    return replace(
        dossier,
        due_date=event.new_due_date,
        delay_notices=dossier.delay_notices + 1,
        delay_breach=breach,
    )


# --------------------------------------------------------------------------- the checks


def _authorise(dossier: Dossier, agency_code: str) -> None:
    if dossier.agency_code != agency_code:
        raise ReportRejectedError(Reason.ANOTHER_AGENCY, "the dossier is addressed to another agency")


# Which states each report makes sense in.
_ALLOWED: dict[type[AgencyEvent], frozenset[Status]] = {
    DossierReceived: frozenset({Status.FILED}),
    DossierRefused: frozenset({Status.FILED, Status.AWAITING_SUPPLEMENT}),
    SupplementRequested: frozenset({Status.FILED, Status.RECEIVED, Status.PROCESSING}),
    SupplementReceived: frozenset({Status.AWAITING_SUPPLEMENT}),
    DossierProcessing: frozenset({Status.RECEIVED, Status.PROCESSING}),
    DelayNotified: frozenset({Status.RECEIVED, Status.PROCESSING}),
    DossierWithdrawn: frozenset(
        {Status.FILED, Status.RECEIVED, Status.PROCESSING, Status.AWAITING_SUPPLEMENT}
    ),
    ResultReady: frozenset({Status.RECEIVED, Status.PROCESSING}),
    DossierClosed: frozenset({Status.AWAITING_SUPPLEMENT}),
}

_FINAL_REASONS = {
    Status.WITHDRAWN: (
        Reason.DOSSIER_WITHDRAWN,
        "the citizen withdrew the dossier; nothing more can be reported",
    ),
    Status.REFUSED: (Reason.DOSSIER_REFUSED, "the dossier was refused; nothing more can be reported"),
    Status.RESULT_READY: (
        Reason.RESULT_ALREADY_READY,
        "the result is already ready; nothing more can be reported",
    ),
    Status.CLOSED: (
        Reason.DOSSIER_CLOSED,
        "the agency closed the dossier (its supplement did not come); nothing more can be reported",
    ),
}


def _check_state(dossier: Dossier, kind: type[AgencyEvent]) -> None:
    """ReportRejectedError (conflict) when the report makes no sense in the dossier's current state."""
    status = dossier.status
    if status in FINAL:
        reason, detail = _FINAL_REASONS[status]
        raise ReportRejectedError(reason, detail)
    if status is Status.ANNOUNCED:
        raise ReportRejectedError(
            Reason.NOT_HANDED_OVER,
            "the post office has not reported the signed handover record for this dossier",
        )
    received = dossier.received_at is not None
    if status in _ALLOWED[kind] and not (kind is DossierRefused and received):
        return
    if kind is DossierRefused or (kind is DossierReceived and received):
        raise ReportRejectedError(
            Reason.ALREADY_RECEIVED,
            "the dossier was already received"
            + ("; a received dossier is denied with a result, not refused" if kind is DossierRefused else ""),
        )
    if status is Status.AWAITING_SUPPLEMENT:
        raise ReportRejectedError(
            Reason.AWAITING_SUPPLEMENT, "a supplement was requested and has not been received"
        )
    if kind is SupplementReceived or kind is DossierClosed:
        raise ReportRejectedError(
            Reason.NO_SUPPLEMENT_REQUESTED, "no supplement was requested for this dossier"
        )
    raise ReportRejectedError(
        Reason.NOT_RECEIVED, "the dossier has not been received (no receipt and appointment slip)"
    )


def _check_delay_allowed(dossier: Dossier, policy: Policy, issued_on: date) -> None:
    allowed = policy.delay_notices_allowed(issued_on)
    if allowed is not None and dossier.delay_notices >= allowed:
        raise ReportRejectedError(
            Reason.DELAY_ALREADY_NOTIFIED,
            f"an apology slip was already issued; at most {allowed} per dossier",
        )


def _code_after(dossier: Dossier, given: str | None, agency_code: str, holder: str | None) -> str | None:
    """The dossier's agency code after a report naming `given` (None: the report names none)."""
    if given is None:
        return dossier.agency_dossier_code
    if dossier.agency_dossier_code is not None and given != dossier.agency_dossier_code:
        raise ReportRejectedError(
            Reason.CODE_MISMATCH, f"the dossier's code is {dossier.agency_dossier_code}"
        )
    if agency_of_code(given) != agency_code:
        raise ReportRejectedError(
            Reason.CODE_OF_ANOTHER_AGENCY, f"{given} is a code of agency {agency_of_code(given)}"
        )
    if holder is not None and holder != dossier.dossier_id:
        raise ReportRejectedError(Reason.CODE_IN_USE, f"{given} is already the code of another dossier")
    return given


def _not_in_future(moment: datetime, now: datetime, policy: Policy, name: str) -> None:
    skew = policy.rules.clock_skew
    if moment > now + skew:
        raise ReportRejectedError(
            Reason.TIME_IN_FUTURE,
            f"{name} lies in the future; at most {int(skew.total_seconds())} s of clock skew is allowed",
        )


def _not_before_previous_fact(dossier: Dossier, kind: str, at: datetime) -> None:
    """Facts of one dossier happen in the order they are reported: a report recorded late still comes
    after what it follows (the receipt after the handover, the result after the receipt, …)."""
    previous, previous_at = dossier.last_fact, dossier.last_fact_at
    if previous_at is None:  # a record from before facts were kept: the filing is the one known
        previous, previous_at = "filing", dossier.filed_at
    if previous_at is not None and at < previous_at:
        raise ReportRejectedError(
            Reason.BEFORE_PREVIOUS_FACT,
            f"{kind} at {to_vietnam_time(at).isoformat()} is before {previous} at "
            f"{to_vietnam_time(previous_at).isoformat()}, the fact it follows",
        )
