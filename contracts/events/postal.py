"""Events of the post office: every physical handover of a dossier, supplement or result.

Producer: the post office service (source ``/post-offices/<code>``); topic postal.events.v1.
The envelope's ``time`` is when the act happened at the counter, in the van or at the door.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from contracts.enums import (
    AcceptanceChannel,
    DeliveryFailureReason,
    ErasureReason,
    IdDocumentType,
    ItemKind,
    NotificationChannel,
    PersonalDataHolder,
    RecipientKind,
    RouteClass,
    ServiceForm,
    Stage,
    TransitDirection,
)
from contracts.events.base import PERSONAL_DATA, Event, one_of, one_of_schema
from contracts.events.parts import ApplicantContact, DocumentChecked, PhoneCheck
from contracts.values import (
    AgencyCode,
    AgencyDossierCode,
    AwareTime,
    PostOfficeCode,
    ProcedureCode,
    RecordId,
    S10ItemId,
    StaffId,
    Vnd,
)

InboundServiceForm = Annotated[
    ServiceForm,
    one_of(ServiceForm.SEND_DOSSIER, ServiceForm.SEND_AND_RECEIVE),
    one_of_schema(
        ServiceForm.SEND_DOSSIER,
        ServiceForm.SEND_AND_RECEIVE,
        description="The service form of a dossier sent by post (Art. 5, forms 1 and 3).",
    ),
]

HandedOverItemKind = Annotated[
    ItemKind,
    one_of(ItemKind.DOSSIER, ItemKind.SUPPLEMENT),
    one_of_schema(ItemKind.DOSSIER, ItemKind.SUPPLEMENT, description="The dossier or a supplement to it."),
]


class PostalEvent(Event):
    """An event recorded by the post office."""


class DossierAccepted(PostalEvent):
    """The post office accepted a dossier, at its counter or at the citizen's address.

    Clerk and citizen checked the documents against the procedure's list, both signed the dossier
    slip (phiếu gửi hồ sơ), the clerk sealed the package and collected fees, charges and postage.
    Starts the inbound postal clock (J = the acceptance day).
    """

    type: Literal["postal.dossier_accepted"] = "postal.dossier_accepted"
    version: Literal[1] = 1
    item_id: S10ItemId
    """The postal item id of the sealed dossier (the inbound leg)."""
    procedure_code: ProcedureCode
    """The administrative procedure the dossier is for."""
    agency_code: AgencyCode
    """The destination agency."""
    service_form: InboundServiceForm
    """SEND_DOSSIER: the citizen collects the result in person; SEND_AND_RECEIVE: it comes back by post."""
    channel: AcceptanceChannel
    """At the counter or at the citizen's address."""
    applicant: ApplicantContact = Field(json_schema_extra=PERSONAL_DATA)
    """The applicant's contact (personal data)."""
    documents: tuple[DocumentChecked, ...] = Field(min_length=1)
    """The documents checked into the package."""
    fee_vnd: Vnd
    """Fee (phí) collected for the agency."""
    charge_vnd: Vnd
    """Charge (lệ phí) collected for the agency."""
    postage_vnd: Vnd
    """Postage (cước) for the postal service; for SEND_AND_RECEIVE it covers the return leg too."""
    clerk_id: StaffId
    """The clerk (or courier, at the address) who accepted the dossier."""
    post_office_code: PostOfficeCode
    """The post office that accepted the dossier."""
    route_class: RouteClass
    """The route to the agency, which selects the J+n limit."""
    carries_appointment_slip_back: bool = False
    """True when the appointment slip must also be carried back to the citizen (the limit doubles)."""
    inbound_due_date: date
    """The last day for handing the dossier to the agency (J+n working days)."""


class DossierAcceptedV2(PostalEvent):
    """The post office accepted a dossier, at its counter or at the citizen's address (version 2).

    As version 1, without the applicant's contact: the post office keeps it in its vault (erasable on
    the person's request), and the event says who holds it and carries the digest the tracker's public
    lookup checks the phone's last four digits against.
    """

    type: Literal["postal.dossier_accepted"] = "postal.dossier_accepted"
    version: Literal[2] = 2
    item_id: S10ItemId
    """The postal item id of the sealed dossier (the inbound leg)."""
    procedure_code: ProcedureCode
    """The administrative procedure the dossier is for."""
    agency_code: AgencyCode
    """The destination agency."""
    service_form: InboundServiceForm
    """SEND_DOSSIER: the citizen collects the result in person; SEND_AND_RECEIVE: it comes back by post."""
    channel: AcceptanceChannel
    """At the counter or at the citizen's address."""
    held_by: PersonalDataHolder
    """Who holds the applicant's contact: POST_OFFICE (its vault); EVENT_V1 only for an upcast v1 event."""
    phone_check: PhoneCheck
    """Digest of the applicant's phone's last four digits for the public lookup (see PhoneCheck)."""
    documents: tuple[DocumentChecked, ...] = Field(min_length=1)
    """The documents checked into the package."""
    fee_vnd: Vnd
    """Fee (phí) collected for the agency."""
    charge_vnd: Vnd
    """Charge (lệ phí) collected for the agency."""
    postage_vnd: Vnd
    """Postage (cước) for the postal service; for SEND_AND_RECEIVE it covers the return leg too."""
    clerk_id: StaffId
    """The clerk (or courier, at the address) who accepted the dossier."""
    post_office_code: PostOfficeCode
    """The post office that accepted the dossier."""
    route_class: RouteClass
    """The route to the agency, which selects the J+n limit."""
    carries_appointment_slip_back: bool = False
    """True when the appointment slip must also be carried back to the citizen (the limit doubles)."""
    inbound_due_date: date
    """The last day for handing the dossier to the agency (J+n working days)."""
    notify_by: tuple[NotificationChannel, ...] | None = Field(default=None, max_length=3)
    """The channels the applicant agreed, at intake, to be told on where the dossier stands (the
    addresses stay in the owner's vault); empty: none. Absent on events from before the choice was asked:
    no consent either."""


