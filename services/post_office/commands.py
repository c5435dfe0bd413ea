"""What callers send to the post office and what it answers: commands, receipts and per-item results.

The request models are the commands the handlers execute. They reuse the contract's value types, so a
bad S10 id or agency code is refused with the same message everywhere. Unknown fields are refused
(a typo in a field name must not silently drop data). Descriptions and examples feed the OpenAPI
document in contracts/openapi/post_office.json.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WrapValidator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from contracts.enums import (
    AcceptanceChannel,
    DeliveryFailureReason,
    IdDocumentType,
    RecipientKind,
    RouteClass,
    TransitDirection,
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
    """The applicant's contact (personal data: carried in the event, never logged, not kept here)."""
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


# --------------------------------------------------------------------------- scans


class ScanFields(Command):
    scan_id: uuid.UUID
    """Generated by the scanner or client for this scan, once: the idempotency key. Sending the same scan
    again (online or in a batch) records nothing new and answers duplicate."""
    item_id: S10ItemId
    """The item scanned."""
    scanned_at: AwareTime
    """When the scan was made, with its UTC offset; not in the future."""


class TransitScan(ScanFields):
    """The item left or reached the scanning post office or facility."""

    kind: Literal["IN_TRANSIT"]
    direction: TransitDirection
    """Departed from, or arrived at, the facility."""
    scanned_by: StaffId | None = None
    """The postal worker, when the scan was manual."""


class OutForDeliveryScan(ScanFields):
    """A courier took the result out for a delivery attempt."""

    kind: Literal["OUT_FOR_DELIVERY"]
    courier_id: StaffId
    """The courier who holds the result now."""


class DeliveryFailedScan(ScanFields):
    """The delivery attempt under way did not hand the result over."""

    kind: Literal["DELIVERY_FAILED"]
    courier_id: StaffId
    """The courier who made the attempt."""
    reason: DeliveryFailureReason
    """Why it failed."""
    note: str | None = Field(default=None, max_length=500)
    """The courier's note, for OTHER (free text: may hold personal data, never logged)."""
    invitation_left: bool
    """Whether a delivery invitation (giấy mời) was left."""
    next_attempt_on: date | None = None
    """The day of the next attempt announced in the invitation, if any."""


class DeliveredScan(ScanFields):
    """The courier (or the counter) handed the result to the applicant or an authorised proxy."""

    kind: Literal["DELIVERED"]
    courier_id: StaffId
    """The courier or clerk who handed it over."""
    recipient_kind: RecipientKind
    """The applicant, or a proxy with a written authorisation."""
    id_document_type: IdDocumentType
    """The identity document shown."""
    identity_verified: bool
    """Must be true: an unverified recipient is a failed delivery (IDENTITY_NOT_VERIFIED)."""
    authorisation_checked: bool = False
    """For a proxy: the written authorisation was checked (must then be true)."""


AnyScan = TransitScan | OutForDeliveryScan | DeliveryFailedScan | DeliveredScan
Scan = Annotated[AnyScan, Field(discriminator="kind")]
"""One scan of an offline batch; `kind` says which."""
_SCAN: TypeAdapter[AnyScan] = TypeAdapter(Scan)


class InvalidScan:
    """A scan of a batch that does not match the schema; it is rejected alone, the others go on."""

    def __init__(self, errors: list[dict[str, Any]], scan_id: uuid.UUID | None) -> None:
        self.errors = errors
        self.scan_id = scan_id


def _scan_id_of(value: Any) -> uuid.UUID | None:
    if isinstance(value, dict):
        try:
            return uuid.UUID(str(value.get("scan_id")))
        except ValueError:
            return None
    return None


_SCAN_KINDS = "IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERY_FAILED or DELIVERED"


def _one_scan_at_a_time(value: Any, handler: Any) -> Any:
    # One malformed scan (a corrupted record on a device) must not block the other 999 of its batch:
    # it becomes an InvalidScan, rejected on its own.
    try:
        return _SCAN.validate_python(value)
    except ValidationError as exc:
        errors = [
            {
                "loc": list(e["loc"]),
                "type": e["type"],
                # pydantic's message for an unknown tag quotes the input; say what is expected instead.
                "msg": f"kind must be {_SCAN_KINDS}" if e["type"] == "union_tag_invalid" else e["msg"],
            }
            for e in exc.errors(include_input=False, include_context=False, include_url=False)
        ]
        return InvalidScan(errors, _scan_id_of(value))


def _at_most_max_scans(value: Any, handler: Any) -> Any:
    if isinstance(value, list) and len(value) > MAX_BATCH_SCANS:
        raise PydanticCustomError(
            "batch_too_large",
            "a batch holds at most {max} scans; split it",
            {"max": MAX_BATCH_SCANS},
        )
    return handler(value)


BatchScan = Annotated[Scan | SkipJsonSchema[InvalidScan], WrapValidator(_one_scan_at_a_time)]


