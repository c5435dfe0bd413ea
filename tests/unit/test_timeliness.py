"""The agency clock's timeliness as the service-quality index counts it, on real dates and the
repository's rule files: Decree 61/2018's due-date formula until Decision 766/QĐ-TTg took effect on
23/6/2022, the index from then on (through Decree 118/2025 from 1/7/2025).

Calendar facts: Tết 2026 takes Mon 16 – Fri 20 Feb off; a 10-working-day dossier filed Mon 2 Feb 2026 is
due Mon 23 Feb.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.shared.calendar import VN_TZ
from services.shared.legal_rules import OnTime, load_legal_rules
from services.shared.timeliness import (
    SCORES,
    AgencyProcessing,
    ApologySlip,
    Timeliness,
    against,
    agency_timeliness,
    appointment,
    formula_on,
    judge,
)
from tests.fixtures.legal_rules import rules_with

D = date
LEGAL = load_legal_rules()


def vn(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=VN_TZ)


def done(
    finished: datetime,
    due: date,
    requests: int = 0,
    apology: ApologySlip | None = None,
) -> AgencyProcessing:
    return AgencyProcessing(
        finished_at=finished, appointment_date=due, apology=apology, supplement_requests=requests
    )


def test_official_statistics_grade_early_on_time_and_late_two_one_and_zero() -> None:
    assert SCORES == {Timeliness.EARLY: 2, Timeliness.ON_TIME: 1, Timeliness.LATE: 0}


def test_a_clock_is_early_before_on_time_on_and_late_after_its_due_date() -> None:
    assert against(D(2026, 2, 13), D(2026, 2, 23)) is Timeliness.EARLY
    assert against(D(2026, 2, 23), D(2026, 2, 23)) is Timeliness.ON_TIME
    assert against(D(2026, 2, 24), D(2026, 2, 23)) is Timeliness.LATE


def test_a_second_supplement_request_makes_a_dossier_late_although_it_finished_before_its_date() -> None:
    # Filed Mon 2 Feb 2026 (due Mon 23 Feb after Tết), ready Fri 13 Feb, the eve of Tết: early by the
    # dates, late by the index because the desk asked for a supplement twice.
    assert agency_timeliness(done(vn(2026, 2, 13), D(2026, 2, 23), requests=1), LEGAL) is Timeliness.EARLY
    assert agency_timeliness(done(vn(2026, 2, 13), D(2026, 2, 23), requests=2), LEGAL) is Timeliness.LATE
    assert agency_timeliness(done(vn(2026, 2, 13), D(2026, 2, 23), requests=3), LEGAL) is Timeliness.LATE


def test_a_dossier_ready_on_its_appointment_date_is_on_time_until_midnight_vietnam_time() -> None:
    assert agency_timeliness(done(vn(2026, 2, 23, 23), D(2026, 2, 23)), LEGAL) is Timeliness.ON_TIME
    # 17:30 UTC on 23 Feb is 00:30 on 24 Feb in Vietnam: the day after the appointment.
    late = datetime(2026, 2, 23, 17, 30, tzinfo=UTC)
    assert agency_timeliness(done(late, D(2026, 2, 23)), LEGAL) is Timeliness.LATE


def test_a_valid_apology_slip_moves_the_appointment_once() -> None:
    slip = ApologySlip(new_date=D(2026, 2, 27), valid=True)
    assert agency_timeliness(done(vn(2026, 2, 26), D(2026, 2, 23), apology=slip), LEGAL) is Timeliness.EARLY
    assert agency_timeliness(done(vn(2026, 2, 27), D(2026, 2, 23), apology=slip), LEGAL) is Timeliness.ON_TIME
    assert agency_timeliness(done(vn(2026, 3, 2), D(2026, 2, 23), apology=slip), LEGAL) is Timeliness.LATE


def test_a_late_apology_slip_does_not_excuse_the_delay_under_the_index() -> None:
    # Issued on the due date itself (breach): the index judges against the receipt slip's date.
    slip = ApologySlip(new_date=D(2026, 2, 27), valid=False)
    assert agency_timeliness(done(vn(2026, 2, 26), D(2026, 2, 23), apology=slip), LEGAL) is Timeliness.LATE
    assert agency_timeliness(done(vn(2026, 2, 23), D(2026, 2, 23), apology=slip), LEGAL) is Timeliness.ON_TIME


def test_before_decision_766_the_due_date_formula_applies_and_after_it_the_index() -> None:
    # Decree 61/2018 as amended: the due-date formula until Wed 22 Jun 2022, the index from Thu 23 Jun.
    # Two supplement requests and a late apology slip: neither counted by the old formula.
    slip = ApologySlip(new_date=D(2022, 6, 24), valid=False)
    before = done(vn(2022, 6, 22), D(2022, 6, 21), requests=2, apology=slip)
    assert formula_on(D(2022, 6, 22), LEGAL) == OnTime("due_date")
    assert agency_timeliness(before, LEGAL) is Timeliness.EARLY
    after = done(vn(2022, 6, 23), D(2022, 6, 21), requests=2, apology=slip)
    assert formula_on(D(2022, 6, 23), LEGAL) == OnTime("index_766", 1)
    assert agency_timeliness(after, LEGAL) is Timeliness.LATE
    one_request = done(vn(2022, 6, 23), D(2022, 6, 21), requests=1, apology=slip)
    assert agency_timeliness(one_request, LEGAL) is Timeliness.LATE, "the late slip does not move the date"


def test_the_rule_set_in_force_on_the_day_processing_ended_judges_the_dossier() -> None:
    # Filed on Mon 20 Jun 2022 under the due-date formula, ready on Fri 24 Jun under the index.
    filed_under_old_finished_under_index = done(vn(2022, 6, 24), D(2022, 6, 30), requests=2)
    assert agency_timeliness(filed_under_old_finished_under_index, LEGAL) is Timeliness.LATE


def test_dossiers_finished_on_30_june_and_1_july_2025_are_judged_by_their_own_rule_sets() -> None:
    assert LEGAL.on(D(2025, 6, 30)).rule_set == "decree_61_2018"
    assert LEGAL.on(D(2025, 7, 1)).rule_set == "decree_118_2025"
    # Both instruments are scored by the index (Decree 61 since its Decision 766 amendment).
    assert formula_on(D(2025, 6, 30), LEGAL) == formula_on(D(2025, 7, 1), LEGAL) == OnTime("index_766", 1)
    assert agency_timeliness(done(vn(2025, 6, 30), D(2025, 7, 10), 2), LEGAL) is Timeliness.LATE
    assert agency_timeliness(done(vn(2025, 7, 1), D(2025, 7, 10), 1), LEGAL) is Timeliness.EARLY


def test_a_day_before_the_first_rule_set_is_judged_against_the_due_date() -> None:
    # Decree 61/2018 took effect on 21 Jun 2018.
    assert formula_on(D(2018, 6, 20), LEGAL) == OnTime("due_date")
    assert agency_timeliness(done(vn(2018, 6, 20), D(2018, 6, 22), 2), LEGAL) is Timeliness.EARLY


def test_the_index_counts_the_requests_above_the_rule_sets_limit() -> None:
    two_allowed = rules_with(on_time_formula={"formula": "index_766", "late_above_supplement_requests": 2})
    assert agency_timeliness(done(vn(2026, 2, 13), D(2026, 2, 23), 2), two_allowed) is Timeliness.EARLY
    assert agency_timeliness(done(vn(2026, 2, 13), D(2026, 2, 23), 3), two_allowed) is Timeliness.LATE
    none_allowed = rules_with(on_time_formula={"formula": "index_766", "late_above_supplement_requests": 0})
    assert agency_timeliness(done(vn(2026, 2, 13), D(2026, 2, 23), 0), none_allowed) is Timeliness.EARLY
    assert agency_timeliness(done(vn(2026, 2, 13), D(2026, 2, 23), 1), none_allowed) is Timeliness.LATE


def test_the_due_date_formula_ignores_a_request_limit_and_takes_any_first_slip() -> None:
    formula = OnTime("due_date", late_above_supplement_requests=0)
    late_slip = ApologySlip(new_date=D(2026, 2, 27), valid=False)
    assert judge(done(vn(2026, 2, 27), D(2026, 2, 23), 5, late_slip), formula) is Timeliness.ON_TIME
    assert appointment(done(vn(2026, 2, 27), D(2026, 2, 23), 0, late_slip), formula) == D(2026, 2, 27)
    assert appointment(done(vn(2026, 2, 27), D(2026, 2, 23), 0, None), formula) == D(2026, 2, 23)


@pytest.mark.parametrize("valid", [True, False])
def test_the_index_without_a_slip_judges_against_the_appointment(valid: bool) -> None:
    index = OnTime("index_766", 1)
    slip = ApologySlip(new_date=D(2026, 2, 27), valid=valid)
    assert appointment(done(vn(2026, 2, 27), D(2026, 2, 23)), index) == D(2026, 2, 23)
    moved = appointment(done(vn(2026, 2, 27), D(2026, 2, 23), apology=slip), index)
    assert moved == (D(2026, 2, 27) if valid else D(2026, 2, 23))
