"""The agency's rules, pure: due dates on real dates, the state machine, supplements and apology slips.

Calendar facts (holidays 0.109 and the repository's override file): Tết 2026 is off from Saturday 14 to
Sunday 22 February; 30 April and 1 May are holidays; in 2025 Friday 2 May was swapped for Saturday
26 April; in 2026 Monday 31 August was swapped for Saturday 22 August; Hùng Kings 2026 is observed on
Monday 27 April.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from contracts.enums import FilingChannel, ItemKind, Outcome, SupplementBreach
from contracts.events import (
    DelayNotified,
    DossierAccepted,
    DossierHandedToAgency,
    DossierReceived,
    Event,
    SupplementRequested,
)
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_APPLICANT, sample_event
from contracts.sources import agency_source
from contracts.values import dossier_id_for_agency_code, dossier_id_for_item, make_s10
from services.agency import commands as cmd
from services.agency.app import rules_of
from services.agency.domain import (
    Actor,
    Dossier,
    Status,
    accept,
    compose,
    compose_registration,
    learn,
    next_event_id,
    occurrence_time,
    parse_reference,
    with_judgement,
)
from services.agency.policy import Policy, Rules
from services.agency.rejections import Reason, ReportRejectedError, Verdict
from services.agency.settings import AgencySettings
from services.shared.calendar import VN_TZ, load_calendar
from services.shared.catalog import load_catalog
from services.shared.personal_data.phone_check import PhoneDigest
from tests.fixtures.legal_rules import rules_with

AGENCY = "000.00.01.H22"
OTHER_AGENCY = "000.00.02.H22"
ITEM = make_s10("EB", 10000001)
DOSSIER_ID = dossier_id_for_item(ITEM)
CODE = "000.00.01.H22-260302-0001"
OFFICER = Actor(agency_code=AGENCY, officer_id="officer-0003")
THREE_DAYS = "1.004873"  # Cấp Giấy xác nhận tình trạng hôn nhân: 3 working days
PASSPORT = "1.001456"  # Cấp hộ chiếu phổ thông: 8 working days
ONE_DAY_LATER = datetime(2026, 3, 20, 9, 0, tzinfo=VN_TZ)

CALENDAR = load_calendar()
CATALOG = load_catalog()
POLICY = Policy(calendar=CALENDAR, catalog=CATALOG, rules=Rules())


def vn(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


def accepted(procedure: str = PASSPORT, agency: str = AGENCY) -> Event:
    return sample_event(DossierAccepted, item_id=ITEM, procedure_code=procedure, agency_code=agency)


def handed_over(signed_at: datetime, agency: str = AGENCY, **changes: object) -> Event:
    fields: dict[str, object] = {"item_id": ITEM, "agency_code": agency, "signed_at": signed_at, **changes}
    return sample_event(DossierHandedToAgency, **fields)


def filed(filed_at: datetime, procedure: str = PASSPORT, policy: Policy = POLICY) -> Dossier:
    """A dossier the post office accepted and handed over to the agency at `filed_at`."""
    dossier = learn(None, DOSSIER_ID, accepted(procedure), policy)
    dossier = learn(dossier, DOSSIER_ID, handed_over(filed_at), policy)
    assert dossier is not None
    return dossier


def reported(
    dossier: Dossier, report: cmd.Report, now: datetime, policy: Policy = POLICY, actor: Actor = OFFICER
) -> Dossier:
    """The record after an officer's report recorded at `now`, composed and accepted as the HTTP path does."""
    event = compose(dossier, report, actor, now, policy)
    return accept(
        dossier,
        event,
        subject=dossier.dossier_id,
        source=agency_source(actor.agency_code),
        occurred_at=occurrence_time(report, event, now),
        now=now,
        policy=policy,
    )


def received(filed_at: datetime, procedure: str = PASSPORT, policy: Policy = POLICY) -> Dossier:
    dossier = filed(filed_at, procedure, policy)
    appointment = policy.legal_due_date(filed_at, procedure)
    return reported(
        dossier, cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=appointment), filed_at, policy
    )


def rejection(dossier: Dossier, report: cmd.Report, now: datetime = ONE_DAY_LATER, **kw: object) -> Reason:
    with pytest.raises(ReportRejectedError) as caught:
        reported(dossier, report, now, **kw)  # type: ignore[arg-type]
    return caught.value.reason


# --------------------------------------------------------------------------- the legal due date


@pytest.mark.parametrize(
    ("filed_at", "procedure", "due", "why"),
    [
        (vn(2026, 3, 4), THREE_DAYS, date(2026, 3, 9), "Wednesday + 3 working days crosses a weekend"),
        (vn(2026, 3, 6), THREE_DAYS, date(2026, 3, 11), "Friday + 3 working days: Mon, Tue, Wed"),
        (vn(2026, 3, 7), THREE_DAYS, date(2026, 3, 12), "filed on a Saturday: counts from Monday"),
        (vn(2026, 3, 6, 14, 59), THREE_DAYS, date(2026, 3, 11), "14:59 is before the cut-off"),
        (vn(2026, 3, 6, 15, 0), THREE_DAYS, date(2026, 3, 12), "15:00 is the cut-off: filed Monday"),
        (
            datetime(2026, 3, 6, 8, 0, tzinfo=UTC),
            THREE_DAYS,
            date(2026, 3, 12),
            "08:00 UTC is 15:00 in Hà Nội",
        ),
        (vn(2026, 4, 29), THREE_DAYS, date(2026, 5, 6), "30 April and 1 May are public holidays"),
        (vn(2026, 4, 24), THREE_DAYS, date(2026, 5, 4), "Hùng Kings observed on 27 April, then 30/4 and 1/5"),
        (vn(2026, 2, 13), THREE_DAYS, date(2026, 2, 25), "Tết 2026: 14–22 February are not worked"),
        (vn(2026, 2, 13, 15, 30), THREE_DAYS, date(2026, 2, 26), "after the cut-off on the eve of Tết"),
        (vn(2026, 2, 18), THREE_DAYS, date(2026, 2, 26), "filed during Tết: counts from Monday 23"),
        (vn(2025, 4, 25), THREE_DAYS, date(2025, 4, 29), "make-up Saturday 26 April 2025 is a working day"),
        (vn(2025, 4, 26), THREE_DAYS, date(2025, 5, 5), "filed on the make-up Saturday, then 30/4–4/5 off"),
        (vn(2026, 8, 21), PASSPORT, date(2026, 9, 4), "make-up Saturday 22 Aug 2026; 29 Aug–2 Sep off"),
        (vn(2026, 3, 6), "1.001193", date(2026, 3, 6), "a same-day procedure is due on the filing day"),
        (vn(2026, 3, 6, 16, 0), "1.001193", date(2026, 3, 9), "a same-day procedure filed late: Monday"),
    ],
)
def test_legal_due_date_counts_working_days_from_the_filing_day(
    filed_at: datetime, procedure: str, due: date, why: str
) -> None:
    assert POLICY.legal_due_date(filed_at, procedure) == due, why


