"""Events of the agencies' one-stop desks (bộ phận tiếp nhận và trả kết quả).

Producer: the agency service (source ``/agencies/<agency code>``); topic agency.events.v1. Agency
systems may publish the same envelopes on agency.intake.v1, which the agency service validates.
The envelope's ``time`` is when the act happened at the desk, which the clocks count from; an event
recorded later (a morning's work entered in the afternoon, or after an outage) says when in
``recorded_at``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts.enums import (
    ClosureReason,
    ErasureReason,
    FilingChannel,
    NotificationChannel,
    Outcome,
    PersonalDataHolder,
    SupplementBreach,
)
from contracts.events.base import PERSONAL_DATA, Event
from contracts.events.parts import Address, ApplicantContact, PhoneCheck
from contracts.values import (
    AgencyCode,
    AgencyDossierCode,
    AwareTime,
    ProcedureCode,
    S10ItemId,
    StaffId,
    Text,
)


class AgencyEvent(Event):
    """An event recorded at an agency's one-stop desk."""

    agency_code: AgencyCode
    """The agency whose desk recorded it."""
    officer_id: StaffId
    """The officer who recorded it."""
    recorded_at: AwareTime | None = None
    """When the act was recorded, if that is known; the envelope's ``time`` is when it happened."""


class DossierReceived(AgencyEvent):
    """The agency received the dossier and issued the receipt and appointment slip.

    The slip is the giấy tiếp nhận và hẹn trả. Starts the agency processing clock at the filing time.
    """

    type: Literal["agency.dossier_received"] = "agency.dossier_received"
    version: Literal[1] = 1
    agency_dossier_code: AgencyDossierCode
    """The code the agency assigned to the dossier."""
    procedure_code: ProcedureCode
    """The procedure, as the agency recorded it."""
    item_id: S10ItemId | None = None
    """The inbound postal item, when the dossier came by post."""
    filed_at: AwareTime
    """The filing time: the handover signing time for a dossier that came by post."""
    legal_due_date: date
    """The due date by the procedure's legal target, counted in working days from the filing day."""
    appointment_date: date
    """The date written on the appointment slip."""
    appointment_later_than_legal: bool
    """True when the appointment date is after the legal due date (reported, not refused)."""

    @model_validator(mode="after")
    def _flag_matches_dates(self) -> DossierReceived:
        if self.appointment_later_than_legal != (self.appointment_date > self.legal_due_date):
            raise ValueError(
                "appointment_later_than_legal must say whether appointment_date > legal_due_date"
            )
        return self


class DossierRefused(AgencyEvent):
    """The agency refused the dossier (not accepted for processing). The refusal goes back like a result."""

    type: Literal["agency.dossier_refused"] = "agency.dossier_refused"
    version: Literal[1] = 1
    agency_dossier_code: AgencyDossierCode | None = None
    """The agency's code, if it assigned one before refusing."""
    reason: Text
    """Why the dossier was refused, as written on the refusal slip."""


class SupplementRequested(AgencyEvent):
    """The agency asked for missing or corrected documents. Stops the agency clock."""

    type: Literal["agency.supplement_requested"] = "agency.supplement_requested"
    version: Literal[1] = 1
    agency_dossier_code: AgencyDossierCode | None = None
    """The agency's code, if it assigned one before the request."""
    missing_documents: tuple[Text, ...] = Field(min_length=1)
    """The documents to supply, as named in the procedure catalog."""
    reason: Text
    """Why they are needed."""
    request_number: int | None = Field(default=None, ge=1)
    """Which request on the dossier this is (1 for the first); absent on events from before it was kept."""
    window_ends_on: date | None = None
    """The last day a request was allowed by the rules in force (counted from the receipt); absent when
    the rules set no window or on events from before it was kept."""
    rule_set: str | None = Field(default=None, min_length=1, max_length=64)
    """The rule set the request was judged by (deploy/rules), e.g. ``decree_118_2025``."""
    breach: bool | None = None
    """True when the request breaks the rules in force: still recorded (the citizen was asked), with
    ``breach_reasons``; absent on events from before the rules were checked."""
    breach_reasons: tuple[SupplementBreach, ...] = ()
    """Each way the request breaks the rules: a second request, a request after the window."""

    @model_validator(mode="after")
    def _flag_matches_reasons(self) -> SupplementRequested:
        if self.breach is not None and self.breach != bool(self.breach_reasons):
            raise ValueError("breach must be true exactly when breach_reasons names a reason")
        if self.breach is None and self.breach_reasons:
            raise ValueError("breach_reasons needs breach: true")
        return self


