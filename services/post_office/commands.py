"""What callers send to the post office and what it answers: commands, receipts and per-item results.

The request models are the commands the handlers execute. They reuse the contract's value types, so a
bad S10 id or agency code is refused with the same message everywhere. Unknown fields are refused
(a typo in a field name must not silently drop data). Descriptions and examples feed the OpenAPI
document in contracts/openapi/post_office.json.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from contracts.enums import (
    AcceptanceChannel,
    NotificationChannel,
    RouteClass,
)
from contracts.events.parts import ApplicantContact, DocumentChecked
from contracts.events.postal import InboundServiceForm
from contracts.values import (
    AgencyCode,
    AgencyDossierCode,
    AwareTime,
    DossierId,
    PostOfficeCode,
    ProcedureCode,
    RecordId,
    S10ItemId,
    StaffId,
    Vnd,
)
from services.shared.consent import MAX_CHANNELS, check_reachable

MAX_BATCH_SCANS = 1000
"""The most scans one offline batch may carry."""
MAX_MANIFEST_ITEMS = 1000
"""The most items one handover record may list."""

EXAMPLE_ITEM = "EB123456785VN"
EXAMPLE_RESULT_ITEM = "RR473124829VN"
EXAMPLE_AGENCY = "000.00.01.H22"
EXAMPLE_OFFICE = "100000"


Amount = Annotated[Vnd, Field(le=1_000_000_000_000)]
"""An amount in VND, bounded so that it fits the database and no typo of extra zeros goes through."""


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    # A retry is recognised by fingerprints.py, which digests the canonical content.


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)


# --------------------------------------------------------------------------- intake


class AcceptDossier(Command):
    """A dossier accepted at the counter or at the citizen's address (phiếu gửi hồ sơ signed, sealed)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": EXAMPLE_ITEM,
                    "procedure_code": "1.001193",
                    "agency_code": EXAMPLE_AGENCY,
                    "service_form": "SEND_AND_RECEIVE",
                    "channel": "COUNTER",
                    "applicant": {
                        "name": "Nguyễn Văn An",
                        "phone": "0912345678",
                        "address": {
                            "line": "12 Phố Tràng Tiền",
                            "commune": "Phường Hoàn Kiếm",
                            "province_code": "01",
                        },
                    },
                    "documents": [
                        {"name": "Tờ khai đăng ký khai sinh", "form": "ORIGINAL", "count": 1},
                        {"name": "Giấy chứng sinh", "form": "ORIGINAL", "count": 1},
                    ],
                    "fee_vnd": 0,
                    "charge_vnd": 0,
                    "postage_vnd": 36000,
                    "clerk_id": "clerk-0042",
                    "post_office_code": EXAMPLE_OFFICE,
                    "route_class": "INTRA_PROVINCIAL",
                    "carries_appointment_slip_back": False,
                    "accepted_at": "2025-03-14T09:30:00+07:00",
                }
            ]
        }
    )

    item_id: S10ItemId
    """The S10 id on the sealed dossier: the inbound item, from which the dossier id derives."""
    procedure_code: ProcedureCode
    """The administrative procedure, from the national procedure database."""
    agency_code: AgencyCode
    """The agency the dossier goes to."""
    service_form: InboundServiceForm
    """SEND_DOSSIER (the citizen collects the result in person) or SEND_AND_RECEIVE (result by post)."""
    channel: AcceptanceChannel
    """At the counter, or at the citizen's address."""
    applicant: ApplicantContact
    """The applicant's contact (personal data: sealed in the post office's vault, never in events or logs)."""
    documents: tuple[DocumentChecked, ...] = Field(min_length=1, max_length=100)
    """The documents checked into the package; checked against the procedure's published list."""
    fee_vnd: Amount
    """Fee (phí) collected for the agency."""
    charge_vnd: Amount
    """Charge (lệ phí) collected for the agency."""
    postage_vnd: Amount
    """Postage (cước) collected; for SEND_AND_RECEIVE it covers the return leg too."""
    clerk_id: StaffId
    """The clerk or courier who accepted the dossier."""
    post_office_code: PostOfficeCode
    """The accepting post office; a clerk's credential must be bound to it."""
    route_class: RouteClass
    """The route to the agency, which selects the J+n limit."""
    carries_appointment_slip_back: bool = False
    """True when the agency's appointment slip must be carried back to the citizen (the limit doubles)."""
    accepted_at: AwareTime
    """When the dossier was accepted, with its UTC offset; not in the future."""
    notify_by: tuple[NotificationChannel, ...] = Field(default=(), max_length=MAX_CHANNELS)
    """The channels the applicant agreed to be told on where the dossier stands (none: no message);
    EMAIL needs ``applicant.email``."""

    @model_validator(mode="after")
    def _channels_reachable(self) -> Self:
        check_reachable(self.notify_by, self.applicant)
        return self