def test_cut_off_hour_is_configurable_and_can_be_switched_off() -> None:
    no_cutoff = replace(POLICY, legal=POLICY.legal.with_cutoff(None))
    later_cutoff = replace(POLICY, legal=POLICY.legal.with_cutoff(time(16, 30)))

    assert no_cutoff.legal_due_date(vn(2026, 3, 6, 16, 0), THREE_DAYS) == date(2026, 3, 11)
    assert later_cutoff.legal_due_date(vn(2026, 3, 6, 16, 0), THREE_DAYS) == date(2026, 3, 11)
    assert later_cutoff.legal_due_date(vn(2026, 3, 6, 16, 30), THREE_DAYS) == date(2026, 3, 12)


def test_receipt_carries_the_legal_due_date_from_the_handover_signing_time() -> None:
    dossier = filed(vn(2026, 2, 13, 15, 5))  # after the cut-off, on the eve of Tết

    event = compose(
        dossier,
        cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=date(2026, 3, 6)),
        OFFICER,
        vn(2026, 2, 23, 8, 30),
        POLICY,
    )

    assert isinstance(event, DossierReceived)
    assert event.filed_at == vn(2026, 2, 13, 15, 5)
    assert event.legal_due_date == date(2026, 3, 5)  # 8 working days from Monday 23 February
    assert event.appointment_later_than_legal is True
    assert event.item_id == ITEM


def test_appointment_date_later_than_the_legal_one_is_recorded_and_flagged_not_refused() -> None:
    dossier = reported(
        filed(vn(2026, 3, 6)),
        cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=date(2026, 3, 30)),
        vn(2026, 3, 6, 11),
    )

    assert dossier.status is Status.RECEIVED
    assert dossier.legal_due_date == date(2026, 3, 18)
    assert dossier.due_date == date(2026, 3, 18), "the clock runs to the legal due date"
    assert dossier.appointment_date == date(2026, 3, 30)


def test_agency_may_classify_the_dossier_under_another_procedure() -> None:
    dossier = reported(
        filed(vn(2026, 3, 6)),
        cmd.ReceiveDossier(
            agency_dossier_code=CODE, appointment_date=date(2026, 3, 11), procedure_code=THREE_DAYS
        ),
        vn(2026, 3, 6, 11),
    )

    assert dossier.procedure_code == THREE_DAYS
    assert dossier.legal_due_date == date(2026, 3, 11)


def test_procedure_missing_from_the_catalog_is_invalid() -> None:
    reason = rejection(
        filed(vn(2026, 3, 6)),
        cmd.ReceiveDossier(
            agency_dossier_code=CODE, appointment_date=date(2026, 3, 11), procedure_code="9.999999"
        ),
    )

    assert reason is Reason.UNKNOWN_PROCEDURE
    assert reason.verdict is Verdict.INVALID


# --------------------------------------------------------------------------- supplements


def test_supplement_request_stops_the_clock_and_its_arrival_restarts_it_from_zero() -> None:
    dossier = received(vn(2026, 3, 2))  # passport, due Thursday 12 March
    assert dossier.due_date == date(2026, 3, 12)

    waiting = reported(
        dossier,
        cmd.RequestSupplement(missing_documents=("Ảnh chân dung 4x6",), reason="Ảnh không đúng quy cách"),
        vn(2026, 3, 4),
    )
    assert waiting.status is Status.AWAITING_SUPPLEMENT
    assert waiting.due_date is None, "the clock is stopped"

    restarted = reported(
        waiting, cmd.ReceiveSupplement(received_at=vn(2026, 3, 10, 16, 0)), vn(2026, 3, 10, 16, 5)
    )

    # Filed after the cut-off on Tuesday 10 March: counts from Wednesday 11, 8 working days from zero.
    assert restarted.status is Status.RECEIVED
    assert restarted.filed_at == vn(2026, 3, 10, 16, 0)
    assert restarted.filing_day == date(2026, 3, 11)
    assert restarted.legal_due_date == date(2026, 3, 23)
    assert restarted.due_date == date(2026, 3, 23)


def test_supplement_requested_before_reception_restarts_from_the_new_filing_time() -> None:
    waiting = reported(
        filed(vn(2026, 3, 2)),
        cmd.RequestSupplement(missing_documents=("Tờ khai",), reason="Thiếu tờ khai"),
        vn(2026, 3, 2, 11),
    )
    again = reported(waiting, cmd.ReceiveSupplement(received_at=vn(2026, 3, 9, 9)), vn(2026, 3, 9, 9, 30))

    assert again.status is Status.FILED
    receipt = compose(
        again,
        cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=date(2026, 3, 19)),
        OFFICER,
        vn(2026, 3, 9, 10),
        POLICY,
    )
    assert isinstance(receipt, DossierReceived)
    assert receipt.filed_at == vn(2026, 3, 9, 9)
    assert receipt.legal_due_date == date(2026, 3, 19)


def test_supplement_by_post_is_filed_when_its_handover_record_was_signed() -> None:
    waiting = reported(
        received(vn(2026, 3, 2)),
        cmd.RequestSupplement(missing_documents=("Ảnh",), reason="Thiếu ảnh"),
        vn(2026, 3, 3),
    )
    supplement = make_s10("EB", 10000002)
    handed = learn(
        waiting,
        DOSSIER_ID,
        handed_over(vn(2026, 3, 5, 14, 0), item_id=supplement, item_kind=ItemKind.SUPPLEMENT),
        POLICY,
    )
    assert handed is not None

    event = compose(handed, cmd.ReceiveSupplement(), OFFICER, vn(2026, 3, 5, 15), POLICY)
    after = accept(
        handed,
        event,
        subject=DOSSIER_ID,
        source=agency_source(AGENCY),
        occurred_at=vn(2026, 3, 5, 14, 0),
        now=vn(2026, 3, 5, 15),
        policy=POLICY,
    )

    assert after.filed_at == vn(2026, 3, 5, 14, 0)
    assert after.supplement_item_id == supplement
    assert after.due_date == date(2026, 3, 17)