class SupplementReceived(AgencyEvent):
    """The agency received the requested supplement. The agency clock restarts from zero at received_at."""

    type: Literal["agency.supplement_received"] = "agency.supplement_received"
    version: Literal[1] = 1
    agency_dossier_code: AgencyDossierCode | None = None
    """The agency's code of the dossier, if it has one."""
    received_at: AwareTime
    """The new filing time."""
    supplement_item_id: S10ItemId | None = None
    """The postal item that carried the supplement, when it came by post."""


class DossierProcessing(AgencyEvent):
    """The dossier moved to processing by the competent department (optional status report)."""

    type: Literal["agency.dossier_processing"] = "agency.dossier_processing"
    version: Literal[1] = 1
    agency_dossier_code: AgencyDossierCode
    """The agency's code of the dossier."""
    department: str | None = Field(default=None, min_length=1, max_length=200)
    """The department handling it, if reported."""


class DelayNotified(AgencyEvent):
    """The agency issued an apology and new appointment slip (phiếu xin lỗi và hẹn lại).

    At most once per dossier. It must be issued at least one working day before the current due date;
    a later one is still recorded, with ``breach`` set.
    """

    type: Literal["agency.delay_notified"] = "agency.delay_notified"
    version: Literal[1] = 1
    agency_dossier_code: AgencyDossierCode
    """The agency's code of the dossier."""
    previous_due_date: date
    """The due date before this notice."""
    new_due_date: date
    """The new appointment date."""
    reason: Text
    """Why processing is late."""
    issued_on: date
    """The day the slip was issued."""
    breach: bool
    """True when issued later than one working day before the previous due date."""


class DossierWithdrawn(AgencyEvent):
    """The citizen withdrew the dossier. Stops every clock; nothing comes back by post."""

    type: Literal["agency.dossier_withdrawn"] = "agency.dossier_withdrawn"
    version: Literal[1] = 1
    agency_dossier_code: AgencyDossierCode | None = None
    """The agency's code, if it had assigned one."""
    reason: Text | None = None
    """The reason the citizen gave, if any."""


class DossierClosed(AgencyEvent):
    """The agency closed a dossier awaiting its supplement. Final: nothing more is reported on it.

    Either the agency service closed it on its own (``automatic``, reason ``supplement_not_completed``)
    once the closure period of the rules in force on the day of the request ended without the supplement
    (Decree 118/2025 Art. 19(5): 15 days after the notice, the notice day not counted; the envelope's
    ``time`` is the end of the period's last day, 00:00 of the next day, Vietnam time), or an officer
    closed it with a reason. The agency clock stops without a timeliness.
    """

    type: Literal["agency.dossier_closed"] = "agency.dossier_closed"
    version: Literal[1] = 1
    agency_dossier_code: AgencyDossierCode | None = None
    """The agency's code, if it had assigned one."""
    reason: ClosureReason
    """Why: ``supplement_not_completed`` (the period ended), ``supplement_declined``, ``other``."""
    note: Text | None = None
    """The officer's words for reason ``other`` (staff text, no personal data)."""
    automatic: bool
    """True when the agency service closed the dossier because the closure period ended."""
    supplement_requested_at: AwareTime | None = None
    """The supplement request (the notice) the closure period counts from."""
    period_days: int | None = Field(default=None, ge=0)
    """The closure period applied, for an automatic closure."""
    period_unit: Literal["calendar", "working"] | None = None
    """Whether ``period_days`` are calendar days or working days."""
    period_ended_on: date | None = None
    """The period's last day (the applicant had all of it); the closure happened when it ended."""
    rule_set: str | None = Field(default=None, min_length=1, max_length=64)
    """The rule set whose closure period applied (deploy/rules), e.g. ``decree_118_2025``."""

    @model_validator(mode="after")
    def _reason_fits(self) -> DossierClosed:
        if self.automatic != (self.reason is ClosureReason.SUPPLEMENT_NOT_COMPLETED):
            raise ValueError("reason supplement_not_completed is the automatic closure's, and only its")
        if self.automatic and (
            self.period_days is None or self.period_unit is None or self.period_ended_on is None
        ):
            raise ValueError("an automatic closure names its period (days, unit, last day)")
        if (self.reason is ClosureReason.OTHER) != (self.note is not None):
            raise ValueError("note is given exactly for reason other")
        return self


