"""A valid sample of every registered event, wrapped in an envelope: for tests, simulators and smoke runs.

Samples are deterministic: fixed times in Vietnam's time zone, fixed codes, and event ids derived
from the dossier id and the event type, so two runs publish the same messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from contracts.enums import (
    AcceptanceChannel,
    ClosureReason,
    CustodyHolderKind,
    DeliveryFailureReason,
    DocumentForm,
    ErasureReason,
    FilingChannel,
    IdDocumentType,
    ItemKind,
    Leg,
    Outcome,
    PersonalDataHolder,
    RecipientKind,
    RouteClass,
    ServiceForm,
    Stage,
    TransitDirection,
)
from contracts.envelope import Envelope
from contracts.events import (
    EVENT_TYPES,
    Address,
    AgencyPersonalDataErased,
    ApplicantContact,
    ClockDueSoon,
    ClockOverdue,
    CustodyHolder,
    DelayNotified,
    DeliveryFailed,
    DeliveryFailedV2,
    DocumentChecked,
    DossierAccepted,
    DossierAcceptedV2,
    DossierClosed,
    DossierHandedToAgency,
    DossierInTransit,
    DossierProcessing,
    DossierReceived,
    DossierRefused,
    DossierRegisteredForReturn,
    DossierRegisteredForReturnV2,
    DossierWithdrawn,
    Event,
    EventKey,
    ItemDamaged,
    ItemLost,
    PersonalDataErased,
    ResultDelivered,
    ResultOutForDelivery,
    ResultPickedUp,
    ResultReady,
    ResultReturnedToAgency,
    StageChanged,
    SupplementReceived,
    SupplementRequested,
)
from contracts.sources import TRACKER_SOURCE, TURNAROUND_SOURCE, agency_source, post_office_source
from contracts.values import dossier_id_for_item, make_agency_dossier_code, make_s10

VIETNAM = timezone(timedelta(hours=7), "ICT")
SAMPLE_TIME = datetime(2025, 3, 14, 9, 30, tzinfo=VIETNAM)
SAMPLE_POST_OFFICE = "100000"
SAMPLE_AGENCY = "000.00.01.H22"
SAMPLE_PROCEDURE = "1.001234"
SAMPLE_ITEM_ID = make_s10("EB", 12345678)
SAMPLE_SUPPLEMENT_ITEM_ID = make_s10("EB", 12345679)
SAMPLE_RESULT_ITEM_ID = make_s10("RR", 47312482)
SAMPLE_AGENCY_DOSSIER_CODE = make_agency_dossier_code(SAMPLE_AGENCY, date(2025, 3, 14), 7)
SAMPLE_DOSSIER_ID = dossier_id_for_item(SAMPLE_ITEM_ID)

SAMPLE_ADDRESS = Address(line="12 Phố Tràng Tiền", commune="Phường Hoàn Kiếm", province_code="01")
SAMPLE_APPLICANT = ApplicantContact(
    name="Nguyễn Văn An", phone="0912 345 678", address=SAMPLE_ADDRESS, id_number="001085012345"
)
"""Personal data of the samples: tests check it never leaks into keys, headers or errors."""


def _accepted() -> DossierAccepted:
    return DossierAccepted(
        item_id=SAMPLE_ITEM_ID,
        procedure_code=SAMPLE_PROCEDURE,
        agency_code=SAMPLE_AGENCY,
        service_form=ServiceForm.SEND_AND_RECEIVE,
        channel=AcceptanceChannel.COUNTER,
        applicant=SAMPLE_APPLICANT,
        documents=(
            DocumentChecked(name="Tờ khai đề nghị cấp hộ chiếu", form=DocumentForm.ORIGINAL, count=1),
            DocumentChecked(name="Ảnh chân dung 4x6", form=DocumentForm.ORIGINAL, count=2),
        ),
        fee_vnd=0,
        charge_vnd=200_000,
        postage_vnd=36_000,
        clerk_id="clerk-0042",
        post_office_code=SAMPLE_POST_OFFICE,
        route_class=RouteClass.INTRA_PROVINCIAL,
        inbound_due_date=date(2025, 3, 18),
    )


SAMPLE_PHONE_CHECK = "5f0e7c4d1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"
"""A phone check of the samples (a digest under no real key)."""


def _accepted_v2() -> DossierAcceptedV2:
    v1 = _accepted().model_dump(exclude={"type", "version", "applicant"})
    return DossierAcceptedV2(**v1, held_by=PersonalDataHolder.POST_OFFICE, phone_check=SAMPLE_PHONE_CHECK)


def _in_transit() -> DossierInTransit:
    return DossierInTransit(
        item_id=SAMPLE_ITEM_ID,
        item_kind=ItemKind.DOSSIER,
        facility_code="100900",
        direction=TransitDirection.DEPARTED,
    )


def _handed_to_agency() -> DossierHandedToAgency:
    return DossierHandedToAgency(
        item_id=SAMPLE_ITEM_ID,
        handover_record_id="BBGN-2025-000123",
        agency_code=SAMPLE_AGENCY,
        post_office_code=SAMPLE_POST_OFFICE,
        postal_worker_id="postman-0007",
        agency_officer_id="officer-0003",
        signed_at=datetime(2025, 3, 17, 10, 15, tzinfo=VIETNAM),
    )


def _picked_up() -> ResultPickedUp:
    return ResultPickedUp(
        result_item_id=SAMPLE_RESULT_ITEM_ID,
        dossier_item_id=SAMPLE_ITEM_ID,
        agency_dossier_code=SAMPLE_AGENCY_DOSSIER_CODE,
        pickup_record_id="PN-2025-000456",
        agency_code=SAMPLE_AGENCY,
        post_office_code=SAMPLE_POST_OFFICE,
        postal_worker_id="postman-0007",
        agency_officer_id="officer-0003",
        route_class=RouteClass.INTRA_PROVINCIAL,
        return_due_date=date(2025, 3, 31),
    )


def _out_for_delivery() -> ResultOutForDelivery:
    return ResultOutForDelivery(
        result_item_id=SAMPLE_RESULT_ITEM_ID,
        courier_id="courier-0011",
        post_office_code=SAMPLE_POST_OFFICE,
        attempt=1,
    )


def _delivery_failed() -> DeliveryFailed:
    return DeliveryFailed(
        result_item_id=SAMPLE_RESULT_ITEM_ID,
        courier_id="courier-0011",
        post_office_code=SAMPLE_POST_OFFICE,
        attempt=1,
        reason=DeliveryFailureReason.NOT_AT_HOME,
        invitation_left=True,
        next_attempt_on=date(2025, 4, 1),
    )


def _delivered() -> ResultDelivered:
    return ResultDelivered(
        result_item_id=SAMPLE_RESULT_ITEM_ID,
        courier_id="courier-0011",
        post_office_code=SAMPLE_POST_OFFICE,
        attempt=2,
        recipient_kind=RecipientKind.APPLICANT,
        id_document_type=IdDocumentType.CCCD,
        identity_verified=True,
    )


def _returned() -> ResultReturnedToAgency:
    return ResultReturnedToAgency(
        result_item_id=SAMPLE_RESULT_ITEM_ID,
        agency_code=SAMPLE_AGENCY,
        post_office_code=SAMPLE_POST_OFFICE,
        return_record_id="BBTL-2025-000789",
        postal_worker_id="postman-0007",
        agency_officer_id="officer-0003",
        attempts=2,
        reason=DeliveryFailureReason.NOT_AT_HOME,
    )


def _lost() -> ItemLost:
    return ItemLost(
        item_id=SAMPLE_ITEM_ID,
        item_kind=ItemKind.DOSSIER,
        stage=Stage.IN_TRANSIT,
        post_office_code=SAMPLE_POST_OFFICE,
        reported_by="supervisor-0001",
        at_fault=True,
        compensation_vnd=144_000,
    )


def _damaged() -> ItemDamaged:
    return ItemDamaged(
        item_id=SAMPLE_ITEM_ID,
        item_kind=ItemKind.DOSSIER,
        stage=Stage.IN_TRANSIT,
        post_office_code=SAMPLE_POST_OFFICE,
        reported_by="supervisor-0001",
        at_fault=False,
    )


_DESK = {"agency_code": SAMPLE_AGENCY, "officer_id": "officer-0003"}


def _received() -> DossierReceived:
    return DossierReceived(
        **_DESK,
        agency_dossier_code=SAMPLE_AGENCY_DOSSIER_CODE,
        procedure_code=SAMPLE_PROCEDURE,
        item_id=SAMPLE_ITEM_ID,
        filed_at=datetime(2025, 3, 17, 10, 15, tzinfo=VIETNAM),
        legal_due_date=date(2025, 3, 27),
        appointment_date=date(2025, 3, 27),
        appointment_later_than_legal=False,
    )


def _refused() -> DossierRefused:
    return DossierRefused(**_DESK, reason="Thủ tục không thuộc thẩm quyền giải quyết của cơ quan.")


def _supplement_requested() -> SupplementRequested:
    return SupplementRequested(
        **_DESK,
        agency_dossier_code=SAMPLE_AGENCY_DOSSIER_CODE,
        missing_documents=("Bản sao giấy khai sinh",),
        reason="Thiếu giấy tờ theo danh mục của thủ tục.",
        request_number=1,
        window_ends_on=date(2025, 3, 19),
        rule_set="decree_61_2018",
        breach=False,
    )


def _supplement_received() -> SupplementReceived:
    return SupplementReceived(
        **_DESK,
        agency_dossier_code=SAMPLE_AGENCY_DOSSIER_CODE,
        received_at=datetime(2025, 3, 20, 14, 0, tzinfo=VIETNAM),
        supplement_item_id=SAMPLE_SUPPLEMENT_ITEM_ID,
    )


def _processing() -> DossierProcessing:
    return DossierProcessing(
        **_DESK, agency_dossier_code=SAMPLE_AGENCY_DOSSIER_CODE, department="Phòng Quản lý"
    )


def _delay_notified() -> DelayNotified:
    return DelayNotified(
        **_DESK,
        agency_dossier_code=SAMPLE_AGENCY_DOSSIER_CODE,
        previous_due_date=date(2025, 3, 27),
        new_due_date=date(2025, 4, 3),
        reason="Cần xác minh thêm thông tin với cơ quan liên quan.",
        issued_on=date(2025, 3, 25),
        breach=False,
    )


def _withdrawn() -> DossierWithdrawn:
    return DossierWithdrawn(**_DESK, agency_dossier_code=SAMPLE_AGENCY_DOSSIER_CODE)


def _closed() -> DossierClosed:
    return DossierClosed(
        **{**_DESK, "officer_id": "system:closure"},
        agency_dossier_code=SAMPLE_AGENCY_DOSSIER_CODE,
        reason=ClosureReason.SUPPLEMENT_NOT_COMPLETED,
        automatic=True,
        supplement_requested_at=datetime(2025, 7, 15, 9, 0, tzinfo=VIETNAM),
        period_days=15,
        period_unit="calendar",
        period_ended_on=date(2025, 7, 30),
        rule_set="decree_118_2025",
    )


def _result_ready() -> ResultReady:
    return ResultReady(
        **_DESK,
        agency_dossier_code=SAMPLE_AGENCY_DOSSIER_CODE,
        outcome=Outcome.APPROVED,
        result_reference="HC-2025-001234",
    )


def _registered_for_return() -> DossierRegisteredForReturn:
    return DossierRegisteredForReturn(
        **_DESK,
        agency_dossier_code=SAMPLE_AGENCY_DOSSIER_CODE,
        procedure_code=SAMPLE_PROCEDURE,
        filing_channel=FilingChannel.ONLINE,
        filed_at=datetime(2025, 3, 14, 8, 5, tzinfo=VIETNAM),
        applicant=SAMPLE_APPLICANT,
        delivery_address=SAMPLE_ADDRESS,
    )


def _registered_for_return_v2() -> DossierRegisteredForReturnV2:
    v1 = _registered_for_return().model_dump(exclude={"type", "version", "applicant", "delivery_address"})
    return DossierRegisteredForReturnV2(
        **v1, held_by=PersonalDataHolder.AGENCY, phone_check=SAMPLE_PHONE_CHECK
    )


def _delivery_failed_v2() -> DeliveryFailedV2:
    v1 = _delivery_failed().model_dump(exclude={"type", "version", "note"})
    return DeliveryFailedV2(**v1, note_held=_delivery_failed().note is not None)


def _stage_changed() -> StageChanged:
    return StageChanged(
        from_stage=Stage.ACCEPTED,
        to_stage=Stage.HANDED_TO_AGENCY,
        custody=CustodyHolder(kind=CustodyHolderKind.AGENCY, code=SAMPLE_AGENCY),
        cause_event_id=uuid.UUID("5d6f3a52-2b8e-4c1e-9a37-0c1f5e8d2b44"),
        cause_event_type="postal.dossier_handed_to_agency",
    )


def _due_soon() -> ClockDueSoon:
    return ClockDueSoon(leg=Leg.AGENCY_PROCESSING, due_date=date(2025, 3, 27), agency_code=SAMPLE_AGENCY)


def _overdue() -> ClockOverdue:
    return ClockOverdue(
        leg=Leg.INBOUND_POSTAL, due_date=date(2025, 3, 18), post_office_code=SAMPLE_POST_OFFICE
    )


def _postal_erased() -> PersonalDataErased:
    return PersonalDataErased(
        reason=ErasureReason.RETENTION,
        erased_at=datetime(2025, 7, 30, 0, 0, tzinfo=VIETNAM),
        kinds=["applicant"],
    )


def _agency_erased() -> AgencyPersonalDataErased:
    return AgencyPersonalDataErased(
        **{**_DESK, "officer_id": "system:retention"},
        reason=ErasureReason.REQUEST,
        erased_at=datetime(2025, 7, 30, 9, 0, tzinfo=VIETNAM),
        kinds=["applicant", "delivery_address"],
    )


_FACTORIES: dict[type[Event], Callable[[], Event]] = {
    DossierAccepted: _accepted,
    DossierAcceptedV2: _accepted_v2,
    DossierInTransit: _in_transit,
    DossierHandedToAgency: _handed_to_agency,
    ResultPickedUp: _picked_up,
    ResultOutForDelivery: _out_for_delivery,
    DeliveryFailed: _delivery_failed,
    DeliveryFailedV2: _delivery_failed_v2,
    ResultDelivered: _delivered,
    ResultReturnedToAgency: _returned,
    ItemLost: _lost,
    ItemDamaged: _damaged,
    PersonalDataErased: _postal_erased,
    DossierReceived: _received,
    DossierRefused: _refused,
    SupplementRequested: _supplement_requested,
    SupplementReceived: _supplement_received,
    DossierProcessing: _processing,
    DelayNotified: _delay_notified,
    DossierWithdrawn: _withdrawn,
    DossierClosed: _closed,
    ResultReady: _result_ready,
    DossierRegisteredForReturn: _registered_for_return,
    DossierRegisteredForReturnV2: _registered_for_return_v2,
    AgencyPersonalDataErased: _agency_erased,
    StageChanged: _stage_changed,
    ClockDueSoon: _due_soon,
    ClockOverdue: _overdue,
}

EventSelector = str | EventKey | type[Event]
"""An event type: its type string (latest version), its (type, version) or its model."""


def _model(selector: EventSelector) -> type[Event]:
    if isinstance(selector, type):
        return selector
    if isinstance(selector, tuple):
        return EVENT_TYPES[selector]
    versions = sorted(version for (event_type, version) in EVENT_TYPES if event_type == selector)
    if not versions:
        raise KeyError(f"no event type {selector!r} is registered")
    return EVENT_TYPES[(selector, versions[-1])]


def sample_event(selector: EventSelector, **changes: Any) -> Event:
    """A valid event of the given type; ``changes`` replace fields (and are validated)."""
    model = _model(selector)
    event = _FACTORIES[model]()
    if not changes:
        return event
    return model.model_validate({**event.model_dump(), **changes})


def source_for(event_type: str) -> str:
    """The source a sample event of this type comes from."""
    prefix = event_type.partition(".")[0]
    if prefix == "postal":
        return post_office_source(SAMPLE_POST_OFFICE)
    if prefix == "agency":
        return agency_source(SAMPLE_AGENCY)
    return TRACKER_SOURCE if prefix == "tracker" else TURNAROUND_SOURCE


def sample_envelope(
    selector: EventSelector,
    dossier_id: str = SAMPLE_DOSSIER_ID,
    *,
    time: datetime = SAMPLE_TIME,
    **changes: Any,
) -> Envelope[Event]:
    """A valid envelope of the given event type for a dossier, with an id derived from both."""
    event = sample_event(selector, **changes)
    event_id = uuid.uuid5(uuid.UUID(dossier_id), f"{event.type}.v{event.version}")
    return Envelope.new(event, subject=dossier_id, source=source_for(event.type), time=time, id=event_id)


def sample_envelopes(dossier_id: str = SAMPLE_DOSSIER_ID) -> list[Envelope[Event]]:
    """One envelope of every registered (type, version), in registry order."""
    return [sample_envelope(key, dossier_id) for key in EVENT_TYPES]