def test_supplement_received_needs_its_time_when_none_came_by_post() -> None:
    waiting = reported(
        received(vn(2026, 3, 2)),
        cmd.RequestSupplement(missing_documents=("Ảnh",), reason="x"),
        vn(2026, 3, 3),
    )

    assert rejection(waiting, cmd.ReceiveSupplement()) is Reason.MISSING_RECEIVED_AT


def test_supplement_received_before_it_was_requested_is_a_conflict() -> None:
    waiting = reported(
        received(vn(2026, 3, 2)),
        cmd.RequestSupplement(missing_documents=("Ảnh",), reason="x"),
        vn(2026, 3, 4),
    )

    assert (
        rejection(waiting, cmd.ReceiveSupplement(received_at=vn(2026, 3, 3))) is Reason.BEFORE_PREVIOUS_FACT
    )


def test_supplement_received_in_the_future_is_invalid() -> None:
    waiting = reported(
        received(vn(2026, 3, 2)),
        cmd.RequestSupplement(missing_documents=("Ảnh",), reason="x"),
        vn(2026, 3, 4),
    )

    reason = rejection(waiting, cmd.ReceiveSupplement(received_at=vn(2026, 3, 25)), now=vn(2026, 3, 5))

    assert reason is Reason.TIME_IN_FUTURE


# --------------------------------------------------------------------------- apology slips


def _delay(new: date, issued_on: date) -> cmd.NotifyDelay:
    return cmd.NotifyDelay(new_due_date=new, reason="Cần xác minh thêm", issued_on=issued_on)


@pytest.mark.parametrize(
    ("issued_on", "breach", "why"),
    [
        (date(2026, 3, 9), False, "three working days before"),
        (date(2026, 3, 11), False, "the working day before the due date"),
        (date(2026, 3, 12), True, "on the due date"),
        (date(2026, 3, 13), True, "after the due date"),
    ],
)
def test_apology_slip_is_a_breach_when_issued_later_than_one_working_day_before_the_due_date(
    issued_on: date, breach: bool, why: str
) -> None:
    dossier = received(vn(2026, 3, 2))  # due Thursday 12 March

    after = reported(dossier, _delay(date(2026, 3, 19), issued_on), vn(2026, 3, 13, 17))

    assert after.delay_breach is breach, why
    assert after.due_date == date(2026, 3, 19), "recorded either way: the due date moves"
    assert after.delay_notices == 1


def test_apology_slip_on_a_weekend_before_a_monday_due_date_is_a_breach() -> None:
    dossier = received(vn(2026, 3, 4))  # passport: due Monday 16 March

    assert dossier.due_date == date(2026, 3, 16)
    assert (
        reported(dossier, _delay(date(2026, 3, 20), date(2026, 3, 13)), vn(2026, 3, 14)).delay_breach is False
    )
    assert (
        reported(dossier, _delay(date(2026, 3, 20), date(2026, 3, 14)), vn(2026, 3, 14)).delay_breach is True
    )


def test_second_apology_slip_is_refused() -> None:
    once = reported(received(vn(2026, 3, 2)), _delay(date(2026, 3, 19), date(2026, 3, 10)), vn(2026, 3, 10))

    reason = rejection(once, _delay(date(2026, 3, 26), date(2026, 3, 17)))

    assert reason is Reason.DELAY_ALREADY_NOTIFIED
    assert reason.verdict is Verdict.CONFLICT


def test_apology_slip_rules_are_configurable() -> None:
    stricter = replace(
        POLICY,
        legal=rules_with(apology_lead={"days": 2, "unit": "working"}, apology_slips_allowed={"count": 2}),
    )
    dossier = received(vn(2026, 3, 2), policy=stricter)

    once = reported(dossier, _delay(date(2026, 3, 19), date(2026, 3, 11)), vn(2026, 3, 11), stricter)
    twice = reported(once, _delay(date(2026, 3, 26), date(2026, 3, 16)), vn(2026, 3, 16), stricter)

    assert once.delay_breach is True, "one working day is not enough when two are required"
    assert twice.due_date == date(2026, 3, 26)
    assert twice.delay_breach is False


def test_apology_slip_must_move_the_due_date_later() -> None:
    dossier = received(vn(2026, 3, 2))

    assert rejection(dossier, _delay(date(2026, 3, 12), date(2026, 3, 10))) is Reason.NEW_DATE_NOT_LATER


def test_apology_slip_issued_in_the_future_or_before_the_filing_is_refused() -> None:
    dossier = received(vn(2026, 3, 2))

    assert (
        rejection(dossier, _delay(date(2026, 3, 19), date(2026, 3, 11)), now=vn(2026, 3, 10))
        is Reason.TIME_IN_FUTURE
    )
    assert rejection(dossier, _delay(date(2026, 3, 19), date(2026, 2, 27))) is Reason.ISSUED_BEFORE_FILING


def test_apology_slip_defaults_to_the_day_it_is_recorded_in_vietnam() -> None:
    dossier = received(vn(2026, 3, 2))
    late_evening_utc = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)  # already Wednesday 11 in Hà Nội

    event = compose(
        dossier,
        cmd.NotifyDelay(new_due_date=date(2026, 3, 19), reason="x"),
        OFFICER,
        late_evening_utc,
        POLICY,
    )

    assert isinstance(event, DelayNotified)
    assert event.issued_on == date(2026, 3, 11)
    assert event.previous_due_date == date(2026, 3, 12)
    assert event.breach is False


# --------------------------------------------------------------------------- what each state allows

WITHDRAW = cmd.WithdrawDossier()
PROCESS = cmd.StartProcessing(department="Phòng Quản lý xuất nhập cảnh")
RESULT = cmd.ReadyResult(outcome=Outcome.APPROVED, result_reference="HC-2026-0001")
REFUSE = cmd.RefuseDossier(reason="Không thuộc thẩm quyền")
RECEIVE = cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=date(2026, 3, 20))
REQUEST = cmd.RequestSupplement(missing_documents=("Ảnh",), reason="Thiếu ảnh")
SUPPLEMENT = cmd.ReceiveSupplement(received_at=vn(2026, 3, 12))
DELAY = _delay(date(2026, 3, 26), date(2026, 3, 10))
EVERY_REPORT: list[cmd.Report] = [RECEIVE, REFUSE, REQUEST, SUPPLEMENT, PROCESS, DELAY, WITHDRAW, RESULT]