class ResultReady(AgencyEvent):
    """The agency's result is ready to hand over (approved or denied). Ends the agency clock."""

    type: Literal["agency.result_ready"] = "agency.result_ready"
    version: Literal[1] = 1
    agency_dossier_code: AgencyDossierCode
    """The agency's code of the dossier."""
    outcome: Outcome
    """Approved or denied."""
    result_reference: str = Field(min_length=1, max_length=100)
    """The number of the decision or document issued (no personal data)."""


class DossierRegisteredForReturn(AgencyEvent):
    """The agency registered a dossier filed in person or online for return of its result by post
    (form RECEIVE_RESULT), with the citizen's delivery address. The first event of such a dossier."""

    type: Literal["agency.dossier_registered_for_return"] = "agency.dossier_registered_for_return"
    version: Literal[1] = 1
    agency_dossier_code: AgencyDossierCode
    """The agency's code of the dossier."""
    procedure_code: ProcedureCode
    """The procedure."""
    filing_channel: FilingChannel
    """How the dossier was filed."""
    filed_at: AwareTime
    """The filing time."""
    applicant: ApplicantContact = Field(json_schema_extra=PERSONAL_DATA)
    """The applicant's contact (personal data)."""
    delivery_address: Address = Field(json_schema_extra=PERSONAL_DATA)
    """Where the result is to be delivered (personal data)."""


class DossierRegisteredForReturnV2(AgencyEvent):
    """The agency registered a dossier filed in person or online for return of its result by post
    (form RECEIVE_RESULT), version 2: the citizen's contact and delivery address stay in the agency's
    vault; the event says who holds them and carries the public lookup's phone digest."""

    type: Literal["agency.dossier_registered_for_return"] = "agency.dossier_registered_for_return"
    version: Literal[2] = 2
    agency_dossier_code: AgencyDossierCode
    """The agency's code of the dossier."""
    procedure_code: ProcedureCode
    """The procedure."""
    filing_channel: FilingChannel
    """How the dossier was filed."""
    filed_at: AwareTime
    """The filing time."""
    held_by: PersonalDataHolder
    """Who holds the contact and delivery address: AGENCY (its vault); EVENT_V1 only for an upcast v1."""
    phone_check: PhoneCheck
    """Digest of the applicant's phone's last four digits for the public lookup (see PhoneCheck)."""
    notify_by: tuple[NotificationChannel, ...] | None = Field(default=None, max_length=3)
    """The channels the applicant agreed, at intake, to be told on where the dossier stands (the
    addresses stay in the owner's vault); empty: none. Absent on events from before the choice was asked:
    no consent either."""


class PersonalDataErased(AgencyEvent):
    """The agency's vault erased personal data of the dossier: sealed blob and wrapped data key deleted, a
    tombstone kept. Carries no personal data. Consumers drop what they derived from it (the tracker
    clears the dossier's phone check when the applicant's contact is erased); the staff APIs of the
    owner answer the record as erased from then on."""

    type: Literal["agency.personal_data_erased"] = "agency.personal_data_erased"
    version: Literal[1] = 1
    reason: ErasureReason
    """``retention``: every purpose it was kept for has ended; ``request``: the person asked for it."""
    erased_at: AwareTime
    """When it was erased."""
    kinds: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=100)
    """The records erased: ``applicant`` (the contact), ``delivery_address``,
    ``delivery_note:<item>:<n>``."""
