"""What each event teaches the service: the message it makes (kind, which one, the stage that releases it)
and the parameters its wording names — dates as Vietnamese forms write them, places by their codes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from contracts.enums import ClosureReason, DeliveryFailureReason, ErasureReason, Leg, Stage
from contracts.envelope import Envelope
from contracts.events import (
    AgencyPersonalDataErased,
    ClockDueSoon,
    ClockOverdue,
    DelayNotified,
    DeliveryFailedV2,
    DossierClosed,
    Event,
    ResultReturnedToAgency,
    SupplementRequested,
)
from services.notifications.domain import PARAMETERS, Kind
from services.notifications.facts import ContactErased, MessageFact, learned_from

VN = ZoneInfo("Asia/Ho_Chi_Minh")
DOSSIER = str(uuid.uuid4())
AGENCY = "000.00.01.H22"
AT = datetime(2026, 3, 10, 9, 0, tzinfo=VN)


def wrapped(event: Event) -> Envelope[Event]:
    return Envelope.new(event, subject=DOSSIER, source="/agencies/000.00.01.H22", time=AT)


def only_fact(event: Event) -> MessageFact:
    (learned,) = learned_from(wrapped(event))
    assert isinstance(learned, MessageFact)
    assert set(learned.parameters) | {"dossier_ref"} == PARAMETERS[learned.kind]
    return learned


def test_a_supplement_request_says_what_to_bring_and_why_and_which_request_it_is() -> None:
    fact = only_fact(
        SupplementRequested(
            agency_code=AGENCY,
            officer_id="officer-0003",
            missing_documents=("Giấy chứng sinh", "Bản sao CCCD"),
            reason="Thiếu giấy tờ",
            request_number=2,
        )
    )
    assert (fact.kind, fact.occurrence, fact.stage) == (
        Kind.SUPPLEMENT_REQUESTED,
        2,
        Stage.AWAITING_SUPPLEMENT,
    )
    assert fact.parameters["documents"] == "Giấy chứng sinh; Bản sao CCCD"


def test_a_delay_notice_is_told_on_its_own_with_the_new_date() -> None:
    fact = only_fact(
        DelayNotified(
            agency_code=AGENCY,
            officer_id="officer-0003",
            agency_dossier_code="000.00.01.H22-260302-0001",
            previous_due_date=date(2026, 3, 16),
            new_due_date=date(2026, 3, 30),
            reason="Cần xác minh thêm",
            issued_on=date(2026, 3, 12),
            breach=False,
        )
    )
    assert (fact.kind, fact.stage) == (Kind.DELAY_NOTICE, None)
    assert (fact.parameters["previous_due_date"], fact.parameters["new_due_date"]) == (
        "16/03/2026",
        "30/03/2026",
    )


@pytest.mark.parametrize(
    ("next_attempt_on", "words"),
    [(date(2026, 3, 12), "ngày 12/03/2026"), (None, "bưu cục sẽ liên hệ hẹn lại")],
)
def test_a_failed_delivery_names_the_next_attempt_and_where_to_collect(
    next_attempt_on: date | None, words: str
) -> None:
    fact = only_fact(
        DeliveryFailedV2(
            result_item_id="RR123456785VN",
            courier_id="courier-7",
            post_office_code="100000",
            attempt=2,
            reason=DeliveryFailureReason.NOT_AT_HOME,
            invitation_left=True,
            next_attempt_on=next_attempt_on,
        )
    )
    assert (fact.kind, fact.occurrence, fact.stage) == (Kind.DELIVERY_FAILED, 2, Stage.DELIVERY_FAILED)
    assert (fact.parameters["next_attempt"], fact.parameters["post_office"]) == (words, "100000")


def test_a_returned_result_names_the_agency_to_ask() -> None:
    fact = only_fact(
        ResultReturnedToAgency(
            result_item_id="RR123456785VN",
            agency_code=AGENCY,
            post_office_code="100000",
            return_record_id="BBTL-1",
            postal_worker_id="postal-1",
            agency_officer_id="officer-0003",
            attempts=2,
            reason=DeliveryFailureReason.NOT_AT_HOME,
        )
    )
    assert (fact.kind, fact.stage, fact.parameters["agency"]) == (
        Kind.RETURNED_TO_AGENCY,
        Stage.RETURNED_TO_AGENCY,
        AGENCY,
    )


def test_only_the_closure_for_a_missing_supplement_is_told_with_the_periods_last_day() -> None:
    automatic = DossierClosed(
        agency_code=AGENCY,
        officer_id="officer-0003",
        reason=ClosureReason.SUPPLEMENT_NOT_COMPLETED,
        automatic=True,
        period_days=15,
        period_unit="calendar",
        period_ended_on=date(2026, 3, 25),
    )
    declined = DossierClosed(
        agency_code=AGENCY,
        officer_id="officer-0003",
        reason=ClosureReason.SUPPLEMENT_DECLINED,
        automatic=False,
    )
    fact = only_fact(automatic)
    assert (fact.kind, fact.stage, fact.parameters["closed_on"]) == (
        Kind.CLOSED_NO_SUPPLEMENT,
        Stage.CLOSED,
        "25/03/2026",
    )
    assert learned_from(wrapped(declined)) == []


def test_the_desk_is_told_of_its_own_clock_once_per_due_date_and_not_of_the_posts() -> None:
    due_soon = only_fact(
        ClockDueSoon(leg=Leg.AGENCY_PROCESSING, due_date=date(2026, 3, 16), agency_code=AGENCY)
    )
    overdue = only_fact(
        ClockOverdue(leg=Leg.AGENCY_PROCESSING, due_date=date(2026, 3, 16), agency_code=AGENCY)
    )
    postal = ClockOverdue(leg=Leg.RETURN_POSTAL, due_date=date(2026, 3, 16), post_office_code="100000")

    assert (due_soon.kind, overdue.kind) == (Kind.CLOCK_DUE_SOON, Kind.CLOCK_OVERDUE)
    assert due_soon.occurrence == overdue.occurrence == date(2026, 3, 16).toordinal()
    assert learned_from(wrapped(postal)) == []


def test_an_erasure_of_the_applicants_contact_is_learned_and_one_of_a_note_is_not() -> None:
    def erased(kinds: list[str]) -> Event:
        return AgencyPersonalDataErased(
            agency_code=AGENCY,
            officer_id="officer-0003",
            reason=ErasureReason.RETENTION,
            erased_at=AT,
            kinds=kinds,
        )

    assert learned_from(wrapped(erased(["applicant", "delivery_address"]))) == [ContactErased(DOSSIER)]
    assert learned_from(wrapped(erased(["delivery_note:RR123456785VN:1"]))) == []