def test_each_status_follows_its_report() -> None:
    dossier = received(vn(2026, 3, 2))
    assert dossier.status is Status.RECEIVED
    processing = reported(dossier, PROCESS, vn(2026, 3, 3))
    assert processing.status is Status.PROCESSING
    delayed = reported(processing, DELAY, vn(2026, 3, 10))
    assert delayed.status is Status.PROCESSING and delayed.due_date == date(2026, 3, 26)
    ready = reported(delayed, RESULT, vn(2026, 3, 20))
    assert (
        ready.status is Status.RESULT_READY and ready.outcome is Outcome.APPROVED and ready.due_date is None
    )
    assert ready.sequence == 4, "four agency events recorded"

    assert reported(filed(vn(2026, 3, 2)), REFUSE, vn(2026, 3, 2, 11)).status is Status.REFUSED
    assert reported(dossier, WITHDRAW, vn(2026, 3, 3)).status is Status.WITHDRAWN


@pytest.mark.parametrize("report", EVERY_REPORT, ids=lambda r: type(r).__name__)
def test_nothing_can_be_reported_after_withdrawal(report: cmd.Report) -> None:
    withdrawn = reported(received(vn(2026, 3, 2)), WITHDRAW, vn(2026, 3, 3))

    assert rejection(withdrawn, report) is Reason.DOSSIER_WITHDRAWN


@pytest.mark.parametrize("report", EVERY_REPORT, ids=lambda r: type(r).__name__)
def test_nothing_can_be_reported_before_the_post_hands_the_dossier_over(report: cmd.Report) -> None:
    announced = learn(None, DOSSIER_ID, accepted(), POLICY)
    assert announced is not None and announced.status is Status.ANNOUNCED

    assert rejection(announced, report) is Reason.NOT_HANDED_OVER


@pytest.mark.parametrize(
    ("state", "report", "reason"),
    [
        ("filed", RESULT, Reason.NOT_RECEIVED),
        ("filed", PROCESS, Reason.NOT_RECEIVED),
        ("filed", DELAY, Reason.NOT_RECEIVED),
        ("filed", SUPPLEMENT, Reason.NO_SUPPLEMENT_REQUESTED),
        ("received", RECEIVE, Reason.ALREADY_RECEIVED),
        ("received", REFUSE, Reason.ALREADY_RECEIVED),
        ("received", SUPPLEMENT, Reason.NO_SUPPLEMENT_REQUESTED),
        ("awaiting", RESULT, Reason.AWAITING_SUPPLEMENT),
        ("awaiting", PROCESS, Reason.AWAITING_SUPPLEMENT),
        ("awaiting", DELAY, Reason.AWAITING_SUPPLEMENT),
        ("awaiting", REQUEST, Reason.AWAITING_SUPPLEMENT),
        ("refused", WITHDRAW, Reason.DOSSIER_REFUSED),
        ("ready", DELAY, Reason.RESULT_ALREADY_READY),
        ("ready", WITHDRAW, Reason.RESULT_ALREADY_READY),
    ],
)
def test_report_that_makes_no_sense_in_the_current_state_is_a_conflict(
    state: str, report: cmd.Report, reason: Reason
) -> None:
    dossier = {
        "filed": lambda: filed(vn(2026, 3, 2)),
        "received": lambda: received(vn(2026, 3, 2)),
        "awaiting": lambda: reported(received(vn(2026, 3, 2)), REQUEST, vn(2026, 3, 3)),
        "refused": lambda: reported(filed(vn(2026, 3, 2)), REFUSE, vn(2026, 3, 3)),
        "ready": lambda: reported(received(vn(2026, 3, 2)), RESULT, vn(2026, 3, 3)),
    }[state]()

    assert rejection(dossier, report) is reason
    assert reason.verdict is Verdict.CONFLICT


def test_refusal_of_a_dossier_awaiting_a_supplement_that_never_came() -> None:
    waiting = reported(filed(vn(2026, 3, 2)), REQUEST, vn(2026, 3, 2, 11))

    assert reported(waiting, REFUSE, vn(2026, 3, 20)).status is Status.REFUSED


def test_report_on_another_agencys_dossier_is_forbidden() -> None:
    other = Actor(agency_code=OTHER_AGENCY, officer_id="officer-9")

    reason = rejection(filed(vn(2026, 3, 2)), RECEIVE, actor=other)

    assert reason is Reason.ANOTHER_AGENCY
    assert reason.verdict is Verdict.FORBIDDEN


def test_agency_dossier_code_of_another_agency_is_invalid() -> None:
    report = cmd.ReceiveDossier(
        agency_dossier_code="000.00.02.H22-260302-0001", appointment_date=date(2026, 3, 12)
    )

    assert rejection(filed(vn(2026, 3, 2)), report) is Reason.CODE_OF_ANOTHER_AGENCY


def test_agency_dossier_code_held_by_another_dossier_is_a_conflict() -> None:
    dossier = filed(vn(2026, 3, 2))
    event = compose(dossier, RECEIVE, OFFICER, vn(2026, 3, 2, 11), POLICY)

    with pytest.raises(ReportRejectedError) as caught:
        accept(
            dossier,
            event,
            subject=DOSSIER_ID,
            source=agency_source(AGENCY),
            occurred_at=vn(2026, 3, 2, 11),
            now=vn(2026, 3, 2, 11),
            policy=POLICY,
            code_holder=dossier_id_for_item(make_s10("EB", 10000099)),
        )
    assert caught.value.reason is Reason.CODE_IN_USE


# --------------------------------------------------------------------------- learning from the post


def test_acceptance_announces_the_dossier_and_the_handover_files_it() -> None:
    announced = learn(None, DOSSIER_ID, accepted(), POLICY)
    assert announced is not None
    assert (announced.status, announced.agency_code, announced.procedure_code) == (
        Status.ANNOUNCED,
        AGENCY,
        PASSPORT,
    )

    filed_ = learn(announced, DOSSIER_ID, handed_over(vn(2026, 3, 6, 15, 30)), POLICY)

    assert filed_ is not None
    assert filed_.status is Status.FILED
    assert filed_.filed_at == vn(2026, 3, 6, 15, 30)
    assert filed_.filing_day == date(2026, 3, 9)


