"""What an officer reports at the one-stop desk: the input of the use cases and the bodies of the API.

Only what the officer knows and decides is asked for. What the record already knows (the filing time,
the due date, the agency dossier code once assigned) and what the rules compute (the legal due date,
whether an apology slip is late) is filled in by the service, so an officer cannot contradict it.
Who reports comes from the credential, never from the body.
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.enums import ClosureReason, FilingChannel, NotificationChannel, Outcome
from contracts.events import Address, ApplicantContact
from contracts.values import AgencyDossierCode, AwareTime, ProcedureCode, S10ItemId, Text
from services.shared.consent import MAX_CHANNELS, check_reachable


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ReportCommand(Command):
    """A report on a known dossier: it may say when the act happened, if earlier than it is recorded."""

    occurred_at: AwareTime | None = None
    """When the act happened at the desk (RFC 3339 with an offset), when it is recorded later, e.g. a
    morning's work entered in the afternoon or after an outage; defaults to now. The clocks count from
    it. Refused when later than now (beyond the clock skew allowed) or before the fact it follows."""


class ReceiveDossier(ReportCommand):
    """The desk received the dossier and issued the receipt and appointment slip (giấy tiếp nhận và hẹn trả).

    The legal due date is computed from the filing time (the signing of the handover record, or the
    filing in person or online given at registration), the cut-off hour and the procedure's target.
    """

    agency_dossier_code: AgencyDossierCode
    """The code the agency assigned to the dossier: `<agency id>-<YYMMDD>-<4-digit daily sequence>`."""
    appointment_date: date
    """The date written on the appointment slip; a date after the legal due date is recorded and flagged."""
    procedure_code: ProcedureCode | None = None
    """The procedure, when the agency classifies the dossier differently from the post office's record."""


class RefuseDossier(ReportCommand):
    """The desk refused the dossier (not accepted for processing); the refusal goes back like a result."""

    reason: Text
    """Why, as written on the refusal slip."""
    agency_dossier_code: AgencyDossierCode | None = None
    """The agency's code, if it assigned one before refusing."""


class RequestSupplement(ReportCommand):
    """The agency asked for missing or corrected documents. Stops the agency clock."""

    missing_documents: tuple[Text, ...] = Field(min_length=1, max_length=50)
    """The documents to supply, as named in the procedure catalog."""
    reason: Text
    """Why they are needed."""
    agency_dossier_code: AgencyDossierCode | None = None
    """The agency's code, if it assigned one before the request."""


class ReceiveSupplement(ReportCommand):
    """The agency received the requested supplement. The clock restarts from zero at `received_at`."""

    received_at: AwareTime | None = None
    """When the supplement was filed (the new filing time). Defaults to `occurred_at`, else to the
    signing of the handover record when the supplement came by post and the post office has reported
    that handover. When both are given they must be the same time."""
    supplement_item_id: S10ItemId | None = None
    """The postal item that carried the supplement, when it came by post."""


class StartProcessing(ReportCommand):
    """The dossier moved to processing by the competent department (optional report)."""

    department: str | None = Field(default=None, min_length=1, max_length=200)
    """The department handling it, if reported."""


class NotifyDelay(ReportCommand):
    """The agency issued its one apology and new appointment slip (phiếu xin lỗi và hẹn lại)."""

    new_due_date: date
    """The new appointment date; later than the current due date."""
    reason: Text
    """Why processing is late."""
    issued_on: date | None = None
    """The day the slip was issued; defaults to the day of `occurred_at`, else today (Vietnam time)."""


class WithdrawDossier(ReportCommand):
    """The citizen withdrew the dossier at the desk. Stops every clock."""

    reason: Text | None = None
    """The reason the citizen gave, if any."""


class CloseDossier(ReportCommand):
    """An officer closes a dossier awaiting its supplement (the agency service closes it on its own once
    the closure period of the rules in force ends: Decree 118/2025 Art. 19(5))."""

    reason: Literal[ClosureReason.SUPPLEMENT_DECLINED, ClosureReason.OTHER]
    """`supplement_declined`: the applicant said they will not complete the dossier; `other`: say why in
    `note`. (`supplement_not_completed` is the automatic closure's.)"""
    note: Text | None = None
    """Required for reason `other`, and only then: why (staff text, no personal data)."""

    @model_validator(mode="after")
    def _note_for_other(self) -> Self:
        if (self.reason is ClosureReason.OTHER) != (self.note is not None):
            raise ValueError("note is required for reason other, and only for it")
        return self


class ReadyResult(ReportCommand):
    """The result is ready to hand over (approved or denied). Ends the agency clock."""

    outcome: Outcome
    """Approved or denied."""
    result_reference: str = Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")
    """The number of the decision or document issued (no personal data)."""


class RegisterForReturn(Command):
    """A dossier filed in person or online whose result the citizen wants by post (form RECEIVE_RESULT)."""

    agency_dossier_code: AgencyDossierCode
    """The code the agency assigned to the dossier; the dossier id is derived from it."""
    procedure_code: ProcedureCode
    """The procedure, from the catalog; it must allow the result to go by post."""
    filing_channel: FilingChannel
    """How the dossier was filed."""
    filed_at: AwareTime
    """The filing time: when the dossier was filed at the desk or submitted online."""
    applicant: ApplicantContact
    """The applicant's contact (personal data: sealed in the agency's vault, never in events or logs)."""
    delivery_address: Address
    """Where the result is to be delivered (personal data: sealed in the agency's vault, like the contact)."""
    notify_by: tuple[NotificationChannel, ...] = Field(default=(), max_length=MAX_CHANNELS)
    """The channels the applicant agreed to be told on where the dossier stands (none: no message);
    EMAIL needs ``applicant.email``."""

    @model_validator(mode="after")
    def _channels_reachable(self) -> Self:
        check_reachable(self.notify_by, self.applicant)
        return self


Report = (
    ReceiveDossier
    | RefuseDossier
    | RequestSupplement
    | ReceiveSupplement
    | StartProcessing
    | NotifyDelay
    | WithdrawDossier
    | CloseDossier
    | ReadyResult
)
"""A report on a dossier the service already knows."""
