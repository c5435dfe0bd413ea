"""The legal clocks on real dates: weekends, Tết 2026, the 2025 swap day, National Day 2026, the 15:00
cut-off, the supplement reset and the one delay notice.

Calendar facts (see tests/unit/test_calendar.py): Tết 2026 takes Mon 16 – Fri 20 Feb off; 30 Apr and
1 May 2025 are holidays, Fri 2 May 2025 is off and Sat 26 Apr 2025 is worked instead; National Day 2026
takes Mon 31 Aug – Wed 2 Sep off (Sat 22 Aug worked).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from contracts.enums import ItemKind, Leg, RouteClass
from contracts.envelope import Envelope
from contracts.events import AGENCY, POSTAL, Event
from contracts.samples import sample_envelope
from services.shared.calendar import VN_TZ, load_calendar
from services.shared.catalog import load_catalog
from services.shared.postal_limits import load_route_limits, parse_route_limits
from services.turnaround import domain
from services.turnaround.domain import (
    CLOCK_RULES,
    NO_CLOCK_EFFECT,
    Clock,
    ClockRules,
    ClockState,
    Facts,
    Threshold,
    Timeliness,
)
from services.turnaround.provinces import load_provinces

D = date
PASSPORT = "1.001456"  # 8 working days, field xuat_nhap_canh
ENTERPRISE = "2.001610"  # 3 working days, field dang_ky_doanh_nghiep
JUDICIAL_RECORD = "3.000333"  # 10 working days, field ly_lich_tu_phap
BIRTH = "1.001193"  # same day, field ho_tich
HANOI_PO = "100000"
HCMC_PO = "700000"


@pytest.fixture(scope="module")
def rules() -> ClockRules:
    return ClockRules(
        calendar=load_calendar(),
        catalog=load_catalog(),
        route_limits=load_route_limits(),
        provinces=load_provinces(),
    )


def vn(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


DOSSIER = str(uuid.uuid4())


def ev(kind: str, at: datetime, **changes: Any) -> Envelope[Event]:
    return sample_envelope(kind, DOSSIER, time=at, **changes)


def accepted(
    at: datetime, route: RouteClass = RouteClass.INTRA_PROVINCIAL, **changes: Any
) -> Envelope[Event]:
    values: dict[str, Any] = {"procedure_code": PASSPORT, "post_office_code": HANOI_PO, "route_class": route}
    return ev("postal.dossier_accepted", at, **(values | changes))


def handed_over(signed_at: datetime, **changes: Any) -> Envelope[Event]:
    return ev(
        "postal.dossier_handed_to_agency",
        signed_at,
        signed_at=signed_at,
        post_office_code=HANOI_PO,
        **changes,
    )


def received(filed_at: datetime, procedure: str = PASSPORT, legal_due: date | None = None) -> Envelope[Event]:
    due = legal_due or filed_at.date()
    return ev(
        "agency.dossier_received",
        filed_at,
        filed_at=filed_at,
        procedure_code=procedure,
        legal_due_date=due,
        appointment_date=due,
        appointment_later_than_legal=False,
    )


def clocks(rules: ClockRules, *events: Envelope[Event]) -> dict[Leg, Clock]:
    facts = Facts()
    for envelope in events:
        facts = domain.record(facts, envelope)
    return domain.clocks_of(facts, rules)


# --------------------------------------------------------------------------- the rule table


def test_every_postal_and_agency_event_has_a_clock_rule_or_is_listed_as_moving_none() -> None:
    in_table = {rule.event_type for rule in CLOCK_RULES}
    every = {model.key()[0] for model in POSTAL + AGENCY}
    assert in_table | NO_CLOCK_EFFECT == every
    assert not in_table & NO_CLOCK_EFFECT


# --------------------------------------------------------------------------- inbound postal leg


def test_inbound_leg_accepted_before_tet_is_due_on_the_second_working_day_after_it(rules: ClockRules) -> None:
    # J = Fri 13 Feb 2026; Tết 16–20 Feb and the weekend are skipped: J+1 = Mon 23, J+2 = Tue 24 Feb.
    inbound = clocks(rules, accepted(vn(2026, 2, 13)))[Leg.INBOUND_POSTAL]
    assert (inbound.start_day, inbound.due_date, inbound.state) == (
        D(2026, 2, 13),
        D(2026, 2, 24),
        ClockState.RUNNING,
    )
    assert (inbound.province, inbound.field_key, inbound.route) == (
        "ha_noi",
        "xuat_nhap_canh",
        "same_province",
    )

    done = clocks(rules, accepted(vn(2026, 2, 13)), handed_over(vn(2026, 2, 24, 16)))[Leg.INBOUND_POSTAL]
    assert (done.state, done.timeliness, done.working_days) == (ClockState.FINISHED, Timeliness.ON_TIME, 2)


def test_inbound_leg_accepted_on_saturday_counts_from_that_saturday(rules: ClockRules) -> None:
    # Post offices work on Saturdays: J = Sat 7 Mar 2026, J+1 = Mon 9 Mar.
    inbound = clocks(rules, accepted(vn(2026, 3, 7), RouteClass.LOCAL), handed_over(vn(2026, 3, 10, 9)))
    clock = inbound[Leg.INBOUND_POSTAL]
    assert clock.due_date == D(2026, 3, 9)
    assert (clock.timeliness, clock.working_days) == (Timeliness.LATE, 2)


def test_make_up_saturday_of_2025_is_a_working_day_of_the_inbound_leg(rules: ClockRules) -> None:
    # J = Thu 24 Apr 2025; J+1 = Fri 25 Apr; J+2 = Sat 26 Apr, worked in exchange for Fri 2 May.
    leg = clocks(rules, accepted(vn(2025, 4, 24)), handed_over(vn(2025, 4, 26, 11)))[Leg.INBOUND_POSTAL]
    assert (leg.due_date, leg.timeliness, leg.working_days) == (D(2025, 4, 26), Timeliness.ON_TIME, 2)


def test_appointment_slip_doubles_the_inbound_limit(rules: ClockRules) -> None:
    # INTER_PROVINCIAL J+4 doubled to J+8 from Mon 9 Mar 2026: 10..13, 16..19 → Thu 19 Mar.
    leg = clocks(
        rules, accepted(vn(2026, 3, 9), RouteClass.INTER_PROVINCIAL, carries_appointment_slip_back=True)
    )
    assert leg[Leg.INBOUND_POSTAL].due_date == D(2026, 3, 19)


def test_inbound_leg_handed_over_the_day_after_acceptance_is_early(rules: ClockRules) -> None:
    leg = clocks(rules, accepted(vn(2026, 3, 9)), handed_over(vn(2026, 3, 10, 9)))[Leg.INBOUND_POSTAL]
    assert (leg.due_date, leg.timeliness, leg.working_days) == (D(2026, 3, 11), Timeliness.EARLY, 1)


# --------------------------------------------------------------------------- agency processing


def test_agency_clock_starts_at_the_handover_signing_time_and_counts_from_the_filing_day(
    rules: ClockRules,
) -> None:
    # Passport (8 working days), filed Mon 9 Mar 2026 at 14:59: due Thu 19 Mar.
    agency = clocks(rules, accepted(vn(2026, 3, 6)), handed_over(vn(2026, 3, 9, 14, 59)))[
        Leg.AGENCY_PROCESSING
    ]
    assert (agency.start_day, agency.due_date, agency.generation) == (D(2026, 3, 9), D(2026, 3, 19), 0)
    assert agency.province == "ha_noi"


def test_dossier_filed_at_three_pm_counts_from_the_next_working_day(rules: ClockRules) -> None:
    # 15:00 is the cut-off (Decree 61 Art. 18): filing day Tue 10 Mar, due Fri 20 Mar; ready Thu 19 → early.
    events = (
        accepted(vn(2026, 3, 6)),
        handed_over(vn(2026, 3, 9, 15, 0)),
        ev("agency.result_ready", vn(2026, 3, 19)),
    )
    agency = clocks(rules, *events)[Leg.AGENCY_PROCESSING]
    assert (agency.start_day, agency.due_date) == (D(2026, 3, 10), D(2026, 3, 20))
    assert (agency.timeliness, agency.working_days) == (Timeliness.EARLY, 7)


def test_dossier_filed_on_friday_evening_before_tet_counts_from_the_monday_after_tet(
    rules: ClockRules,
) -> None:
    # Enterprise registration (3 days) filed Fri 13 Feb 2026 at 16:00: filing day Mon 23 Feb, due Thu 26.
    agency = clocks(rules, received(vn(2026, 2, 13, 16), ENTERPRISE))[Leg.AGENCY_PROCESSING]
    assert (agency.start_day, agency.due_date, agency.field_key) == (
        D(2026, 2, 23),
        D(2026, 2, 26),
        "dang_ky_doanh_nghiep",
    )


def test_supplement_request_stops_the_clock_and_its_arrival_restarts_it_from_zero(rules: ClockRules) -> None:
    # Enterprise registration filed Mon 9 Mar 2026 10:00, due Thu 12 Mar. Supplement asked Wed 11 Mar;
    # it arrives Mon 16 Mar at 16:00 (after the cut-off): filing day Tue 17, due Fri 20 Mar.
    start = (received(vn(2026, 3, 9), ENTERPRISE),)
    waiting = clocks(rules, *start, ev("agency.supplement_requested", vn(2026, 3, 11)))[Leg.AGENCY_PROCESSING]
    assert (waiting.state, waiting.due_date, waiting.generation) == (ClockState.SUSPENDED, D(2026, 3, 12), 0)
    assert domain.threshold_reached(waiting, D(2026, 3, 13), rules.calendar) is None, (
        "no alert while suspended"
    )

    restarted = clocks(
        rules,
        *start,
        ev("agency.supplement_requested", vn(2026, 3, 11)),
        ev("agency.supplement_received", vn(2026, 3, 16, 16), received_at=vn(2026, 3, 16, 16)),
        ev("agency.result_ready", vn(2026, 3, 20, 9)),
    )[Leg.AGENCY_PROCESSING]
    assert (restarted.generation, restarted.start_day, restarted.due_date) == (
        1,
        D(2026, 3, 17),
        D(2026, 3, 20),
    )
    assert (restarted.timeliness, restarted.working_days) == (Timeliness.ON_TIME, 3)


def test_one_delay_notice_moves_the_due_date_once_and_a_second_is_ignored(rules: ClockRules) -> None:
    # Judicial record (10 days) filed Mon 2 Feb 2026: 3–6, 9–13 Feb, Tết, then Mon 23 Feb is the 10th day.
    start = received(vn(2026, 2, 2, 9), JUDICIAL_RECORD)
    assert clocks(rules, start)[Leg.AGENCY_PROCESSING].due_date == D(2026, 2, 23)

    def delay(issued: datetime, new_due: date) -> Envelope[Event]:
        return ev("agency.delay_notified", issued, new_due_date=new_due, issued_on=issued.date())

    moved = clocks(
        rules, start, delay(vn(2026, 2, 12), D(2026, 2, 27)), delay(vn(2026, 2, 25), D(2026, 3, 6))
    )
    agency = moved[Leg.AGENCY_PROCESSING]
    assert (agency.due_date, agency.generation) == (D(2026, 2, 27), 1)
    assert domain.threshold_reached(agency, D(2026, 3, 2), rules.calendar) is Threshold.OVERDUE

    ready = clocks(
        rules, start, delay(vn(2026, 2, 12), D(2026, 2, 27)), ev("agency.result_ready", vn(2026, 2, 26))
    )
    assert ready[Leg.AGENCY_PROCESSING].timeliness is Timeliness.EARLY


def test_same_day_procedure_is_on_time_when_ready_on_the_filing_day(rules: ClockRules) -> None:
    agency = clocks(rules, received(vn(2026, 3, 9, 9), BIRTH), ev("agency.result_ready", vn(2026, 3, 9, 16)))
    clock = agency[Leg.AGENCY_PROCESSING]
    assert (clock.due_date, clock.timeliness, clock.working_days) == (D(2026, 3, 9), Timeliness.ON_TIME, 0)


def test_agency_clock_is_the_same_whichever_topic_is_consumed_first(rules: ClockRules) -> None:
    filing = vn(2026, 3, 9, 10)
    postal_first = clocks(rules, accepted(vn(2026, 3, 6)), handed_over(filing), received(filing))
    agency_first = clocks(rules, received(filing), accepted(vn(2026, 3, 6)), handed_over(filing))
    assert postal_first[Leg.AGENCY_PROCESSING].due_date == agency_first[Leg.AGENCY_PROCESSING].due_date


def test_unknown_procedure_keeps_the_agencys_legal_target_after_a_restart(rules: ClockRules) -> None:
    # 1.001234 is not in the catalog: the legal due date (Wed 11 Mar from Mon 9 Mar) means 2 working days.
    start = received(vn(2026, 3, 9), "1.001234", legal_due=D(2026, 3, 11))
    first = clocks(rules, start)[Leg.AGENCY_PROCESSING]
    assert (first.due_date, first.field_key) == (D(2026, 3, 11), "unknown")
    again = clocks(
        rules,
        start,
        ev("agency.supplement_requested", vn(2026, 3, 10)),
        ev("agency.supplement_received", vn(2026, 3, 12), received_at=vn(2026, 3, 12)),
    )[Leg.AGENCY_PROCESSING]
    assert again.due_date == D(2026, 3, 16)


def test_refusal_and_withdrawal_cancel_open_clocks_without_timeliness(rules: ClockRules) -> None:
    refused = clocks(rules, received(vn(2026, 3, 9)), ev("agency.dossier_refused", vn(2026, 3, 10)))
    assert refused[Leg.AGENCY_PROCESSING].state is ClockState.CANCELLED
    assert refused[Leg.AGENCY_PROCESSING].timeliness is None

    withdrawn = clocks(rules, accepted(vn(2026, 3, 9)), ev("agency.dossier_withdrawn", vn(2026, 3, 10)))
    assert withdrawn[Leg.INBOUND_POSTAL].state is ClockState.CANCELLED


def test_lost_dossier_cancels_the_inbound_leg(rules: ClockRules) -> None:
    lost = clocks(
        rules, accepted(vn(2026, 3, 9)), ev("postal.item_lost", vn(2026, 3, 10), item_kind=ItemKind.DOSSIER)
    )
    assert lost[Leg.INBOUND_POSTAL].state is ClockState.CANCELLED


# --------------------------------------------------------------------------- return postal leg


def picked_up(at: datetime, route: RouteClass = RouteClass.INTRA_PROVINCIAL) -> Envelope[Event]:
    return ev("postal.result_picked_up", at, route_class=route, post_office_code=HCMC_PO)


def test_return_leg_over_national_day_ends_at_the_first_delivery_attempt(rules: ClockRules) -> None:
    # J = Fri 28 Aug 2026; 31 Aug – 2 Sep are off: J+1 = Thu 3 Sep, J+2 = Fri 4 Sep.
    events = (
        picked_up(vn(2026, 8, 28)),
        ev("postal.result_out_for_delivery", vn(2026, 9, 3, 8)),
        ev("postal.delivery_failed", vn(2026, 9, 3, 11)),
        ev("postal.result_delivered", vn(2026, 9, 7, 10)),
    )
    leg = clocks(rules, *events)[Leg.RETURN_POSTAL]
    assert (leg.due_date, leg.finished_day, leg.timeliness, leg.working_days) == (
        D(2026, 9, 4),
        D(2026, 9, 3),
        Timeliness.EARLY,
        1,
    )
    assert (leg.province, leg.route) == ("ho_chi_minh", "same_province")


def test_return_leg_first_attempt_after_the_due_date_is_late(rules: ClockRules) -> None:
    leg = clocks(
        rules, picked_up(vn(2026, 3, 9), RouteClass.LOCAL), ev("postal.delivery_failed", vn(2026, 3, 11))
    )
    assert (leg[Leg.RETURN_POSTAL].due_date, leg[Leg.RETURN_POSTAL].timeliness) == (
        D(2026, 3, 10),
        Timeliness.LATE,
    )


def test_whole_journey_is_measured_from_acceptance_to_delivery(rules: ClockRules) -> None:
    facts = Facts()
    for envelope in (
        accepted(vn(2026, 2, 13)),
        picked_up(vn(2026, 3, 2)),
        ev("postal.result_delivered", vn(2026, 3, 4)),
    ):
        facts = domain.record(facts, envelope)
    trip = domain.journey(facts, rules)
    assert trip is not None
    # 13 Feb → 4 Mar 2026: 19 calendar days; working days 23–27 Feb, 2–4 Mar = 8.
    assert (trip.days, trip.working_days, trip.province) == (19, 8, "ha_noi")


# --------------------------------------------------------------------------- timeliness, thresholds, alerts


@pytest.mark.parametrize(
    ("finished", "due", "expected"),
    [
        (D(2026, 3, 18), D(2026, 3, 19), Timeliness.EARLY),
        (D(2026, 3, 19), D(2026, 3, 19), Timeliness.ON_TIME),
        (D(2026, 3, 20), D(2026, 3, 19), Timeliness.LATE),
    ],
)
def test_finished_clock_is_early_before_on_time_on_and_late_after_its_due_date(
    finished: date, due: date, expected: Timeliness
) -> None:
    assert domain.classify(finished, due) is expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (D(2026, 2, 12), None),  # Thu: two working days before
        (D(2026, 2, 13), Threshold.DUE_SOON),  # Fri before Tết: the working day before Mon 23 Feb
        (D(2026, 2, 18), Threshold.DUE_SOON),  # during Tết
        (D(2026, 2, 23), Threshold.DUE_SOON),  # the due date itself
        (D(2026, 2, 24), Threshold.OVERDUE),
    ],
)
def test_clock_due_after_tet_is_due_soon_from_the_working_day_before_and_overdue_the_day_after(
    rules: ClockRules, today: date, expected: Threshold | None
) -> None:
    agency = clocks(rules, received(vn(2026, 2, 2, 9), JUDICIAL_RECORD))[Leg.AGENCY_PROCESSING]
    assert agency.due_date == D(2026, 2, 23)
    assert domain.threshold_reached(agency, today, rules.calendar) is expected
    reached = expected is not None
    assert (agency.due_date <= domain.alert_horizon(today, rules.calendar)) is reached


def test_clock_due_on_friday_is_overdue_on_saturday(rules: ClockRules) -> None:
    leg = clocks(rules, accepted(vn(2026, 3, 11)))[Leg.INBOUND_POSTAL]  # J+2 = Fri 13 Mar
    assert leg.due_date == D(2026, 3, 13)
    assert domain.threshold_reached(leg, D(2026, 3, 14), rules.calendar) is Threshold.OVERDUE


def test_alert_event_id_is_the_same_for_the_same_clock_generation_and_threshold() -> None:
    first = domain.alert_event_id(DOSSIER, Leg.AGENCY_PROCESSING, 0, Threshold.OVERDUE)
    assert first == domain.alert_event_id(DOSSIER, Leg.AGENCY_PROCESSING, 0, Threshold.OVERDUE)
    others = {
        domain.alert_event_id(DOSSIER, Leg.AGENCY_PROCESSING, 1, Threshold.OVERDUE),
        domain.alert_event_id(DOSSIER, Leg.AGENCY_PROCESSING, 0, Threshold.DUE_SOON),
        domain.alert_event_id(DOSSIER, Leg.INBOUND_POSTAL, 0, Threshold.OVERDUE),
    }
    assert first not in others and len(others) == 3


def facts_of(*events: Envelope[Event]) -> Facts:
    facts = Facts()
    for envelope in events:
        facts = domain.record(facts, envelope)
    return facts


def test_finished_clock_is_final_whatever_arrives_later(rules: ClockRules) -> None:
    first = facts_of(accepted(vn(2026, 3, 9)), handed_over(vn(2026, 3, 10, 9)))
    done = domain.clocks_of(first, rules)[Leg.INBOUND_POSTAL]
    kept, count = domain.reconcile(None, done, first)
    assert count and kept == replace(done, counted=True)
    second = facts_of(accepted(vn(2026, 3, 9)), handed_over(vn(2026, 3, 20, 9)))
    later = domain.clocks_of(second, rules)[Leg.INBOUND_POSTAL]
    assert domain.reconcile(kept, later, second) == (kept, False)


def test_a_return_leg_finished_before_its_procedure_is_known_is_counted_once_it_is(rules: ClockRules) -> None:
    # Form RECEIVE_RESULT: the procedure comes with the agency's registration for return, which a consumer
    # may read after the postal topic's pickup and first attempt.
    postal = (picked_up(vn(2026, 3, 9)), ev("postal.delivery_failed", vn(2026, 3, 10)))
    early = facts_of(*postal)
    unclassified = domain.clocks_of(early, rules)[Leg.RETURN_POSTAL]
    assert unclassified.field_key == "unknown"
    kept, count = domain.reconcile(None, unclassified, early)
    assert (kept.state, kept.counted, count) == (ClockState.FINISHED, False, False)

    registration = ev("agency.dossier_registered_for_return", vn(2026, 3, 5), procedure_code=PASSPORT)
    complete = facts_of(*postal, registration)
    classified, count = domain.reconcile(kept, domain.clocks_of(complete, rules)[Leg.RETURN_POSTAL], complete)
    assert count and classified.counted
    assert classified == replace(
        kept, field_key=rules.catalog.get(PASSPORT).field_key, procedure_code=PASSPORT, counted=True
    )
    assert domain.reconcile(classified, classified, complete) == (classified, False), "counted once"


def test_repeated_reports_keep_the_first_value(rules: ClockRules) -> None:
    once = clocks(rules, accepted(vn(2026, 3, 9)), handed_over(vn(2026, 3, 10)))
    twice = clocks(
        rules, accepted(vn(2026, 3, 9)), handed_over(vn(2026, 3, 10)), handed_over(vn(2026, 3, 12))
    )
    assert once == twice


def test_province_comes_from_the_post_office_prefix_or_the_agency_code(rules: ClockRules) -> None:
    assert rules.provinces.of_post_office("100900") == "ha_noi"
    assert rules.provinces.of_post_office("999999") is None
    assert rules.provinces.of_agency("000.00.00.H29") == "ho_chi_minh"
    assert len(rules.provinces.keys()) == 34
    form2 = clocks(
        rules,
        ev(
            "agency.dossier_registered_for_return",
            vn(2026, 3, 9),
            agency_code="000.00.01.H29",
            filed_at=vn(2026, 3, 9),
        ),
    )
    assert form2[Leg.AGENCY_PROCESSING].province == "ho_chi_minh"


@pytest.mark.parametrize(
    ("report", "occurred", "expected"),
    [
        ("agency.result_ready", vn(2026, 3, 12, 16), (ClockState.FINISHED, Timeliness.ON_TIME)),
        ("agency.result_ready", vn(2026, 3, 11, 9), (ClockState.FINISHED, Timeliness.EARLY)),
        ("agency.supplement_requested", vn(2026, 3, 12, 11), (ClockState.SUSPENDED, None)),
        ("agency.dossier_withdrawn", vn(2026, 3, 12, 11), (ClockState.CANCELLED, None)),
    ],
)
def test_an_agency_report_recorded_days_later_moves_the_clock_when_it_happened(
    rules: ClockRules, report: str, occurred: datetime, expected: tuple[ClockState, Timeliness | None]
) -> None:
    # Passport filed Mon 2 Mar 2026, due Thu 12 Mar; every report is recorded on Mon 16 Mar after an outage.
    start = received(vn(2026, 3, 2), legal_due=D(2026, 3, 12))
    late = ev(report, occurred, recorded_at=vn(2026, 3, 16, 14))

    agency = clocks(rules, start, late)[Leg.AGENCY_PROCESSING]

    assert getattr(late.data, "recorded_at", None) == vn(2026, 3, 16, 14), "the event keeps both times"
    assert (agency.state, agency.timeliness) == expected
    assert domain.threshold_reached(agency, D(2026, 3, 16), rules.calendar) is None, "not overdue"


# --------------------------------------------------------------------------- what a clock shows

AGENCY_H22 = "000.00.01.H22"  # its province is not in the table: the post office's is used


def test_inbound_clock_shows_the_agency_the_post_office_and_when_it_started(rules: ClockRules) -> None:
    running = clocks(rules, accepted(vn(2026, 3, 9, 8, 30), agency_code=AGENCY_H22))[Leg.INBOUND_POSTAL]
    assert running == Clock(
        leg=Leg.INBOUND_POSTAL,
        generation=0,
        state=ClockState.RUNNING,
        started_at=vn(2026, 3, 9, 8, 30),
        start_day=D(2026, 3, 9),
        due_date=D(2026, 3, 11),
        province="ha_noi",
        field_key="xuat_nhap_canh",
        route="same_province",
        agency_code=AGENCY_H22,
        post_office_code=HANOI_PO,
        procedure_code=PASSPORT,
    )
    done = clocks(rules, accepted(vn(2026, 3, 9, 8, 30)), handed_over(vn(2026, 3, 11, 16)))
    assert (done[Leg.INBOUND_POSTAL].finished_at, done[Leg.INBOUND_POSTAL].finished_day) == (
        vn(2026, 3, 11, 16),
        D(2026, 3, 11),
    )


def test_agency_clock_shows_the_agency_and_the_post_office_that_handed_the_dossier_over(
    rules: ClockRules,
) -> None:
    agency = clocks(rules, accepted(vn(2026, 3, 6)), handed_over(vn(2026, 3, 9, 10), agency_code=AGENCY_H22))[
        Leg.AGENCY_PROCESSING
    ]
    assert agency == Clock(
        leg=Leg.AGENCY_PROCESSING,
        generation=0,
        state=ClockState.RUNNING,
        started_at=vn(2026, 3, 9, 10),
        start_day=D(2026, 3, 9),
        due_date=D(2026, 3, 19),
        province="ha_noi",
        field_key="xuat_nhap_canh",
        route="",
        agency_code=AGENCY_H22,
        post_office_code=HANOI_PO,
        procedure_code=PASSPORT,
    )


def test_supplement_arrival_runs_the_clock_again_from_its_arrival_time(rules: ClockRules) -> None:
    restarted = clocks(
        rules,
        received(vn(2026, 3, 9), ENTERPRISE),
        ev("agency.supplement_requested", vn(2026, 3, 11)),
        ev("agency.supplement_received", vn(2026, 3, 16, 9), received_at=vn(2026, 3, 16, 9)),
    )[Leg.AGENCY_PROCESSING]
    assert (restarted.state, restarted.started_at, restarted.start_day) == (
        ClockState.RUNNING,
        vn(2026, 3, 16, 9),
        D(2026, 3, 16),
    )


def test_return_clock_shows_the_agency_and_the_post_office_that_picked_the_result_up(
    rules: ClockRules,
) -> None:
    leg = clocks(rules, picked_up(vn(2026, 3, 9, 14)))[Leg.RETURN_POSTAL]
    assert leg == Clock(
        leg=Leg.RETURN_POSTAL,
        generation=0,
        state=ClockState.RUNNING,
        started_at=vn(2026, 3, 9, 14),
        start_day=D(2026, 3, 9),
        due_date=D(2026, 3, 11),
        province="ho_chi_minh",
        field_key="unknown",
        route="same_province",
        agency_code=AGENCY_H22,
        post_office_code=HCMC_PO,
    )


@pytest.mark.parametrize(
    ("stop", "changes"),
    [
        ("agency.dossier_withdrawn", {}),
        ("postal.item_lost", {"item_kind": ItemKind.RESULT}),
    ],
)
def test_withdrawal_or_loss_of_the_result_cancels_the_return_leg_at_that_time(
    rules: ClockRules, stop: str, changes: dict[str, Any]
) -> None:
    leg = clocks(rules, picked_up(vn(2026, 3, 9)), ev(stop, vn(2026, 3, 10, 23, 30), **changes))[
        Leg.RETURN_POSTAL
    ]
    assert (leg.state, leg.finished_at, leg.finished_day, leg.timeliness) == (
        ClockState.CANCELLED,
        vn(2026, 3, 10, 23, 30),
        D(2026, 3, 10),
        None,
    )


def test_cancelled_clock_keeps_when_it_was_cancelled(rules: ClockRules) -> None:
    # 17:30 UTC on Tuesday is 00:30 on Wednesday in Vietnam: the day is Vietnam's.
    lost_at = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)
    leg = clocks(
        rules, accepted(vn(2026, 3, 9)), ev("postal.item_lost", lost_at, item_kind=ItemKind.DOSSIER)
    )[Leg.INBOUND_POSTAL]
    assert (leg.state, leg.finished_at, leg.finished_day) == (ClockState.CANCELLED, lost_at, D(2026, 3, 11))


def test_a_lost_supplement_or_dossier_leaves_the_return_leg_running(rules: ClockRules) -> None:
    for kind in (ItemKind.SUPPLEMENT, ItemKind.DOSSIER):
        leg = clocks(
            rules, picked_up(vn(2026, 3, 9)), ev("postal.item_lost", vn(2026, 3, 10), item_kind=kind)
        )
        assert leg[Leg.RETURN_POSTAL].state is ClockState.RUNNING, kind


@pytest.mark.parametrize(
    "kind",
    [
        "postal.dossier_accepted",
        "postal.dossier_handed_to_agency",
        "agency.dossier_registered_for_return",
        "agency.dossier_received",
        "agency.result_ready",
        "agency.dossier_refused",
        "postal.result_picked_up",
    ],
)
def test_the_agency_of_a_dossier_is_known_from_any_event_that_names_it(kind: str) -> None:
    # Whichever topic is read first, the clocks are labelled with the agency as soon as one event names it.
    facts = domain.record(Facts(), ev(kind, vn(2026, 3, 9), agency_code="000.00.00.H29"))
    assert facts.agency_code == "000.00.00.H29"


def test_clocks_count_with_the_route_table_they_are_given(rules: ClockRules) -> None:
    slower = replace(
        rules,
        route_limits=parse_route_limits(
            {
                "limits": {
                    "same_commune": 2,
                    "same_province": 3,
                    "between_special_cities": 4,
                    "inter_provincial": 5,
                }
            }
        ),
    )
    found = clocks(slower, accepted(vn(2026, 3, 9)), picked_up(vn(2026, 3, 9)))
    assert found[Leg.INBOUND_POSTAL].due_date == D(2026, 3, 12)
    assert found[Leg.RETURN_POSTAL].due_date == D(2026, 3, 12)


def test_without_a_cutoff_a_dossier_filed_at_four_pm_counts_from_that_day(rules: ClockRules) -> None:
    # Online filing has no hour cut-off (Decree 118/2025 Art. 17(2)): the rules may be configured without one.
    online = replace(rules, legal=rules.legal.with_cutoff(None))
    agency = clocks(online, received(vn(2026, 3, 9, 16), ENTERPRISE))[Leg.AGENCY_PROCESSING]
    assert (agency.start_day, agency.due_date) == (D(2026, 3, 9), D(2026, 3, 12))
    restarted = clocks(
        online,
        received(vn(2026, 3, 9, 9), ENTERPRISE),
        ev("agency.supplement_requested", vn(2026, 3, 10)),
        ev("agency.supplement_received", vn(2026, 3, 11, 16), received_at=vn(2026, 3, 11, 16)),
    )[Leg.AGENCY_PROCESSING]
    assert (restarted.start_day, restarted.due_date) == (D(2026, 3, 11), D(2026, 3, 16))


@pytest.mark.parametrize(
    ("cutoff", "expected_due"),
    [
        (time(15, 0), D(2026, 3, 11)),  # filing day Tue 10, legal due Wed 11: 1 working day
        (None, D(2026, 3, 11)),  # filing day Mon 9, legal due Wed 11: 2 working days
    ],
)
def test_unknown_procedure_filed_at_four_pm_keeps_the_agencys_legal_due_date(
    rules: ClockRules, cutoff: time | None, expected_due: date
) -> None:
    configured = replace(rules, legal=rules.legal.with_cutoff(cutoff))
    start = received(vn(2026, 3, 9, 16), "1.001234", legal_due=D(2026, 3, 11))
    assert clocks(configured, start)[Leg.AGENCY_PROCESSING].due_date == expected_due


def test_unknown_procedure_due_on_its_filing_day_stays_due_that_day(rules: ClockRules) -> None:
    agency = clocks(rules, received(vn(2026, 3, 9, 9), "1.001234", legal_due=D(2026, 3, 9)))
    assert agency[Leg.AGENCY_PROCESSING].due_date == D(2026, 3, 9)


def test_clock_without_a_due_date_finishes_without_timeliness(rules: ClockRules) -> None:
    # A RECEIVE_RESULT dossier of a procedure the catalog does not know carries no legal due date.
    registered = ev(
        "agency.dossier_registered_for_return",
        vn(2026, 3, 9),
        procedure_code="1.001234",
        filed_at=vn(2026, 3, 9),
    )
    agency = clocks(rules, registered, ev("agency.result_ready", vn(2026, 3, 12)))[Leg.AGENCY_PROCESSING]
    assert (agency.state, agency.due_date, agency.timeliness, agency.working_days) == (
        ClockState.FINISHED,
        None,
        None,
        3,
    )


def test_agency_clock_of_an_agency_outside_the_table_takes_the_pickup_post_offices_province(
    rules: ClockRules,
) -> None:
    registered = ev("agency.dossier_registered_for_return", vn(2026, 3, 9), agency_code=AGENCY_H22)
    alone = clocks(rules, registered)[Leg.AGENCY_PROCESSING]
    assert alone.province == "unknown"
    with_pickup = clocks(rules, registered, picked_up(vn(2026, 3, 12)))[Leg.AGENCY_PROCESSING]
    assert with_pickup.province == "ho_chi_minh"


def test_a_running_clock_is_never_counted(rules: ClockRules) -> None:
    facts = facts_of(accepted(vn(2026, 3, 9)))
    running = domain.clocks_of(facts, rules)[Leg.INBOUND_POSTAL]
    assert domain.reconcile(None, running, facts) == (running, False)


def test_journey_of_a_dossier_not_yet_delivered_is_not_measured(rules: ClockRules) -> None:
    assert domain.journey(facts_of(accepted(vn(2026, 3, 9)), picked_up(vn(2026, 3, 12))), rules) is None


def test_journey_of_a_result_only_dossier_is_measured_from_filing_in_the_pickup_province(
    rules: ClockRules,
) -> None:
    registered = ev("agency.dossier_registered_for_return", vn(2026, 3, 9), filed_at=vn(2026, 3, 9, 9))
    trip = domain.journey(
        facts_of(
            registered, picked_up(vn(2026, 3, 9, 14)), ev("postal.result_delivered", vn(2026, 3, 9, 17))
        ),
        rules,
    )
    assert trip == domain.Journey(province="ho_chi_minh", days=0, working_days=0)
    nowhere = ev("postal.result_picked_up", vn(2026, 3, 9, 14), post_office_code="999999")
    trip = domain.journey(
        facts_of(registered, nowhere, ev("postal.result_delivered", vn(2026, 3, 10))), rules
    )
    assert trip == domain.Journey(province="unknown", days=1, working_days=1)


# --------------------------------------------------------------------------- on time as the index counts it


def test_a_second_supplement_request_makes_the_agency_clock_late_although_it_finished_early(
    rules: ClockRules,
) -> None:
    # Enterprise registration (3 days) filed Mon 9 Mar 2026. Asked twice for a supplement, each arriving
    # the same morning: the last restart on Thu 12 Mar puts the date on Tue 17 Mar; ready Fri 13 Mar.
    agency = clocks(
        rules,
        received(vn(2026, 3, 9), ENTERPRISE),
        ev("agency.supplement_requested", vn(2026, 3, 10, 9)),
        ev("agency.supplement_received", vn(2026, 3, 11, 9), received_at=vn(2026, 3, 11, 9)),
        ev("agency.supplement_requested", vn(2026, 3, 12, 8)),
        ev("agency.supplement_received", vn(2026, 3, 12, 10), received_at=vn(2026, 3, 12, 10)),
        ev("agency.result_ready", vn(2026, 3, 13, 9)),
    )[Leg.AGENCY_PROCESSING]
    assert (agency.due_date, agency.timeliness) == (D(2026, 3, 17), Timeliness.LATE)


def test_the_applicants_supplement_time_is_not_counted(rules: ClockRules) -> None:
    # Enterprise registration filed Mon 9 Mar 2026 (due Thu 12 Mar); one request on Tue 10 Mar, the
    # supplement arrives three weeks later on Wed 1 Apr: due Mon 6 Apr, ready Fri 3 Apr → early.
    agency = clocks(
        rules,
        received(vn(2026, 3, 9), ENTERPRISE),
        ev("agency.supplement_requested", vn(2026, 3, 10, 9)),
        ev("agency.supplement_received", vn(2026, 4, 1, 9), received_at=vn(2026, 4, 1, 9)),
        ev("agency.result_ready", vn(2026, 4, 3, 9)),
    )[Leg.AGENCY_PROCESSING]
    assert (agency.due_date, agency.timeliness) == (D(2026, 4, 6), Timeliness.EARLY)


def test_a_late_apology_slip_moves_the_announced_date_but_not_the_indexs(rules: ClockRules) -> None:
    # Judicial record filed Mon 2 Feb 2026, due Mon 23 Feb after Tết; a slip issued on the due date
    # itself (breach) promises Fri 27 Feb; ready Thu 26 Feb: late by the index.
    start = received(vn(2026, 2, 2, 9), JUDICIAL_RECORD)

    def slip(issued: datetime, breach: bool) -> Envelope[Event]:
        return ev(
            "agency.delay_notified",
            issued,
            new_due_date=D(2026, 2, 27),
            previous_due_date=D(2026, 2, 23),
            issued_on=issued.date(),
            breach=breach,
        )

    ready = ev("agency.result_ready", vn(2026, 2, 26))
    late_slip = clocks(rules, start, slip(vn(2026, 2, 23), True), ready)[Leg.AGENCY_PROCESSING]
    assert (late_slip.due_date, late_slip.timeliness) == (D(2026, 2, 27), Timeliness.LATE)
    valid_slip = clocks(rules, start, slip(vn(2026, 2, 12), False), ready)[Leg.AGENCY_PROCESSING]
    assert valid_slip.timeliness is Timeliness.EARLY


def test_a_dossier_finished_before_decision_766_is_judged_by_its_due_date_only(rules: ClockRules) -> None:
    # A same-day procedure asked twice for a supplement and ready that day: on time on Wed 22 Jun 2022
    # (Decree 61's due-date formula), late from Thu 23 Jun 2022 (the index).
    def same_day(day: int) -> Clock:
        return clocks(
            rules,
            received(vn(2022, 6, day, 8), BIRTH),
            ev("agency.supplement_requested", vn(2022, 6, day, 8, 30)),
            ev("agency.supplement_received", vn(2022, 6, day, 9), received_at=vn(2022, 6, day, 9)),
            ev("agency.supplement_requested", vn(2022, 6, day, 9, 30)),
            ev("agency.supplement_received", vn(2022, 6, day, 10), received_at=vn(2022, 6, day, 10)),
            ev("agency.result_ready", vn(2022, 6, day, 16)),
        )[Leg.AGENCY_PROCESSING]

    before, after = same_day(22), same_day(23)
    assert (before.due_date, before.timeliness) == (D(2022, 6, 22), Timeliness.ON_TIME)
    assert (after.due_date, after.timeliness) == (D(2022, 6, 23), Timeliness.LATE)


# --------------------------------------------------------------------------- closure


def test_a_closed_dossiers_agency_clock_stops_at_the_closure_without_a_timeliness(rules: ClockRules) -> None:
    # Enterprise registration filed Mon 9 Mar 2026; a supplement asked on Tue 10 Mar never came: closed
    # at 00:00 on Thu 26 Mar, the end of the 15th day after the notice.
    closed_at = vn(2026, 3, 26, 0)
    agency = clocks(
        rules,
        received(vn(2026, 3, 9), ENTERPRISE),
        ev("agency.supplement_requested", vn(2026, 3, 10, 9)),
        ev("agency.dossier_closed", closed_at),
    )[Leg.AGENCY_PROCESSING]

    assert (agency.state, agency.timeliness, agency.finished_at) == (ClockState.CLOSED, None, closed_at)


def test_a_refusal_before_the_closure_cancels_the_clock_and_a_closure_first_closes_it(
    rules: ClockRules,
) -> None:
    start = [received(vn(2026, 3, 9), ENTERPRISE), ev("agency.supplement_requested", vn(2026, 3, 10, 9))]
    refusal = ev("agency.dossier_refused", vn(2026, 3, 20, 9))
    closure = ev("agency.dossier_closed", vn(2026, 3, 26, 0))

    refused_first = clocks(rules, *start, refusal, closure)[Leg.AGENCY_PROCESSING]
    closed_first = clocks(rules, *start, closure, ev("agency.dossier_refused", vn(2026, 3, 27, 9)))
    same_moment = clocks(rules, *start, ev("agency.dossier_refused", vn(2026, 3, 26, 0)), closure)

    assert refused_first.state is ClockState.CANCELLED
    assert closed_first[Leg.AGENCY_PROCESSING].state is ClockState.CLOSED
    assert same_moment[Leg.AGENCY_PROCESSING].state is ClockState.CANCELLED, (
        "a refusal at the same moment wins"
    )


def test_a_supplement_round_and_a_delay_notice_replayed_are_recorded_once() -> None:
    """A fresh consumer group replaying the log onto the same database applies every event again: the
    revisions must not double (the index would count a second supplement request that never was)."""
    requested = ev("agency.supplement_requested", vn(2026, 3, 11))
    arrived = ev("agency.supplement_received", vn(2026, 3, 16), received_at=vn(2026, 3, 16, 9))
    delayed = ev("agency.delay_notified", vn(2026, 3, 20), new_due_date=D(2026, 3, 27), breach=False)
    once = facts_of(received(vn(2026, 3, 9), ENTERPRISE), requested, arrived, delayed)

    replayed = facts_of(
        received(vn(2026, 3, 9), ENTERPRISE), requested, arrived, delayed, requested, arrived, delayed
    )

    assert [r.kind for r in once.revisions] == ["suspend", "restart", "delay"]
    assert replayed.revisions == once.revisions


def test_a_second_supplement_request_at_another_time_is_a_second_revision() -> None:
    facts = facts_of(
        received(vn(2026, 3, 9), ENTERPRISE),
        ev("agency.supplement_requested", vn(2026, 3, 11)),
        ev("agency.supplement_requested", vn(2026, 3, 12)),
    )

    assert [r.kind for r in facts.revisions] == ["suspend", "suspend"]