def test_the_agency_that_signed_the_handover_record_is_the_one_that_reports() -> None:
    announced = learn(None, DOSSIER_ID, accepted(agency=OTHER_AGENCY), POLICY)

    filed_ = learn(announced, DOSSIER_ID, handed_over(vn(2026, 3, 6), agency=AGENCY), POLICY)

    assert filed_ is not None and filed_.agency_code == AGENCY


def test_a_repeated_handover_does_not_move_the_filing_time() -> None:
    dossier = received(vn(2026, 3, 2))

    assert learn(dossier, DOSSIER_ID, handed_over(vn(2026, 3, 5)), POLICY) == dossier


def test_other_postal_events_teach_the_agency_nothing() -> None:
    dossier = filed(vn(2026, 3, 2))

    assert learn(dossier, DOSSIER_ID, sample_event("postal.dossier_in_transit"), POLICY) == dossier
    assert learn(None, DOSSIER_ID, sample_event("postal.dossier_in_transit"), POLICY) is None


# --------------------------------------------------------------------------- registration for return


def _registration(code: str = CODE, procedure: str = THREE_DAYS) -> cmd.RegisterForReturn:
    return cmd.RegisterForReturn(
        agency_dossier_code=code,
        procedure_code=procedure,
        filing_channel=FilingChannel.IN_PERSON,
        filed_at=vn(2026, 3, 2, 9),
        applicant=SAMPLE_APPLICANT,
        delivery_address=SAMPLE_ADDRESS,
    )


def _register(
    registration: cmd.RegisterForReturn, existing: Dossier | None = None, subject: str | None = None
) -> Dossier:
    return accept(
        existing,
        compose_registration(registration, OFFICER, PhoneDigest([b"agency-domain-tests-lookup-key"])),
        subject=subject or dossier_id_for_agency_code(registration.agency_dossier_code),
        source=agency_source(AGENCY),
        occurred_at=vn(2026, 3, 2, 10),
        now=vn(2026, 3, 2, 10),
        policy=POLICY,
    )


def test_registered_dossier_is_filed_in_person_and_received_from_its_filing_time() -> None:
    dossier = _register(_registration())

    assert dossier.status is Status.FILED
    assert dossier.dossier_id == dossier_id_for_agency_code(CODE)
    receipt = reported(
        dossier,
        cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=date(2026, 3, 5)),
        vn(2026, 3, 2, 10),
    )
    assert receipt.legal_due_date == date(2026, 3, 5)


@pytest.mark.parametrize(
    ("registration", "subject", "reason"),
    [
        (_registration(code="000.00.02.H22-260302-0001"), None, Reason.CODE_OF_ANOTHER_AGENCY),
        (_registration(procedure="9.999999"), None, Reason.UNKNOWN_PROCEDURE),
        (_registration(procedure="1.000894"), None, Reason.PROCEDURE_NOT_BY_POST),  # marriage: both present
        (_registration(), DOSSIER_ID, Reason.WRONG_SUBJECT),
    ],
)
def test_registration_that_the_rules_find_invalid_is_refused(
    registration: cmd.RegisterForReturn, subject: str | None, reason: Reason
) -> None:
    with pytest.raises(ReportRejectedError) as caught:
        _register(registration, subject=subject)
    assert caught.value.reason is reason


def test_second_registration_of_a_dossier_is_a_conflict() -> None:
    with pytest.raises(ReportRejectedError) as caught:
        _register(_registration(), existing=_register(_registration()))
    assert caught.value.reason is Reason.ALREADY_REGISTERED


# --------------------------------------------------------------------------- agency systems' own messages


MARCH_3 = vn(2026, 3, 3)
OUR_SOURCE = agency_source(AGENCY)


def _accept_raw(dossier: Dossier, event: Event, source: str = OUR_SOURCE, at: datetime = MARCH_3) -> Dossier:
    return accept(
        dossier, event, subject=dossier.dossier_id, source=source, occurred_at=at, now=at, policy=POLICY
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"legal_due_date": date(2026, 3, 13), "appointment_date": date(2026, 3, 13)}, Reason.INCONSISTENT),
        ({"filed_at": vn(2026, 3, 2, 11)}, Reason.INCONSISTENT),
        ({"item_id": make_s10("EB", 10000098)}, Reason.INCONSISTENT),
        (
            {"agency_code": OTHER_AGENCY, "agency_dossier_code": "000.00.02.H22-260302-0001"},
            Reason.SOURCE_MISMATCH,
        ),
    ],
)
def test_agency_systems_receipt_must_agree_with_the_record(
    changes: dict[str, object], reason: Reason
) -> None:
    dossier = filed(vn(2026, 3, 2))
    event = compose(
        dossier,
        cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=date(2026, 3, 12)),
        OFFICER,
        vn(2026, 3, 3),
        POLICY,
    )
    tampered = DossierReceived.model_validate({**event.model_dump(), **changes})

    assert _accept_raw(dossier, event).status is Status.RECEIVED
    with pytest.raises(ReportRejectedError) as caught:
        _accept_raw(dossier, tampered)
    assert caught.value.reason is reason


def test_agency_systems_apology_slip_must_flag_its_own_breach() -> None:
    dossier = received(vn(2026, 3, 2))
    event = compose(dossier, _delay(date(2026, 3, 19), date(2026, 3, 12)), OFFICER, vn(2026, 3, 12), POLICY)
    assert isinstance(event, DelayNotified) and event.breach is True

    with pytest.raises(ReportRejectedError) as caught:
        _accept_raw(dossier, event.model_copy(update={"breach": False}), at=vn(2026, 3, 12))
    assert caught.value.reason is Reason.INCONSISTENT


def test_agency_system_must_publish_under_its_own_source() -> None:
    dossier = filed(vn(2026, 3, 2))
    event = compose(dossier, REFUSE, OFFICER, vn(2026, 3, 3), POLICY)

    with pytest.raises(ReportRejectedError) as caught:
        _accept_raw(dossier, event, source="/post-offices/100000")
    assert caught.value.reason is Reason.SOURCE_MISMATCH
    assert caught.value.verdict is Verdict.FORBIDDEN


def test_a_postal_event_is_not_a_report() -> None:
    with pytest.raises(ReportRejectedError) as caught:
        _accept_raw(filed(vn(2026, 3, 2)), accepted())
    assert caught.value.reason is Reason.NOT_AN_AGENCY_EVENT