class DossierInTransit(PostalEvent):
    """A postal facility scanned an item leaving or reaching it (any number, on any postal leg)."""

    type: Literal["postal.dossier_in_transit"] = "postal.dossier_in_transit"
    version: Literal[1] = 1
    item_id: S10ItemId
    """The item scanned."""
    item_kind: ItemKind
    """Whether the item is the dossier, a supplement or the result."""
    facility_code: PostOfficeCode
    """Postal code of the facility (post office, sorting centre) that scanned it."""
    direction: TransitDirection
    """Departed from or arrived at the facility."""
    scanned_by: StaffId | None = None
    """The postal worker who scanned it, when the scan was manual."""


class DossierHandedToAgency(PostalEvent):
    """The postal worker and the agency officer signed the handover record (biên bản giao nhận).

    The signing time is the dossier's filing time: the agency clock starts there, not at acceptance.
    Ends the inbound postal clock. A supplement sent by post is handed over the same way.
    """

    type: Literal["postal.dossier_handed_to_agency"] = "postal.dossier_handed_to_agency"
    version: Literal[1] = 1
    item_id: S10ItemId
    """The item handed over."""
    item_kind: HandedOverItemKind = ItemKind.DOSSIER
    """The dossier itself or a supplement to it."""
    handover_record_id: RecordId
    """The handover record; one record lists many items."""
    agency_code: AgencyCode
    """The agency that took custody."""
    post_office_code: PostOfficeCode
    """The post office that handed the item over."""
    postal_worker_id: StaffId
    """The postal worker who signed the record."""
    agency_officer_id: StaffId
    """The agency officer who signed the record."""
    signed_at: AwareTime
    """When the record was signed: the filing time."""


class ResultPickedUp(PostalEvent):
    """The postal worker picked up the result (or the refusal) at the agency's desk.

    Both signed the pickup slip and the result was sealed as a new postal item. Starts the return
    postal clock (J = the pickup day) that ends at the first delivery attempt.
    """

    type: Literal["postal.result_picked_up"] = "postal.result_picked_up"
    version: Literal[1] = 1
    result_item_id: S10ItemId
    """The postal item id of the sealed result (the return leg)."""
    dossier_item_id: S10ItemId | None = None
    """The inbound item id of the dossier, when it came by post (form SEND_AND_RECEIVE)."""
    agency_dossier_code: AgencyDossierCode
    """The agency's code of the dossier this result answers."""
    pickup_record_id: RecordId
    """The signed pickup slip."""
    agency_code: AgencyCode
    """The agency that released the result."""
    post_office_code: PostOfficeCode
    """The post office that took custody."""
    postal_worker_id: StaffId
    """The postal worker who picked the result up."""
    agency_officer_id: StaffId
    """The agency officer who released it."""
    route_class: RouteClass
    """The route to the citizen, which selects the J+n limit."""
    return_due_date: date
    """The last day for the first delivery attempt (J+n working days)."""


class ResultOutForDelivery(PostalEvent):
    """A courier took the result out for a delivery attempt. The first attempt ends the return clock."""

    type: Literal["postal.result_out_for_delivery"] = "postal.result_out_for_delivery"
    version: Literal[1] = 1
    result_item_id: S10ItemId
    """The result item."""
    courier_id: StaffId
    """The courier who holds it now."""
    post_office_code: PostOfficeCode
    """The delivering post office."""
    attempt: int = Field(ge=1)
    """1 for the first attempt."""


class DeliveryFailed(PostalEvent):
    """A delivery attempt did not hand the result over; the courier left an invitation to collect."""

    type: Literal["postal.delivery_failed"] = "postal.delivery_failed"
    version: Literal[1] = 1
    result_item_id: S10ItemId
    """The result item."""
    courier_id: StaffId
    """The courier who made the attempt."""
    post_office_code: PostOfficeCode
    """The delivering post office, which holds the result again."""
    attempt: int = Field(ge=1)
    """Which attempt failed."""
    reason: DeliveryFailureReason
    """Why it failed."""
    note: str | None = Field(default=None, max_length=500, json_schema_extra=PERSONAL_DATA)
    """The courier's note, for OTHER (free text: may hold personal data)."""
    invitation_left: bool
    """Whether a delivery invitation (giấy mời) was left; returning needs at least two."""
    next_attempt_on: date | None = None
    """The day of the next attempt announced in the invitation, if any."""