class ScanBatch(Command):
    """Scans captured earlier by an offline scanner of one post office."""

    model_config = ConfigDict(
        arbitrary_types_allowed=True,
        json_schema_extra={
            "examples": [
                {
                    "post_office_code": EXAMPLE_OFFICE,
                    "device_id": "scanner-17",
                    "scans": [
                        {
                            "kind": "OUT_FOR_DELIVERY",
                            "scan_id": "0b7c2f9e-5c1a-4d0e-9a43-6f1e2d3c4b5a",
                            "item_id": EXAMPLE_RESULT_ITEM,
                            "scanned_at": "2025-03-25T08:05:00+07:00",
                            "courier_id": "courier-0011",
                        },
                        {
                            "kind": "DELIVERY_FAILED",
                            "scan_id": "5e0d1c2b-3a4f-4e5d-8c7b-9a0f1e2d3c4b",
                            "item_id": EXAMPLE_RESULT_ITEM,
                            "scanned_at": "2025-03-25T10:40:00+07:00",
                            "courier_id": "courier-0011",
                            "reason": "NOT_AT_HOME",
                            "invitation_left": True,
                        },
                    ],
                }
            ]
        },
    )

    post_office_code: PostOfficeCode
    """The post office whose scanner captured the scans; a clerk's credential must be bound to it."""
    device_id: StaffId | None = None
    """The scanner that captured them (for the operators' logs)."""
    scans: Annotated[
        list[BatchScan],
        WrapValidator(_at_most_max_scans),
        Field(min_length=1, json_schema_extra={"maxItems": MAX_BATCH_SCANS}),
    ]
    """Up to 1,000 scans, applied in scanned_at order. A larger batch is refused with 413."""


class OnlineScan(Command):
    post_office_code: PostOfficeCode
    """The post office recording the scan; a clerk's credential must be bound to it."""


class TransitScanRequest(OnlineScan, TransitScan):
    """A transit scan recorded online."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scan_id": "8d7e6f5a-4b3c-4d2e-9f1a-0b9c8d7e6f5a",
                    "item_id": EXAMPLE_ITEM,
                    "scanned_at": "2025-03-15T06:10:00+07:00",
                    "direction": "DEPARTED",
                    "post_office_code": EXAMPLE_OFFICE,
                }
            ]
        }
    )

    kind: Literal["IN_TRANSIT"] = "IN_TRANSIT"


class OutForDeliveryRequest(OnlineScan, OutForDeliveryScan):
    """A result taken out for delivery, recorded online."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scan_id": "1f2e3d4c-5b6a-4789-8a7b-6c5d4e3f2a1b",
                    "item_id": EXAMPLE_RESULT_ITEM,
                    "scanned_at": "2025-03-25T08:05:00+07:00",
                    "courier_id": "courier-0011",
                    "post_office_code": EXAMPLE_OFFICE,
                }
            ]
        }
    )

    kind: Literal["OUT_FOR_DELIVERY"] = "OUT_FOR_DELIVERY"


class DeliveryFailedRequest(OnlineScan, DeliveryFailedScan):
    """A failed delivery attempt, recorded online."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scan_id": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
                    "item_id": EXAMPLE_RESULT_ITEM,
                    "scanned_at": "2025-03-25T10:40:00+07:00",
                    "courier_id": "courier-0011",
                    "reason": "NOT_AT_HOME",
                    "invitation_left": True,
                    "post_office_code": EXAMPLE_OFFICE,
                }
            ]
        }
    )

    kind: Literal["DELIVERY_FAILED"] = "DELIVERY_FAILED"


class DeliveredRequest(OnlineScan, DeliveredScan):
    """A delivered result, recorded online."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scan_id": "3b4c5d6e-7f8a-4b9c-8d1e-2f3a4b5c6d7e",
                    "item_id": EXAMPLE_RESULT_ITEM,
                    "scanned_at": "2025-03-27T09:20:00+07:00",
                    "courier_id": "courier-0011",
                    "recipient_kind": "APPLICANT",
                    "id_document_type": "CCCD",
                    "identity_verified": True,
                    "post_office_code": EXAMPLE_OFFICE,
                }
            ]
        }
    )

    kind: Literal["DELIVERED"] = "DELIVERED"


class ValidationIssue(Answer):
    """Where a request does not match the schema, without echoing the value."""

    loc: list[str | int]
    """Path to the offending field."""
    type: str
    """pydantic's error type; for a wrong item id, what is wrong with it (item_id_length,
    item_id_service_indicator, item_id_serial, item_id_check_digit, item_id_country_code)."""
    msg: str
    """What is wrong."""


OnlineScanRequest = TransitScanRequest | OutForDeliveryRequest | DeliveryFailedRequest | DeliveredRequest


def as_scan(request: OnlineScanRequest) -> AnyScan:
    """The scan an online request carries, as an offline batch would carry it (same content; the post
    office is the batch's or the request's, and scan_identity puts it in the fingerprint)."""
    fields = request.model_dump(exclude={"post_office_code"})
    if isinstance(request, TransitScanRequest):
        return TransitScan.model_validate(fields)
    if isinstance(request, OutForDeliveryRequest):
        return OutForDeliveryScan.model_validate(fields)
    if isinstance(request, DeliveryFailedRequest):
        return DeliveryFailedScan.model_validate(fields)
    return DeliveredScan.model_validate(fields)


class ScanOutcome(Answer):
    """What happened to one scan."""

    index: int
    """Position of the scan in the request."""
    scan_id: uuid.UUID | None
    """The scan's id (none when the scan was too malformed to read it)."""
    status: ItemOutcomeStatus
    """accepted: recorded now; duplicate: recorded earlier with this scan id; rejected: see reason."""
    event_id: uuid.UUID | None = None
    """The event the scan produced, for accepted and duplicate scans."""
    reason: str | None = None
    """Why the scan was rejected (invalid_scan, time_in_future, time_out_of_range, unknown_item,
    scan_id_reused, …)."""
    detail: str | None = None
    """The rejection in a sentence."""
    errors: list[ValidationIssue] | None = None
    """For invalid_scan: where the scan does not match the schema (never its values)."""


class BatchResult(Answer):
    """The outcome of an offline batch, scan by scan, in the order sent."""

    accepted: int
    """Scans recorded by this request."""
    duplicates: int
    """Scans recorded earlier with the same scan id."""
    rejected: int
    """Scans refused; see their reasons."""
    scans: list[ScanOutcome]
    """One entry per scan, in the order sent."""


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