def test_code_mismatch_with_the_assigned_code_is_a_conflict() -> None:
    dossier = received(vn(2026, 3, 2))
    event = compose(dossier, PROCESS, OFFICER, vn(2026, 3, 3), POLICY)

    with pytest.raises(ReportRejectedError) as caught:
        _accept_raw(dossier, event.model_copy(update={"agency_dossier_code": "000.00.01.H22-260302-0002"}))
    assert caught.value.reason is Reason.CODE_MISMATCH


# --------------------------------------------------------------------------- identifiers


def test_retrying_a_report_derives_the_same_event_id_and_the_next_report_another() -> None:
    dossier = filed(vn(2026, 3, 2))

    first = next_event_id(dossier, DOSSIER_ID, "agency.dossier_received")
    assert next_event_id(dossier, DOSSIER_ID, "agency.dossier_received") == first
    after = received(vn(2026, 3, 2))
    assert next_event_id(after, DOSSIER_ID, "agency.dossier_processing") != first


def test_reference_is_an_item_id_or_an_agency_dossier_code_in_any_case() -> None:
    assert parse_reference(ITEM.lower()).derived_id == DOSSIER_ID
    assert parse_reference(CODE.lower()).agency_dossier_code == CODE
    with pytest.raises(ValueError, match="check digit"):
        parse_reference("EB100000010VN")


# --------------------------------------------------------------------------- when a report happened

# Tuesday 10 March 2026: a morning's work recorded in the afternoon, after the 15:00 cut-off.
MORNING = vn(2026, 3, 10, 9, 30)
AFTERNOON = vn(2026, 3, 10, 16, 30)


def _waiting(before: Dossier, requested_at: datetime) -> Dossier:
    return reported(before, cmd.RequestSupplement(missing_documents=("Ảnh",), reason="x"), requested_at)


def _occurred(report: cmd.Report, at: datetime) -> cmd.Report:
    return report.model_copy(update={"occurred_at": at})


@pytest.mark.parametrize(
    ("before_", "report", "expected", "why"),
    [
        (
            lambda: filed(vn(2026, 3, 10, 8)),
            cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=date(2026, 3, 20)),
            {"received_at": MORNING, "filing_day": date(2026, 3, 10), "legal_due_date": date(2026, 3, 20)},
            "a morning receipt recorded in the afternoon keeps the morning's due date",
        ),
        (
            lambda: reported(
                _waiting(filed(vn(2026, 3, 2)), vn(2026, 3, 2, 11)),
                cmd.ReceiveSupplement(occurred_at=vn(2026, 3, 10, 9)),
                AFTERNOON,
            ),
            cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=date(2026, 3, 20)),
            {"received_at": MORNING, "filed_at": vn(2026, 3, 10, 9), "legal_due_date": date(2026, 3, 20)},
            "a supplement that came in the morning before the receipt files the dossier that morning",
        ),
        (
            lambda: _waiting(received(vn(2026, 3, 2)), vn(2026, 3, 4)),
            cmd.ReceiveSupplement(),
            {"filed_at": MORNING, "filing_day": date(2026, 3, 10), "due_date": date(2026, 3, 20)},
            "a morning supplement restarts the clock that morning, not the next working day",
        ),
        (
            lambda: received(vn(2026, 3, 2)),
            cmd.RequestSupplement(missing_documents=("Ảnh",), reason="x"),
            {"supplement_requested_at": MORNING, "status": Status.AWAITING_SUPPLEMENT},
            "the clock stops when the supplement was requested",
        ),
    ],
)
def test_a_report_recorded_later_counts_from_when_it_happened(
    before_: Callable[[], Dossier], report: cmd.Report, expected: dict[str, object], why: str
) -> None:
    before = before_()
    late = reported(before, _occurred(report, MORNING), AFTERNOON)
    on_the_spot = reported(before, _occurred(report, MORNING), MORNING)
    event = compose(before, _occurred(report, MORNING), OFFICER, AFTERNOON, POLICY)

    assert {name: getattr(late, name) for name in expected} == expected, why
    assert late == on_the_spot, "recording later changes nothing the clocks count from"
    assert event.recorded_at == AFTERNOON
    assert occurrence_time(_occurred(report, MORNING), event, AFTERNOON) == MORNING


def test_an_apology_slip_issued_the_day_before_and_recorded_on_the_due_date_is_in_time() -> None:
    dossier = received(vn(2026, 3, 2))  # due Thursday 12 March
    slip = cmd.NotifyDelay(new_due_date=date(2026, 3, 19), reason="Cần xác minh thêm")

    late = reported(dossier, _occurred(slip, vn(2026, 3, 11, 16)), vn(2026, 3, 12, 9))
    event = compose(dossier, _occurred(slip, vn(2026, 3, 11, 16)), OFFICER, vn(2026, 3, 12, 9), POLICY)

    assert isinstance(event, DelayNotified)
    assert (event.issued_on, event.breach) == (date(2026, 3, 11), False)
    assert (late.delay_breach, late.due_date) == (False, date(2026, 3, 19))
    assert reported(dossier, slip, vn(2026, 3, 12, 9)).delay_breach is True, "issued on the due date"


def test_a_report_without_an_occurrence_time_happened_when_it_is_recorded() -> None:
    report = cmd.StartProcessing()
    dossier = received(vn(2026, 3, 2))
    event = compose(dossier, report, OFFICER, AFTERNOON, POLICY)

    assert occurrence_time(report, event, AFTERNOON) == AFTERNOON
    assert event.recorded_at == AFTERNOON


FILED_AT_TEN = vn(2026, 3, 2, 10)
HANDOVER = "postal.dossier_handed_to_agency"
RECEIPT = "agency.dossier_received"


def _processing(at: datetime) -> Dossier:
    return reported(received(FILED_AT_TEN), cmd.StartProcessing(), at)


