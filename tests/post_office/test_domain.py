"""The post office's rules, without I/O: time limits, the return rule, delivery attempts, event ids."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from contracts.enums import DeliveryFailureReason, ItemKind, ServiceForm, Stage
from services.post_office import delivery, domain
from services.post_office.commands import AcceptDossier, ReportIncident, ReturnToAgency
from services.post_office.domain import (
    Attempt,
    AttemptOutcome,
    Item,
    Reason,
    Recorded,
    RefusedError,
    Replay,
    Verdict,
)
from services.post_office.scan_commands import (
    DeliveredScan,
    DeliveryFailedScan,
    OutForDeliveryScan,
    TransitScan,
)
from services.shared.calendar import load_calendar
from services.shared.catalog import load_catalog
from services.shared.personal_data.phone_check import PhoneDigest
from services.shared.postal_limits import load_route_limits
from tests.post_office.helpers import OFFICE, VIETNAM, acceptance

CALENDAR = load_calendar()
CATALOG = load_catalog()
LIMITS = load_route_limits()
PHONE_CHECK = PhoneDigest([b"post-office-domain-tests-lookup-key"])


def vn(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=VIETNAM)


def result_item(stage: Stage = Stage.RESULT_PICKED_UP, attempts: tuple[Attempt, ...] = ()) -> Item:
    return Item(
        item_id="RR473124829VN",
        kind=ItemKind.RESULT,
        dossier_id=str(uuid.uuid4()),
        agency_code="000.00.01.H22",
        post_office_code="100000",
        service_form=ServiceForm.RECEIVE_RESULT,
        stage=stage,
        recorded_at=vn(2025, 3, 24),
        due_date=date(2025, 3, 26),
        fingerprint="f",
        postage_vnd=36_000,
        attempts=attempts,
    )


def failed(number: int, when: datetime) -> Attempt:
    return Attempt(
        number=number,
        courier_id="c",
        started_at=when - timedelta(hours=2),
        outcome=AttemptOutcome.FAILED,
        ended_at=when,
        failure_reason=DeliveryFailureReason.NOT_AT_HOME,
    )


def scan_of(model: type[Any], **fields: Any) -> Any:
    base = {"scan_id": uuid.uuid4(), "item_id": "RR473124829VN", "scanned_at": vn(2025, 3, 25)}
    return model.model_validate(base | fields)


# --------------------------------------------------------------------------- postal time limits


@pytest.mark.parametrize(
    ("accepted_at", "route_class", "slip", "due"),
    [
        (vn(2025, 3, 14), "LOCAL", False, date(2025, 3, 17)),  # Friday → Monday
        (vn(2025, 3, 14), "INTRA_PROVINCIAL", False, date(2025, 3, 18)),
        (vn(2025, 3, 14), "BETWEEN_MAJOR_CITIES", False, date(2025, 3, 19)),
        (vn(2025, 3, 14), "INTER_PROVINCIAL", False, date(2025, 3, 20)),
        (vn(2025, 3, 14), "INTRA_PROVINCIAL", True, date(2025, 3, 20)),  # doubled for the appointment slip
        (vn(2025, 3, 15), "LOCAL", False, date(2025, 3, 17)),  # accepted on a Saturday: J itself stands
        (vn(2025, 1, 24), "LOCAL", False, date(2025, 2, 3)),  # across Tết 2025
        (vn(2025, 4, 29), "LOCAL", False, date(2025, 5, 5)),  # 30/4, 1/5 and the swapped 2/5 are off
        (datetime.fromisoformat("2025-03-13T20:30:00+00:00"), "LOCAL", False, date(2025, 3, 17)),
    ],
)
def test_the_inbound_postal_limit_counts_working_days_after_the_acceptance_day_in_vietnam(
    accepted_at: datetime, route_class: str, slip: bool, due: date
) -> None:
    # The last case is 03:30 on Friday 14 March in Vietnam, though still the 13th in UTC.
    cmd = AcceptDossier.model_validate(
        acceptance(
            "EB123456785VN",
            accepted_at=accepted_at.isoformat(),
            route_class=route_class,
            carries_appointment_slip_back=slip,
        )
    )

    outcome = domain.accept_dossier(
        cmd, existing=None, catalog=CATALOG, calendar=CALENDAR, limits=LIMITS, phone_check=PHONE_CHECK
    )

    assert isinstance(outcome, Recorded)
    assert outcome.item.due_date == due
    assert outcome.envelope.data.model_dump()["inbound_due_date"] == due


def test_accepting_the_same_item_twice_yields_the_same_event_id() -> None:
    cmd = AcceptDossier.model_validate(acceptance("EB123456785VN"))

    first = domain.accept_dossier(
        cmd, existing=None, catalog=CATALOG, calendar=CALENDAR, limits=LIMITS, phone_check=PHONE_CHECK
    )
    second = domain.accept_dossier(
        cmd, existing=None, catalog=CATALOG, calendar=CALENDAR, limits=LIMITS, phone_check=PHONE_CHECK
    )

    assert isinstance(first, Recorded) and isinstance(second, Recorded)
    assert first.envelope.id == second.envelope.id


def test_an_acceptance_matching_the_recorded_one_is_a_replay_and_a_different_one_a_conflict() -> None:
    cmd = AcceptDossier.model_validate(acceptance("EB123456785VN"))
    recorded = domain.accept_dossier(
        cmd, existing=None, catalog=CATALOG, calendar=CALENDAR, limits=LIMITS, phone_check=PHONE_CHECK
    )
    assert isinstance(recorded, Recorded)

    again = domain.accept_dossier(
        AcceptDossier.model_validate(acceptance("eb123456785vn")),
        existing=recorded.item,
        catalog=CATALOG,
        calendar=CALENDAR,
        limits=LIMITS,
        phone_check=PHONE_CHECK,
    )
    assert again == Replay(recorded.item)
    with pytest.raises(RefusedError) as refused:
        domain.accept_dossier(
            AcceptDossier.model_validate(acceptance("EB123456785VN", clerk_id="clerk-9")),
            existing=recorded.item,
            catalog=CATALOG,
            calendar=CALENDAR,
            limits=LIMITS,
            phone_check=PHONE_CHECK,
        )
    assert (refused.value.verdict, refused.value.reason) == (Verdict.CONFLICT, Reason.ITEM_ALREADY_USED)


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize(("ahead", "refused"), [(timedelta(minutes=4), False), (timedelta(minutes=6), True)])
def test_a_time_ahead_of_the_clock_is_refused_beyond_the_allowed_skew(
    ahead: timedelta, refused: bool
) -> None:
    now = vn(2025, 3, 14)

    if refused:
        with pytest.raises(RefusedError, match="time_in_future"):
            domain.check_act_time(now + ahead, now, timedelta(minutes=5), "scanned_at")
    else:
        domain.check_act_time(now + ahead, now, timedelta(minutes=5), "scanned_at")


def test_an_act_before_public_post_carried_dossiers_is_refused() -> None:
    with pytest.raises(RefusedError, match="time_out_of_range"):
        domain.check_act_time(vn(2015, 12, 31), vn(2025, 3, 14), timedelta(minutes=5), "accepted_at")


# --------------------------------------------------------------------------- the return rule


@pytest.mark.parametrize(
    ("days", "reason"),
    [
        ([], Reason.TOO_FEW_FAILED_ATTEMPTS),
        ([date(2025, 3, 24)], Reason.TOO_FEW_FAILED_ATTEMPTS),
        ([date(2025, 3, 24), date(2025, 3, 26)], None),  # Monday, Wednesday: two working days apart
        ([date(2025, 3, 24), date(2025, 3, 25)], Reason.FAILED_ATTEMPTS_TOO_CLOSE),
        ([date(2025, 3, 24), date(2025, 3, 24)], Reason.FAILED_ATTEMPTS_TOO_CLOSE),  # same day, twice
        ([date(2025, 3, 28), date(2025, 3, 31)], Reason.FAILED_ATTEMPTS_TOO_CLOSE),  # Friday, Monday
        ([date(2025, 3, 28), date(2025, 4, 1)], None),  # Friday, Tuesday
        ([date(2025, 4, 29), date(2025, 5, 5)], Reason.FAILED_ATTEMPTS_TOO_CLOSE),  # the May holidays
        ([date(2025, 4, 29), date(2025, 5, 6)], None),
        ([date(2025, 4, 25), date(2025, 4, 28)], None),  # Saturday 26 April 2025 was a make-up working day
        ([date(2025, 3, 31), date(2025, 3, 24), date(2025, 3, 25)], None),  # any order; first and last
    ],
)
def test_a_result_goes_back_only_after_two_failed_attempts_two_working_days_apart(
    days: list[date], reason: Reason | None
) -> None:
    refusal = delivery.return_refusal([vn(d.year, d.month, d.day) for d in days], CALENDAR)

    assert (refusal.reason if refusal else None) == reason
    if refusal is not None:
        assert refusal.verdict is Verdict.CONFLICT


def test_the_return_rule_reads_attempt_days_in_vietnam_time() -> None:
    # 23:30 UTC on Tuesday 25 March is Wednesday 26 March in Vietnam: two working days after Monday.
    late = datetime.fromisoformat("2025-03-25T23:30:00+00:00")

    assert delivery.return_refusal([vn(2025, 3, 24), late], CALENDAR) is None


# --------------------------------------------------------------------------- delivery attempts


def test_attempts_are_numbered_from_one_and_a_failure_closes_the_attempt_under_way() -> None:
    out = delivery.apply_scan(
        result_item(), scan_of(OutForDeliveryScan, kind="OUT_FOR_DELIVERY", courier_id="c"), OFFICE
    )
    fail = delivery.apply_scan(
        out.item,
        scan_of(
            DeliveryFailedScan,
            kind="DELIVERY_FAILED",
            courier_id="c",
            reason="REFUSED",
            invitation_left=True,
            scanned_at=vn(2025, 3, 25, 11),
        ),
        "100000",
    )
    out_again = delivery.apply_scan(
        fail.item, scan_of(OutForDeliveryScan, kind="OUT_FOR_DELIVERY", courier_id="c"), OFFICE
    )

    assert out.envelope.data.model_dump()["attempt"] == 1
    assert fail.item.stage is Stage.DELIVERY_FAILED
    assert fail.item.attempts[0].outcome is AttemptOutcome.FAILED
    assert fail.item.attempts[0].failure_reason is DeliveryFailureReason.REFUSED
    assert out_again.envelope.data.model_dump()["attempt"] == 2


def test_a_result_already_out_for_delivery_cannot_go_out_again() -> None:
    out = delivery.apply_scan(
        result_item(), scan_of(OutForDeliveryScan, kind="OUT_FOR_DELIVERY", courier_id="c"), OFFICE
    )

    with pytest.raises(RefusedError) as refused:
        delivery.apply_scan(
            out.item, scan_of(OutForDeliveryScan, kind="OUT_FOR_DELIVERY", courier_id="c"), "100000"
        )

    assert refused.value.reason is Reason.ALREADY_OUT_FOR_DELIVERY


def test_a_proxy_without_a_checked_authorisation_does_not_receive_the_result() -> None:
    out = delivery.apply_scan(
        result_item(), scan_of(OutForDeliveryScan, kind="OUT_FOR_DELIVERY", courier_id="c"), OFFICE
    )
    delivered = scan_of(
        DeliveredScan,
        kind="DELIVERED",
        courier_id="c",
        recipient_kind="AUTHORISED_PROXY",
        id_document_type="CCCD",
        identity_verified=True,
    )

    with pytest.raises(RefusedError) as refused:
        delivery.apply_scan(out.item, delivered, "100000")

    assert (refused.value.verdict, refused.value.reason) == (
        Verdict.INVALID,
        Reason.AUTHORISATION_NOT_CHECKED,
    )


def test_a_delivered_result_is_no_longer_scanned_in_transit() -> None:
    delivered = result_item(stage=Stage.DELIVERED)

    with pytest.raises(RefusedError) as refused:
        delivery.apply_scan(delivered, scan_of(TransitScan, kind="IN_TRANSIT", direction="ARRIVED"), "100000")

    assert refused.value.reason is Reason.NOT_IN_POSTAL_CUSTODY


def test_one_scan_id_always_yields_one_event_id() -> None:
    scan = scan_of(OutForDeliveryScan, kind="OUT_FOR_DELIVERY", courier_id="c")

    first = delivery.apply_scan(result_item(), scan, "100000")
    second = delivery.apply_scan(result_item(), scan, "100000")

    assert first.envelope.id == second.envelope.id == domain.event_id_for_scan(scan.scan_id)


def test_the_return_names_the_last_failure_reason_and_counts_every_attempt() -> None:
    attempts = (
        failed(1, vn(2025, 3, 24)),
        replace(failed(2, vn(2025, 3, 26)), failure_reason=DeliveryFailureReason.REFUSED),
    )
    cmd = ReturnToAgency.model_validate(
        {
            "result_item_id": "RR473124829VN",
            "agency_code": "000.00.01.H22",
            "post_office_code": "100000",
            "return_record_id": "BBTL-1",
            "postal_worker_id": "p",
            "agency_officer_id": "o",
            "returned_at": vn(2025, 3, 28).isoformat(),
        }
    )

    returned = delivery.return_to_agency(result_item(Stage.DELIVERY_FAILED, attempts), cmd, CALENDAR)

    data = returned.envelope.data.model_dump()
    assert (data["attempts"], data["reason"]) == (2, DeliveryFailureReason.REFUSED)
    assert returned.item.stage is Stage.RETURNED_TO_AGENCY


# --------------------------------------------------------------------------- incidents


@pytest.mark.parametrize(("compensation", "refused"), [(143_999, True), (144_000, False), (None, False)])
def test_compensation_at_fault_is_at_least_four_times_the_postage(
    compensation: int | None, refused: bool
) -> None:
    cmd = ReportIncident.model_validate(
        {
            "item_id": "RR473124829VN",
            "post_office_code": "100000",
            "reported_by": "s",
            "at_fault": True,
            "compensation_vnd": compensation,
            "reported_at": vn(2025, 3, 25).isoformat(),
        }
    )

    if refused:
        with pytest.raises(RefusedError, match="compensation_below_minimum"):
            domain.declare_lost(result_item(), cmd)
    else:
        assert domain.declare_lost(result_item(), cmd).item.stage is Stage.LOST