class DeliveryFailedV2(PostalEvent):
    """A delivery attempt did not hand the result over; the courier left an invitation to collect
    (version 2: the courier's free-text note, which may hold personal data, stays in the post office's
    vault; the event says only whether there is one)."""

    type: Literal["postal.delivery_failed"] = "postal.delivery_failed"
    version: Literal[2] = 2
    result_item_id: S10ItemId
    """The result item."""
    courier_id: StaffId
    """The courier who made the attempt."""
    post_office_code: PostOfficeCode
    """The delivering post office, which holds the result again."""
    attempt: int = Field(ge=1)
    """Which attempt failed."""
    reason: DeliveryFailureReason
    """Why it failed."""
    note_held: bool = False
    """True when the courier wrote a note, kept by the post office (personal data: never in an event)."""
    invitation_left: bool
    """Whether a delivery invitation (giấy mời) was left; returning needs at least two."""
    next_attempt_on: date | None = None
    """The day of the next attempt announced in the invitation, if any."""


class ResultDelivered(PostalEvent):
    """The courier handed the result to the applicant or to an authorised proxy, after checking an ID.

    The recipient's name and ID number stay on the signed proof of delivery, not in the event.
    """

    type: Literal["postal.result_delivered"] = "postal.result_delivered"
    version: Literal[1] = 1
    result_item_id: S10ItemId
    """The result item."""
    courier_id: StaffId
    """The courier who delivered it."""
    post_office_code: PostOfficeCode
    """The delivering post office."""
    attempt: int = Field(ge=1)
    """Which attempt succeeded."""
    recipient_kind: RecipientKind
    """The applicant, or a proxy with a written authorisation."""
    id_document_type: IdDocumentType
    """The identity document shown."""
    identity_verified: bool
    """Whether the courier verified the document against the recipient."""
    authorisation_checked: bool = False
    """For a proxy: whether the written authorisation was checked."""


class ResultReturnedToAgency(PostalEvent):
    """The post returned an undeliverable result to the agency after failed attempts or a refusal."""

    type: Literal["postal.result_returned_to_agency"] = "postal.result_returned_to_agency"
    version: Literal[1] = 1
    result_item_id: S10ItemId
    """The result item."""
    agency_code: AgencyCode
    """The agency that took it back."""
    post_office_code: PostOfficeCode
    """The post office that returned it."""
    return_record_id: RecordId
    """The signed return record."""
    postal_worker_id: StaffId
    """The postal worker who returned it."""
    agency_officer_id: StaffId
    """The agency officer who took it back."""
    attempts: int = Field(ge=1)
    """How many delivery attempts were made."""
    reason: DeliveryFailureReason
    """The reason of the last failed attempt."""


class ItemLost(PostalEvent):
    """A postal item (dossier, supplement or result) was declared lost.

    When the post is at fault it pays the re-issuing costs and compensation of at least 4× the postage.
    """

    type: Literal["postal.item_lost"] = "postal.item_lost"
    version: Literal[1] = 1
    item_id: S10ItemId
    """The lost item."""
    item_kind: ItemKind
    """Which leg's item: the dossier, a supplement or the result."""
    stage: Stage
    """The stage the dossier was in when the item was lost."""
    post_office_code: PostOfficeCode
    """The post office that declared the loss."""
    reported_by: StaffId
    """Who declared it."""
    at_fault: bool
    """Whether the post is at fault."""
    compensation_vnd: Vnd | None = None
    """Compensation paid or agreed, when known."""


class ItemDamaged(PostalEvent):
    """A postal item (dossier, supplement or result) was found damaged."""

    type: Literal["postal.item_damaged"] = "postal.item_damaged"
    version: Literal[1] = 1
    item_id: S10ItemId
    """The damaged item."""
    item_kind: ItemKind
    """Which leg's item: the dossier, a supplement or the result."""
    stage: Stage
    """The stage the dossier was in when the damage was found."""
    post_office_code: PostOfficeCode
    """The post office that recorded the damage."""
    reported_by: StaffId
    """Who recorded it."""
    at_fault: bool
    """Whether the post is at fault."""
    compensation_vnd: Vnd | None = None
    """Compensation paid or agreed, when known."""


class PersonalDataErased(PostalEvent):
    """The post office's vault erased personal data of the dossier: sealed blob and wrapped data key
    deleted, a tombstone kept. Carries no personal data. Consumers drop what they derived from it (the tracker
    clears the dossier's phone check when the applicant's contact is erased); the staff APIs of the
    owner answer the record as erased from then on."""

    type: Literal["postal.personal_data_erased"] = "postal.personal_data_erased"
    version: Literal[1] = 1
    reason: ErasureReason
    """``retention``: every purpose it was kept for has ended; ``request``: the person asked for it."""
    erased_at: AwareTime
    """When it was erased."""
    kinds: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=100)
    """The records erased: ``applicant`` (the contact), ``delivery_address``,
    ``delivery_note:<item>:<n>``."""