@pytest.mark.parametrize(
    ("before_", "report", "previous", "previous_at"),
    [
        (lambda: filed(FILED_AT_TEN), RECEIVE, HANDOVER, FILED_AT_TEN),
        (lambda: filed(FILED_AT_TEN), REFUSE, HANDOVER, FILED_AT_TEN),
        (lambda: filed(FILED_AT_TEN), REQUEST, HANDOVER, FILED_AT_TEN),
        (lambda: filed(FILED_AT_TEN), WITHDRAW, HANDOVER, FILED_AT_TEN),
        (lambda: received(FILED_AT_TEN), PROCESS, RECEIPT, FILED_AT_TEN),
        (lambda: received(FILED_AT_TEN), RESULT, RECEIPT, FILED_AT_TEN),
        (lambda: received(FILED_AT_TEN), _delay(date(2026, 3, 19), date(2026, 3, 2)), RECEIPT, FILED_AT_TEN),
        (lambda: _processing(vn(2026, 3, 4)), RESULT, "agency.dossier_processing", vn(2026, 3, 4)),
        (
            lambda: _waiting(received(FILED_AT_TEN), vn(2026, 3, 4)),
            cmd.ReceiveSupplement(),
            "agency.supplement_requested",
            vn(2026, 3, 4),
        ),
    ],
)
def test_a_report_that_happened_before_the_fact_it_follows_is_a_conflict_naming_both(
    before_: Callable[[], Dossier], report: cmd.Report, previous: str, previous_at: datetime
) -> None:
    before = before_()
    too_early = previous_at - timedelta(minutes=1)
    late_report = _occurred(report, too_early)

    with pytest.raises(ReportRejectedError) as caught:
        reported(before, late_report, vn(2026, 3, 20))

    assert caught.value.reason is Reason.BEFORE_PREVIOUS_FACT
    assert caught.value.verdict is Verdict.CONFLICT
    detail = caught.value.detail
    kind = compose(before, late_report, OFFICER, vn(2026, 3, 20), POLICY).type
    assert kind in detail and previous in detail, detail
    assert too_early.isoformat() in detail and previous_at.isoformat() in detail, detail


def test_a_dossier_recorded_before_facts_were_kept_is_checked_against_its_filing() -> None:
    # A row written before migration ag_0002 has no last fact: its filing is the fact it knows.
    before = replace(filed(FILED_AT_TEN), last_fact=None, last_fact_at=None)
    too_early = FILED_AT_TEN - timedelta(minutes=1)

    with pytest.raises(ReportRejectedError) as caught:
        reported(before, _occurred(RECEIVE, too_early), vn(2026, 3, 20))

    assert caught.value.reason is Reason.BEFORE_PREVIOUS_FACT
    assert f"before filing at {FILED_AT_TEN.isoformat()}" in caught.value.detail
    on_time = reported(before, _occurred(RECEIVE, FILED_AT_TEN), vn(2026, 3, 20))
    assert on_time.received_at == FILED_AT_TEN


def test_a_report_at_the_very_moment_of_the_fact_it_follows_is_accepted() -> None:
    receipt = reported(filed(FILED_AT_TEN), _occurred(RECEIVE, FILED_AT_TEN), vn(2026, 3, 2, 16))

    assert (receipt.status, receipt.received_at) == (Status.RECEIVED, FILED_AT_TEN)


@pytest.mark.parametrize(
    ("ahead", "skew", "accepted"),
    [
        (timedelta(seconds=120), timedelta(seconds=120), True),
        (timedelta(seconds=121), timedelta(seconds=120), False),
        (timedelta(hours=3), timedelta(seconds=120), False),
        (timedelta(seconds=1), timedelta(0), False),
        (timedelta(minutes=9), timedelta(minutes=10), True),
    ],
)
@pytest.mark.parametrize(
    "report", [RECEIVE, PROCESS, cmd.ReceiveSupplement()], ids=["received", "processing", "supplement"]
)
def test_a_report_that_happened_beyond_the_clock_skew_ahead_is_invalid(
    ahead: timedelta, skew: timedelta, accepted: bool, report: cmd.Report
) -> None:
    policy = Policy(calendar=CALENDAR, catalog=CATALOG, rules=Rules(clock_skew=skew))
    dossier = received(FILED_AT_TEN) if isinstance(report, cmd.StartProcessing) else filed(FILED_AT_TEN)
    if isinstance(report, cmd.ReceiveSupplement):
        dossier = _waiting(dossier, vn(2026, 3, 3))
    now = vn(2026, 3, 5)

    if accepted:
        assert reported(dossier, _occurred(report, now + ahead), now, policy).sequence == dossier.sequence + 1
        return
    with pytest.raises(ReportRejectedError) as caught:
        reported(dossier, _occurred(report, now + ahead), now, policy)
    assert caught.value.reason is Reason.TIME_IN_FUTURE
    assert caught.value.verdict is Verdict.INVALID


@pytest.mark.parametrize(
    ("recorded_at", "occurred_at", "why"),
    [
        (vn(2026, 3, 3, 9), vn(2026, 3, 3, 11), "it happened two hours after it was recorded"),
        (vn(2026, 3, 21), vn(2026, 3, 3, 11), "it was recorded the day after the service's today"),
    ],
)
def test_an_agency_systems_report_with_times_after_its_recording_or_now_is_in_the_future(
    recorded_at: datetime, occurred_at: datetime, why: str
) -> None:
    dossier = received(FILED_AT_TEN)
    event = compose(dossier, PROCESS, OFFICER, recorded_at, POLICY)

    with pytest.raises(ReportRejectedError) as caught:
        accept(
            dossier,
            event,
            subject=DOSSIER_ID,
            source=OUR_SOURCE,
            occurred_at=occurred_at,
            now=vn(2026, 3, 20),
            policy=POLICY,
        )
    assert caught.value.reason is Reason.TIME_IN_FUTURE, why


@pytest.mark.parametrize(
    "report",
    [
        cmd.ReceiveSupplement(received_at=vn(2026, 3, 10, 9), occurred_at=vn(2026, 3, 10, 10)),
        cmd.NotifyDelay(
            new_due_date=date(2026, 3, 19), reason="x", issued_on=date(2026, 3, 9), occurred_at=MORNING
        ),
    ],
    ids=["supplement received_at", "apology slip issued_on"],
)
def test_two_times_of_one_report_that_disagree_are_invalid(report: cmd.Report) -> None:
    dossier = received(vn(2026, 3, 2))
    if isinstance(report, cmd.ReceiveSupplement):
        dossier = _waiting(dossier, vn(2026, 3, 4))

    assert rejection(dossier, report, now=AFTERNOON) is Reason.TIMES_DISAGREE


@pytest.mark.parametrize(("env", "skew"), [(None, timedelta(seconds=120)), ("30", timedelta(seconds=30))])
def test_the_clock_skew_allowed_is_a_setting(
    monkeypatch: pytest.MonkeyPatch, env: str | None, skew: timedelta
) -> None:
    if env is None:
        monkeypatch.delenv("DOSSIER_CLOCK_SKEW_SECONDS", raising=False)
    else:
        monkeypatch.setenv("DOSSIER_CLOCK_SKEW_SECONDS", env)

    assert rules_of(AgencySettings()).clock_skew == skew


