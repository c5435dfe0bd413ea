"""What the tracking page makes of a dossier, without a database: the timeline's lines, places and times
(Vietnam time, newest first, never a staff id), and the office to contact in each stage with its
fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.enums import CustodyHolderKind, ServiceForm, Stage
from contracts.samples import SAMPLE_AGENCY, SAMPLE_POST_OFFICE
from services.tracker.answers import Office, OfficeDirectory, PublicDossier, PublicHolder
from services.tracker.domain import HistoryEntry, fold, history_entry
from services.tracker.page.timeline import contact_of, timeline_of
from services.tracker.page.wording import Contact, wording

WORDS = wording()
DIRECTORY = OfficeDirectory({SAMPLE_POST_OFFICE: "Bưu cục Hoàn Kiếm (mẫu)", SAMPLE_AGENCY: "Bộ phận Một cửa"})
AGENCY = Office(code=SAMPLE_AGENCY, name="Bộ phận Một cửa")
POST_OFFICE = Office(code=SAMPLE_POST_OFFICE, name="Bưu cục Hoàn Kiếm (mẫu)")
HOLDING = Office(code="700000", name=None)
AT = datetime(2025, 3, 14, 2, 0, tzinfo=UTC)


def answer(
    *, agency: Office | None = AGENCY, post_office: Office | None = POST_OFFICE, holder: PublicHolder | None
) -> PublicDossier:
    return PublicDossier(
        reference="EB123456785VN",
        service_form=ServiceForm.SEND_AND_RECEIVE,
        stage=Stage.DELIVERY_FAILED,
        stage_since=AT,
        holder=holder,
        overdue=False,
        post_office=post_office,
        agency=agency,
        last_update=AT,
    )


def test_the_contact_is_the_office_the_stage_names() -> None:
    held = answer(holder=PublicHolder(kind=CustodyHolderKind.POST_OFFICE, office=HOLDING))

    assert contact_of(held, Contact.HOLDER) == HOLDING
    assert contact_of(held, Contact.AGENCY) == AGENCY
    assert contact_of(held, Contact.POST_OFFICE) == POST_OFFICE


def test_a_result_with_the_citizen_and_no_accepting_post_office_falls_back_to_the_agency() -> None:
    delivered = answer(post_office=None, holder=PublicHolder(kind=CustodyHolderKind.CITIZEN))

    assert contact_of(delivered, Contact.POST_OFFICE) == AGENCY
    assert contact_of(delivered, Contact.HOLDER) == AGENCY


def test_with_no_office_known_there_is_no_contact() -> None:
    assert contact_of(answer(agency=None, post_office=None, holder=None), Contact.AGENCY) is None


def entry(n: int, event_type: str, hour: int, **data: object) -> HistoryEntry:
    return history_entry(
        event_id=f"00000000-0000-0000-0000-{n:012d}",
        dossier_id="d",
        event_type=event_type,
        version=1,
        occurred_at=datetime(2025, 3, 14, hour, 0, tzinfo=UTC),
        source="test",
        data=data,
    )


def test_the_timeline_is_newest_first_in_vietnam_time_with_offices_and_never_a_courier_s_id() -> None:
    history = [
        entry(1, "agency.dossier_registered_for_return", 1, agency_code=SAMPLE_AGENCY),
        entry(2, "agency.result_ready", 2, agency_code=SAMPLE_AGENCY),
        entry(3, "postal.result_picked_up", 3, post_office_code=SAMPLE_POST_OFFICE),
        entry(4, "postal.dossier_in_transit", 4, item_kind="RESULT", facility_code="100900"),
        entry(5, "postal.result_out_for_delivery", 5, courier_id="courier-0011", post_office_code="700000"),
        entry(6, "postal.result_delivered", 6),
        entry(7, "postal.something_new", 7),
    ]
    steps = fold("d", history).steps

    lines = [
        (item.at.strftime("%H:%M"), item.text, item.place) for item in timeline_of(steps, DIRECTORY, WORDS)
    ]

    assert lines == [
        ("14:00", "Hồ sơ có cập nhật mới", None),
        ("13:00", "Phát kết quả thành công", None),  # with the citizen: no place
        ("12:00", "Bưu tá mang kết quả đi phát", Office(code="700000", name=None)),
        ("11:00", "Kết quả đang trên đường vận chuyển", Office(code="100900", name=None)),
        ("10:00", "Bưu điện nhận kết quả tại cơ quan giải quyết", POST_OFFICE),
        ("09:00", "Cơ quan giải quyết có kết quả", AGENCY),
        ("08:00", "Cơ quan giải quyết đăng ký trả kết quả qua bưu điện", AGENCY),
    ]