class Receipt(Answer):
    """The receipt of an accepted dossier: its item id and the last day it must reach the agency."""

    item_id: S10ItemId
    """The inbound item id."""
    dossier_id: DossierId
    """The dossier's id for its whole journey."""
    event_id: uuid.UUID
    """The id of the postal.dossier_accepted event."""
    inbound_due_date: date
    """The last day for handing the dossier to the agency: J+n working days after the acceptance day."""
    replayed: bool
    """True when this acceptance had already been recorded with the same content (a retry): nothing new
    was published."""


# --------------------------------------------------------------------------- handover to the agency

ItemOutcomeStatus = Literal["accepted", "duplicate", "rejected"]


class HandOver(Command):
    """A handover record (biên bản giao nhận) listing the items handed to one agency's desk."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "handover_record_id": "BBGN-2025-000123",
                    "agency_code": EXAMPLE_AGENCY,
                    "post_office_code": EXAMPLE_OFFICE,
                    "postal_worker_id": "postman-0007",
                    "agency_officer_id": "officer-0003",
                    "signed_at": "2025-03-17T10:15:00+07:00",
                    "item_ids": [EXAMPLE_ITEM],
                }
            ]
        }
    )

    handover_record_id: RecordId
    """The number of the signed handover record."""
    agency_code: AgencyCode
    """The agency whose desk took the items."""
    post_office_code: PostOfficeCode
    """The post office handing the items over."""
    postal_worker_id: StaffId
    """The postal worker who signed the record."""
    agency_officer_id: StaffId
    """The agency officer who signed the record."""
    signed_at: AwareTime
    """When both signed: the dossiers' filing time, which starts the agency clock. Not in the future."""
    item_ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=MAX_MANIFEST_ITEMS)
    """The S10 ids listed on the record. Each is checked on its own: a malformed, unknown, misaddressed or
    already handed-over item is reported in the answer and the others go through."""


class ManifestItem(Answer):
    """What happened to one item of a handover record."""

    index: int
    """Position of the item in the record's list."""
    item_id: S10ItemId | None
    """The item id, normalised; none when what was listed is not a valid S10 id."""
    status: ItemOutcomeStatus
    """accepted: handed over now; duplicate: already handed over with this record; rejected: see reason."""
    event_id: uuid.UUID | None = None
    """The postal.dossier_handed_to_agency event, for accepted and duplicate items."""
    reason: str | None = None
    """Why the item was rejected: invalid_item_id, unknown_item, not_a_dossier, wrong_agency,
    already_handed_over, not_in_postal_custody or duplicate_in_manifest."""
    detail: str | None = None
    """The rejection in a sentence."""


class ManifestResult(Answer):
    """The outcome of a handover record, item by item, in the order listed."""

    handover_record_id: str
    """The handover record."""
    accepted: int
    """Items handed over by this request."""
    duplicates: int
    """Items already handed over with this record (a retry)."""
    rejected: int
    """Items refused; see their reasons."""
    items: list[ManifestItem]
    """One entry per listed item, in the order listed."""


# --------------------------------------------------------------------------- result pickup


class PickUpResult(Command):
    """The postal worker picked up a result at the agency's desk and sealed it as a new postal item."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "result_item_id": EXAMPLE_RESULT_ITEM,
                    "dossier_item_id": EXAMPLE_ITEM,
                    "agency_dossier_code": "000.00.01.H22-250314-0007",
                    "pickup_record_id": "PN-2025-000456",
                    "agency_code": EXAMPLE_AGENCY,
                    "post_office_code": EXAMPLE_OFFICE,
                    "postal_worker_id": "postman-0007",
                    "agency_officer_id": "officer-0003",
                    "route_class": "INTRA_PROVINCIAL",
                    "picked_up_at": "2025-03-24T14:00:00+07:00",
                }
            ]
        }
    )

    result_item_id: S10ItemId
    """The S10 id of the sealed result (a new item, the return leg)."""
    dossier_item_id: S10ItemId | None = None
    """The inbound item id, when the dossier came by post (form SEND_AND_RECEIVE). Leave it out for a
    dossier filed at the agency (form RECEIVE_RESULT): the agency dossier code then identifies it."""
    agency_dossier_code: AgencyDossierCode
    """The agency's code of the dossier this result answers."""
    pickup_record_id: RecordId
    """The signed pickup slip."""
    agency_code: AgencyCode
    """The agency releasing the result."""
    post_office_code: PostOfficeCode
    """The post office taking custody."""
    postal_worker_id: StaffId
    """The postal worker who picked the result up."""
    agency_officer_id: StaffId
    """The agency officer who released it."""
    route_class: RouteClass
    """The route to the citizen, which selects the J+n limit of the return leg."""
    picked_up_at: AwareTime
    """When the result was picked up; not in the future."""