# --------------------------------------------------------------------------- supplement rules (issue 20)


def _request(at: datetime) -> cmd.RequestSupplement:
    return cmd.RequestSupplement(
        missing_documents=("Bản sao giấy khai sinh",), reason="Thiếu giấy tờ", occurred_at=at
    )


def _requested(dossier: Dossier, at: datetime) -> tuple[Dossier, SupplementRequested]:
    """The record after a supplement request that happened at `at`, and the event published."""
    event = compose(dossier, _request(at), OFFICER, at, POLICY)
    assert isinstance(event, SupplementRequested)
    return reported(dossier, _request(at), at), event


@pytest.mark.parametrize(
    ("received_at", "requested_at", "window_end", "rule_set", "late"),
    [
        # Received Thursday 12 February 2026; Tết (14–22 February) is not worked: 13, 23, 24.
        (vn(2026, 2, 12), vn(2026, 2, 24, 16), date(2026, 2, 24), "decree_118_2025", False),
        (vn(2026, 2, 12), vn(2026, 2, 25, 8), date(2026, 2, 24), "decree_118_2025", True),
        # Received Friday 25 April 2025: Saturday 26 April was worked (swap), 30/4, 1/5, 2/5 were not.
        (vn(2025, 4, 25), vn(2025, 4, 29), date(2025, 4, 29), "decree_61_2018", False),
        (vn(2025, 4, 25), vn(2025, 5, 5), date(2025, 4, 29), "decree_61_2018", True),
    ],
)
def test_a_supplement_request_after_the_third_working_day_from_receipt_is_recorded_and_flagged_late(
    received_at: datetime, requested_at: datetime, window_end: date, rule_set: str, late: bool
) -> None:
    dossier, event = _requested(received(received_at), requested_at)

    assert dossier.status is Status.AWAITING_SUPPLEMENT, "recorded: the citizen was asked"
    assert event.window_ends_on == window_end
    assert event.rule_set == rule_set
    assert event.breach is late
    assert event.breach_reasons == ((SupplementBreach.LATE_SUPPLEMENT_REQUEST,) if late else ())


def test_a_dossier_received_on_30_june_2025_and_one_on_1_july_are_judged_by_their_own_rule_sets() -> None:
    _, june = _requested(received(vn(2025, 6, 30)), vn(2025, 7, 2))
    _, july = _requested(received(vn(2025, 7, 1)), vn(2025, 7, 2))

    assert june.rule_set == "decree_61_2018"
    assert july.rule_set == "decree_118_2025"
    assert june.window_ends_on == date(2025, 7, 3)
    assert july.window_ends_on == date(2025, 7, 4)


def test_a_second_supplement_request_is_recorded_and_flagged() -> None:
    first, event1 = _requested(received(vn(2026, 3, 2)), vn(2026, 3, 3))
    back = reported(first, cmd.ReceiveSupplement(received_at=vn(2026, 3, 4)), vn(2026, 3, 4))
    second, event2 = _requested(back, vn(2026, 3, 5))

    assert (event1.request_number, event1.breach, event1.breach_reasons) == (1, False, ())
    assert second.status is Status.AWAITING_SUPPLEMENT and second.supplement_requests == 2
    assert event2.request_number == 2
    assert event2.breach is True
    assert event2.breach_reasons == (SupplementBreach.SECOND_SUPPLEMENT_REQUEST,)


def test_a_second_and_late_request_carries_both_reasons() -> None:
    first, _ = _requested(received(vn(2026, 3, 2)), vn(2026, 3, 3))
    back = reported(first, cmd.ReceiveSupplement(received_at=vn(2026, 3, 4)), vn(2026, 3, 4))
    _, event = _requested(back, vn(2026, 3, 9))  # 2 March + 3 working days = 5 March

    assert event.breach_reasons == (
        SupplementBreach.SECOND_SUPPLEMENT_REQUEST,
        SupplementBreach.LATE_SUPPLEMENT_REQUEST,
    )


def test_an_agency_systems_request_must_flag_its_own_breach_if_it_flags_one() -> None:
    first, _ = _requested(received(vn(2026, 3, 2)), vn(2026, 3, 3))
    back = reported(first, cmd.ReceiveSupplement(received_at=vn(2026, 3, 4)), vn(2026, 3, 4))
    unflagged = SupplementRequested(
        agency_code=AGENCY, officer_id="officer-0003", missing_documents=("x",), reason="y"
    )
    wrongly = unflagged.model_copy(update={"breach": False})

    def accepted_(event: SupplementRequested) -> Dossier:
        return accept(
            back,
            event,
            subject=DOSSIER_ID,
            source=agency_source(AGENCY),
            occurred_at=vn(2026, 3, 5),
            now=vn(2026, 3, 5),
            policy=POLICY,
        )

    assert accepted_(unflagged).supplement_requests == 2, "no judgement: recorded and counted"
    with pytest.raises(ReportRejectedError) as caught:
        accepted_(wrongly)
    assert caught.value.reason is Reason.INCONSISTENT


def test_an_agency_systems_request_without_a_judgement_is_completed_with_the_rules() -> None:
    dossier = received(vn(2026, 2, 12))
    raw = SupplementRequested(
        agency_code=AGENCY, officer_id="officer-0003", missing_documents=("x",), reason="y"
    )

    completed = with_judgement(dossier, raw, vn(2026, 2, 25), POLICY)

    assert isinstance(completed, SupplementRequested)
    assert (completed.request_number, completed.window_ends_on, completed.rule_set) == (
        1,
        date(2026, 2, 24),
        "decree_118_2025",
    )
    assert completed.breach is True
    assert completed.breach_reasons == (SupplementBreach.LATE_SUPPLEMENT_REQUEST,)
    flagged = raw.model_copy(update={"breach": False})
    assert with_judgement(dossier, flagged, vn(2026, 2, 25), POLICY) is flagged, (
        "its own judgement is checked"
    )


def test_a_request_on_a_dossier_received_before_any_rule_set_is_recorded_unjudged() -> None:
    # Decree 61 took effect on 21 June 2018: a receipt before it (a record older than the rule files).
    old = replace(received(vn(2026, 3, 2)), received_at=vn(2018, 6, 1))
    dossier, event = _requested(old, vn(2026, 3, 3))

    assert dossier.status is Status.AWAITING_SUPPLEMENT
    assert (event.rule_set, event.breach, event.window_ends_on) == (None, False, None)
