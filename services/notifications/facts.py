"""What the service learns from each event: a dossier's intake (who holds the contact, what the applicant
consented to), a fact that makes a message (its kind, parameters and the stage that releases it), a stage
the tracker announced, an erasure. Pure: the dates and places of the messages come from the postal and
agency events themselves, since the tracker's StageChanged names stages, not dates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.enums import ClosureReason, Leg, PersonalDataHolder, Stage
from contracts.envelope import Envelope
from contracts.events import (
    AgencyPersonalDataErased,
    ClockAlert,
    ClockOverdue,
    DelayNotified,
    DeliveryFailed,
    DeliveryFailedV2,
    DossierAccepted,
    DossierAcceptedV2,
    DossierClosed,
    DossierReceived,
    DossierRegisteredForReturnV2,
    Event,
    PersonalDataErased,
    ResultDelivered,
    ResultOutForDelivery,
    ResultReady,
    ResultReturnedToAgency,
    StageChanged,
    SupplementRequested,
)
from services.notifications.domain import VIETNAM, Consent, Kind, consent_of, shown

APPLICANT = "applicant"
"""The vault kind of the applicant's contact at both owners."""

LEG_WORDS = {Leg.AGENCY_PROCESSING: "giải quyết hồ sơ tại cơ quan"}
"""The legs the agency's desk is written to about (the postal legs are the post's own business)."""


@dataclass(frozen=True)
class Intake:
    dossier_id: str
    reference: str
    owner: PersonalDataHolder
    consent: Consent
    agency_code: str
    post_office_code: str | None
    """The accepting post office; none for a dossier registered at the agency."""


@dataclass(frozen=True)
class MessageFact:
    event_id: str
    dossier_id: str
    kind: Kind
    occurrence: int
    """Which one of its kind: the delivery attempt, the supplement request's number, a due date's day."""
    stage: Stage | None
    """The stage whose announcement releases the message; none: sent on the fact alone."""
    parameters: dict[str, str]


@dataclass(frozen=True)
class StageSeen:
    cause_event_id: str
    dossier_id: str
    stage: Stage
    late: bool


@dataclass(frozen=True)
class ContactErased:
    dossier_id: str


Learned = Intake | MessageFact | StageSeen | ContactErased


def learned_from(envelope: Envelope[Event]) -> list[Learned]:
    event, dossier_id, event_id = envelope.data, envelope.subject, str(envelope.id)
    day = shown(envelope.time.astimezone(VIETNAM).date())

    def fact(kind: Kind, stage: Stage | None, occurrence: int = 1, **parameters: Any) -> MessageFact:
        return MessageFact(
            event_id, dossier_id, kind, occurrence, stage, {k: str(v) for k, v in parameters.items()}
        )

    match event:
        case DossierAcceptedV2() | DossierAccepted():
            notify_by = event.notify_by if isinstance(event, DossierAcceptedV2) else None
            return [
                Intake(
                    dossier_id,
                    event.item_id,
                    PersonalDataHolder.POST_OFFICE,
                    consent_of(notify_by),
                    event.agency_code,
                    event.post_office_code,
                ),
                fact(
                    Kind.ACCEPTED,
                    Stage.ACCEPTED,
                    post_office=event.post_office_code,
                    agency=event.agency_code,
                    accepted_on=day,
                    due_date=shown(event.inbound_due_date),
                ),
            ]
        case DossierRegisteredForReturnV2():
            return [
                Intake(
                    dossier_id,
                    event.agency_dossier_code,
                    PersonalDataHolder.AGENCY,
                    consent_of(event.notify_by),
                    event.agency_code,
                    None,
                )
            ]
        case DossierReceived():
            return [
                fact(
                    Kind.RECEIVED,
                    Stage.RECEIVED,
                    agency=event.agency_code,
                    received_on=shown(event.filed_at.astimezone(VIETNAM).date()),
                    legal_due_date=shown(event.legal_due_date),
                    appointment_date=shown(event.appointment_date),
                )
            ]
        case SupplementRequested():
            return [
                fact(
                    Kind.SUPPLEMENT_REQUESTED,
                    Stage.AWAITING_SUPPLEMENT,
                    event.request_number or 1,
                    agency=event.agency_code,
                    documents="; ".join(event.missing_documents),
                    reason=event.reason,
                )
            ]
        case DelayNotified():
            # Not a stage: the notice itself is the fact (Decree 118/2025 Art. 19(6) wants it told).
            return [
                fact(
                    Kind.DELAY_NOTICE,
                    None,
                    agency=event.agency_code,
                    previous_due_date=shown(event.previous_due_date),
                    new_due_date=shown(event.new_due_date),
                    reason=event.reason,
                )
            ]
        case ResultReady():
            return [fact(Kind.RESULT_READY, Stage.RESULT_READY, agency=event.agency_code)]
        case ResultOutForDelivery():
            return [
                fact(
                    Kind.OUT_FOR_DELIVERY,
                    Stage.OUT_FOR_DELIVERY,
                    event.attempt,
                    post_office=event.post_office_code,
                    attempt=event.attempt,
                )
            ]
        case DeliveryFailed() | DeliveryFailedV2():
            next_attempt = (
                f"ngày {shown(event.next_attempt_on)}"
                if event.next_attempt_on is not None
                else "bưu cục sẽ liên hệ hẹn lại"
            )
            return [
                fact(
                    Kind.DELIVERY_FAILED,
                    Stage.DELIVERY_FAILED,
                    event.attempt,
                    post_office=event.post_office_code,
                    attempt=event.attempt,
                    next_attempt=next_attempt,
                )
            ]
        case ResultDelivered():
            return [fact(Kind.DELIVERED, Stage.DELIVERED, delivered_on=day)]
        case ResultReturnedToAgency():
            return [fact(Kind.RETURNED_TO_AGENCY, Stage.RETURNED_TO_AGENCY, agency=event.agency_code)]
        case DossierClosed() if event.reason is ClosureReason.SUPPLEMENT_NOT_COMPLETED:
            closed_on = event.period_ended_on or envelope.time.astimezone(VIETNAM).date()
            return [
                fact(
                    Kind.CLOSED_NO_SUPPLEMENT,
                    Stage.CLOSED,
                    agency=event.agency_code,
                    closed_on=shown(closed_on),
                )
            ]
        case ClockAlert() if event.leg in LEG_WORDS and event.agency_code is not None:
            kind = Kind.CLOCK_OVERDUE if isinstance(event, ClockOverdue) else Kind.CLOCK_DUE_SOON
            return [
                fact(
                    kind,
                    None,
                    event.due_date.toordinal(),
                    agency=event.agency_code,
                    leg=LEG_WORDS[event.leg],
                    due_date=shown(event.due_date),
                )
            ]
        case StageChanged():
            return [StageSeen(str(event.cause_event_id), dossier_id, event.to_stage, event.late)]
        case PersonalDataErased() | AgencyPersonalDataErased() if APPLICANT in event.kinds:
            return [ContactErased(dossier_id)]
    return []