class PickupReceipt(Answer):
    """The receipt of a picked-up result: its item id and the last day for the first delivery attempt."""

    result_item_id: S10ItemId
    """The result item id."""
    dossier_id: DossierId
    """The dossier the result belongs to."""
    event_id: uuid.UUID
    """The id of the postal.result_picked_up event."""
    return_due_date: date
    """The last day for the first delivery attempt: J+n working days after the pickup day."""
    replayed: bool
    """True when this pickup had already been recorded with the same content (a retry)."""


# --------------------------------------------------------------------------- answers shared by every act


class ValidationIssue(Answer):
    """Where a request does not match the schema, without echoing the value."""

    loc: list[str | int]
    """Path to the offending field."""
    type: str
    """pydantic's error type; for a wrong item id, what is wrong with it (item_id_length,
    item_id_service_indicator, item_id_serial, item_id_check_digit, item_id_country_code)."""
    msg: str
    """What is wrong."""


class EventRecorded(Answer):
    """An act recorded and acknowledged by Kafka."""

    item_id: S10ItemId
    """The item the act was about."""
    dossier_id: DossierId
    """The dossier it belongs to."""
    event_id: uuid.UUID
    """The event published."""
    status: Literal["accepted", "duplicate"]
    """accepted: recorded now; duplicate: this scan id was recorded earlier (nothing new published)."""


# --------------------------------------------------------------------------- return, loss, damage


class ReturnToAgency(Command):
    """An undeliverable result handed back to the agency (after at least two failed attempts)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "result_item_id": EXAMPLE_RESULT_ITEM,
                    "agency_code": EXAMPLE_AGENCY,
                    "post_office_code": EXAMPLE_OFFICE,
                    "return_record_id": "BBTL-2025-000789",
                    "postal_worker_id": "postman-0007",
                    "agency_officer_id": "officer-0003",
                    "returned_at": "2025-04-01T10:00:00+07:00",
                }
            ]
        }
    )

    result_item_id: S10ItemId
    """The result item."""
    agency_code: AgencyCode
    """The agency taking it back: the one that released it."""
    post_office_code: PostOfficeCode
    """The post office returning it."""
    return_record_id: RecordId
    """The signed return record."""
    postal_worker_id: StaffId
    """The postal worker who returned it."""
    agency_officer_id: StaffId
    """The agency officer who took it back."""
    returned_at: AwareTime
    """When it was handed back; not in the future."""


class ReportIncident(Command):
    """A postal item declared lost, or found damaged, while the post held it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": EXAMPLE_ITEM,
                    "post_office_code": EXAMPLE_OFFICE,
                    "reported_by": "supervisor-0001",
                    "at_fault": True,
                    "compensation_vnd": 144000,
                    "reported_at": "2025-03-16T16:00:00+07:00",
                }
            ]
        }
    )

    item_id: S10ItemId
    """The dossier, supplement or result item."""
    post_office_code: PostOfficeCode
    """The post office reporting it."""
    reported_by: StaffId
    """Who reports it."""
    at_fault: bool
    """Whether the post is at fault."""
    compensation_vnd: Amount | None = None
    """Compensation paid or agreed, when known; at fault, at least 4× the postage."""
    reported_at: AwareTime
    """When it was reported; not in the future."""


# --------------------------------------------------------------------------- refusals


class MissingDocument(Answer):
    """A required document of the procedure's list that the package lacks."""

    name: str
    """The document as named in the procedure catalog."""
    form: Literal["original", "copy"]
    """Whether the catalog asks for the original or a copy."""
    count: int
    """How many are missing."""


class Problem(Answer):
    """An RFC 9457-style problem: the status, a stable machine-readable reason and a sentence.

    Never echoes submitted values (they may be an applicant's personal data).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": 409,
                    "reason": "too_few_failed_attempts",
                    "detail": "1 failed delivery attempt is recorded; at least 2 are needed before a result "
                    "goes back to the agency",
                }
            ]
        }
    )

    status: int
    """The HTTP status."""
    reason: str
    """Stable reason code, e.g. missing_documents, wrong_post_office, broker_unavailable."""
    detail: str
    """What is wrong, in a sentence."""
    errors: list[ValidationIssue] | None = None
    """For invalid_request and the item id reasons: where the request does not match the schema."""
    missing_documents: list[MissingDocument] | None = None
    """For missing_documents: what the package lacks."""
