"""Working days and the agency clock, on real dates.

Facts checked against holidays 0.109 and the announcements: Tết 2026 (Ministry of Home Affairs, October
2025: off 14–22 Feb), National Day 2026 (off 29 Aug–2 Sep, Saturday 22 Aug worked for Monday 31 Aug),
the 2025 swap (Friday 2 May off, Saturday 26 April worked), New Year 2026 (Official Dispatch
12729/VPCP-KGVX: Friday 2 Jan off, Saturday 10 Jan worked — not in the package, so in the override file).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from pydantic import ValidationError

from services.shared import calendar as calendar_module
from services.shared.calendar import (
    VN_TZ,
    CalendarError,
    CalendarOverride,
    CalendarOverrides,
    WorkingCalendar,
    agency_due_at,
    agency_due_date,
    load_calendar,
    load_overrides,
)
from services.shared.catalog import Target

D = date


# A fresh calendar per test: each test then builds the year tables it reads instead of relying on
# another test's cache, so it checks the whole rule (and mutation testing, which runs only the tests
# that call a function, runs it against the year-table code too).


@pytest.fixture
def plain() -> WorkingCalendar:
    """The holidays package alone, no override file."""
    return WorkingCalendar()


@pytest.fixture
def seeded() -> WorkingCalendar:
    """With the repository's override file."""
    return load_calendar()


def vn(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


# --------------------------------------------------------------------------- which days are worked


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        # Tết Bính Ngọ 2026: the five weekdays 16–20 Feb are off; the weeks around are worked.
        (D(2026, 2, 13), True, "Friday before Tết 2026"),
        (D(2026, 2, 16), False, "Tết 2026, Monday (29 Tết)"),
        (D(2026, 2, 17), False, "Tết 2026, New Year's Day"),
        (D(2026, 2, 18), False, "Tết 2026"),
        (D(2026, 2, 19), False, "Tết 2026"),
        (D(2026, 2, 20), False, "Tết 2026, Friday"),
        (D(2026, 2, 23), True, "Monday after Tết 2026"),
        # Tết Đinh Mùi 2027 as the package computes it (Lunar New Year on Saturday 6 Feb; the
        # weekend days are made up on Monday–Wednesday). Not yet announced when this was written.
        (D(2027, 2, 3), True, "Wednesday before Tết 2027"),
        (D(2027, 2, 4), False, "Tết 2027, 29 Tết"),
        (D(2027, 2, 5), False, "Tết 2027, New Year's Eve"),
        (D(2027, 2, 8), False, "Tết 2027, observed"),
        (D(2027, 2, 9), False, "Tết 2027, observed"),
        (D(2027, 2, 10), False, "Tết 2027, observed"),
        (D(2027, 2, 11), True, "Thursday after Tết 2027"),
        # Hùng Kings 2026 falls on Sunday 26 April and is observed on Monday 27 April.
        (D(2026, 4, 26), False, "Hùng Kings 2026, a Sunday"),
        (D(2026, 4, 27), False, "Hùng Kings 2026 observed"),
        (D(2026, 4, 28), True, "ordinary Tuesday"),
        (D(2026, 4, 30), False, "Reunification Day 2026"),
        (D(2026, 5, 1), False, "Labour Day 2026"),
        # National Day: 2 September plus an adjacent day.
        (D(2025, 9, 1), False, "National Day 2025, adjacent Monday"),
        (D(2025, 9, 2), False, "National Day 2025"),
        (D(2025, 9, 3), True, "Wednesday after National Day 2025"),
        (D(2026, 8, 22), True, "Saturday worked in exchange for 31 Aug 2026"),
        (D(2026, 8, 31), False, "Monday 31 Aug 2026, swapped"),
        (D(2026, 9, 1), False, "National Day 2026, adjacent day"),
        (D(2026, 9, 2), False, "National Day 2026"),
        (D(2026, 9, 3), True, "Thursday after National Day 2026"),
        # The 2025 swap: Friday 2 May off, Saturday 26 April worked.
        (D(2025, 4, 26), True, "make-up Saturday 2025"),
        (D(2025, 5, 2), False, "Friday 2 May 2025, swapped"),
        # An ordinary week.
        (D(2026, 3, 6), True, "Friday"),
        (D(2026, 3, 7), False, "Saturday"),
        (D(2026, 3, 8), False, "Sunday"),
        (D(2026, 3, 9), True, "Monday"),
    ],
)
def test_working_days_follow_the_holidays_package(
    plain: WorkingCalendar, day: date, working: bool, why: str
) -> None:
    assert plain.is_working_day(day) is working, why


def test_repository_override_file_adds_the_new_year_2026_swap(
    plain: WorkingCalendar, seeded: WorkingCalendar
) -> None:
    # Not known to holidays 0.109: Friday 2 Jan 2026 off, Saturday 10 Jan worked.
    assert plain.is_working_day(D(2026, 1, 2)) and not plain.is_working_day(D(2026, 1, 10))
    assert not seeded.is_working_day(D(2026, 1, 2))
    assert seeded.is_working_day(D(2026, 1, 10))


def test_override_file_days_off_and_make_up_days_win_over_the_package(tmp_path: Path) -> None:
    file = tmp_path / "overrides.yaml"
    file.write_text(
        "days_off:\n"
        "  - date: 2027-04-26\n"
        "    reason: Announcement 1/TB-BNV (test)\n"
        "working_days:\n"
        "  - date: '2027-05-01'\n"  # quoted dates are accepted too
        "    reason: Announcement 1/TB-BNV (test)\n"
        "  - date: 2027-05-03\n"
        "    reason: observed Labour Day not enacted (test)\n",
        encoding="utf-8",
    )
    calendar = load_calendar(file)
    assert not calendar.is_working_day(D(2027, 4, 26))  # an ordinary Monday made a day off
    assert calendar.is_working_day(D(2027, 5, 1))  # a Saturday holiday made a working day
    assert calendar.is_working_day(D(2027, 5, 3))  # a holiday of the package cancelled
    assert calendar.next_working_day(D(2027, 4, 23)) == D(2027, 4, 27)


def test_calendar_override_file_is_found_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "elsewhere.yaml"
    file.write_text("days_off:\n  - {date: 2026-03-09, reason: test}\n", encoding="utf-8")
    monkeypatch.setenv("DOSSIER_CALENDAR_OVERRIDES", str(file))
    assert not load_calendar().is_working_day(D(2026, 3, 9))


def test_default_override_file_is_found_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOSSIER_CALENDAR_OVERRIDES", raising=False)
    monkeypatch.chdir(tmp_path)
    assert D(2026, 1, 2) in {o.date for o in load_overrides().days_off}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("days_off:\n  - {date: 2026-01-02}\n", "days_off[0] (2026-01-02).reason: required field is missing"),
        ("days_off:\n  - {date: 2026-01-02, reason: '  '}\n", "days_off[0] (2026-01-02).reason: must cite"),
        (
            "days_off:\n  - {date: 20260102, reason: x}\n",
            "days_off[0] (20260102).date: must be a date in the form YYYY-MM-DD",
        ),
        ("days_off:\n  - {date: 2026-02-30, reason: x}\n", "(2026-02-30).date: '2026-02-30' is not a valid"),
        ("days_off:\n  - {date: 2026-01-02, reason: x, hours: 4}\n", "(2026-01-02).hours: unknown key"),
        (
            "holidays:\n  - {date: 2026-01-02, reason: x}\n",
            "holidays: unknown key (expected days_off or working_days)",
        ),
        ("- {date: 2026-01-02, reason: x}\n", "top level must be a mapping with keys days_off, working_days"),
        # A colon forgotten after "date": the entry is text, not a mapping.
        ("days_off:\n  - date 2026-01-02\n", "days_off[0]: Input should be a valid dictionary"),
        ("days_off: {date: 2026-01-02}\n", "days_off: must be a list"),
        (
            "days_off:\n  - {date: 2026-01-02, reason: x}\n"
            "working_days:\n  - {date: 2026-01-02, reason: y}\n",
            "working_days[0] (2026-01-02).date: 2026-01-02 is already listed in days_off[0]",
        ),
        (
            "days_off:\n  - {date: 2026-01-02, reason: x}\n  - {date: 2026-01-02, reason: y}\n",
            "days_off[1] (2026-01-02).date: 2026-01-02 is already listed in days_off[0]",
        ),
        ("days_off: [\n", "not valid YAML"),
    ],
)
def test_malformed_override_file_is_refused_naming_the_entry(
    tmp_path: Path, content: str, message: str
) -> None:
    file = tmp_path / "overrides.yaml"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(CalendarError) as refused:
        load_calendar(file)
    assert str(refused.value).startswith(f"{file}: ")
    assert message in str(refused.value)


def test_every_problem_of_the_override_file_is_reported_in_one_refusal(tmp_path: Path) -> None:
    # The operator fixes the whole file in one go instead of discovering one mistake per restart.
    file = tmp_path / "overrides.yaml"
    file.write_text(
        "days_off:\n"
        "  - {date: 2026-01-02}\n"
        "  - {date: 2026-01-05, reason: x}\n"
        "  - {date: 2026-01-05, reason: x}\n"
        "  - {date: 2026-02-30, reason: x}\n"
        "working_days: {date: 2026-01-10}\n",
        encoding="utf-8",
    )
    with pytest.raises(CalendarError) as refused:
        load_calendar(file)
    assert str(refused.value) == (
        f"{file}: days_off[0] (2026-01-02).reason: required field is missing; "
        "days_off[2] (2026-01-05).date: 2026-01-05 is already listed in days_off[1]; "
        "days_off[3] (2026-02-30).date: '2026-02-30' is not a valid date in the form YYYY-MM-DD; "
        "working_days: must be a list of {date, reason} entries"
    )


def test_a_list_that_is_not_a_list_does_not_hide_the_next_one(tmp_path: Path) -> None:
    file = tmp_path / "overrides.yaml"
    file.write_text("days_off: {date: 2026-01-02}\nworking_days:\n  - {date: 2026-01-10}\n", encoding="utf-8")
    with pytest.raises(CalendarError) as refused:
        load_calendar(file)
    assert str(refused.value).endswith(
        "days_off: must be a list of {date, reason} entries; "
        "working_days[0] (2026-01-10).reason: required field is missing"
    )


def test_an_override_given_a_date_and_time_is_refused_not_truncated() -> None:
    with pytest.raises(ValidationError) as refused:
        CalendarOverride(date=datetime(2026, 1, 2, 8, 0), reason="test")
    assert refused.value.errors()[0]["msg"] == "Value error, must be a date (YYYY-MM-DD), not a date and time"


def test_missing_override_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="cannot read"):
        load_calendar(tmp_path / "absent.yaml")


def test_empty_override_file_means_no_overrides(tmp_path: Path) -> None:
    file = tmp_path / "overrides.yaml"
    file.write_text("# nothing announced\n", encoding="utf-8")
    assert load_overrides(file) == CalendarOverrides()


# --------------------------------------------------------------------------- counting


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (D(2026, 3, 9), 1, D(2026, 3, 10)),  # the start day is not counted
        (D(2026, 3, 13), 1, D(2026, 3, 16)),  # Friday + 1 = Monday
        (D(2026, 3, 14), 1, D(2026, 3, 16)),  # from a Saturday, Monday is the first counted day
        (D(2026, 2, 12), 1, D(2026, 2, 13)),
        (D(2026, 2, 12), 2, D(2026, 2, 23)),  # across Tết 2026
        (D(2026, 2, 12), 3, D(2026, 2, 24)),
        (D(2026, 2, 13), 8, D(2026, 3, 4)),  # a passport filed the Friday before Tết
        (D(2026, 4, 24), 1, D(2026, 4, 28)),  # over Hùng Kings observed
        (D(2026, 4, 29), 1, D(2026, 5, 4)),  # over 30/4 and 1/5
        (D(2025, 4, 25), 1, D(2025, 4, 26)),  # the make-up Saturday counts
        (D(2025, 12, 31), 2, D(2026, 1, 5)),  # across the year end, package only
        (D(2026, 3, 9), 0, D(2026, 3, 9)),
        (D(2026, 3, 14), 0, D(2026, 3, 14)),  # n = 0 returns d itself, even a Saturday
        (D(2026, 2, 23), -1, D(2026, 2, 13)),  # negative n counts backwards
        (D(2026, 1, 2), -2, D(2025, 12, 30)),
    ],
)
def test_add_working_days_counts_from_the_day_after(
    plain: WorkingCalendar, start: date, n: int, expected: date
) -> None:
    assert plain.add_working_days(start, n) == expected


def test_add_working_days_uses_the_override_file(seeded: WorkingCalendar) -> None:
    # 1 Jan holiday, 2 Jan swapped off, 3–4 Jan weekend.
    assert seeded.add_working_days(D(2025, 12, 31), 1) == D(2026, 1, 5)


def test_next_and_previous_working_day_skip_tet(plain: WorkingCalendar) -> None:
    assert plain.next_working_day(D(2026, 2, 13)) == D(2026, 2, 23)
    assert plain.previous_working_day(D(2026, 2, 23)) == D(2026, 2, 13)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (D(2026, 3, 9), D(2026, 3, 9), 0),
        (D(2026, 3, 9), D(2026, 3, 16), 5),  # Monday to Monday
        (D(2026, 3, 13), D(2026, 3, 15), 0),  # Friday to Sunday: the weekend is not worked
        (D(2026, 2, 13), D(2026, 2, 23), 1),  # across Tết
        (D(2026, 2, 23), D(2026, 2, 13), -1),  # end before start: negative
        (D(2026, 2, 14), D(2026, 2, 22), 0),  # the whole Tết break
        (D(2025, 12, 31), D(2026, 1, 6), 3),  # 2, 5 and 6 January, across the year end
    ],
)
def test_working_days_between_counts_days_after_start_up_to_end(
    plain: WorkingCalendar, start: date, end: date, expected: int
) -> None:
    assert plain.working_days_between(start, end) == expected


def test_working_days_between_matches_counting_day_by_day_over_years(plain: WorkingCalendar) -> None:
    start, end = D(2024, 12, 15), D(2027, 1, 10)
    by_hand = sum(plain.is_working_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))
    assert plain.working_days_between(start, end) == by_hand


def test_working_days_between_undoes_add_working_days(plain: WorkingCalendar) -> None:
    start = D(2025, 12, 20)
    for offset in range(0, 80):
        day = start + timedelta(days=offset)
        for n in (0, 1, 2, 3, 8, 10, 30):
            assert plain.working_days_between(day, plain.add_working_days(day, n)) == n, (day, n)


# --------------------------------------------------------------------------- filing day and cut-off


@pytest.mark.parametrize(
    ("filed_at", "cutoff", "expected"),
    [
        (vn(2026, 3, 10, 14, 59), time(15), D(2026, 3, 10)),
        (vn(2026, 3, 10, 15, 0), time(15), D(2026, 3, 11)),  # at the cut-off: next working day
        (vn(2026, 3, 10, 16, 0), time(15), D(2026, 3, 11)),
        (vn(2026, 3, 10, 7, 0), time(15), D(2026, 3, 10)),  # before opening still counts that day
        (vn(2026, 3, 13, 16, 0), time(15), D(2026, 3, 16)),  # Friday afternoon: Monday
        (vn(2026, 3, 14, 9, 0), time(15), D(2026, 3, 16)),  # Saturday: Monday
        (vn(2026, 2, 13, 15, 30), time(15), D(2026, 2, 23)),  # Friday before Tết, late
        (vn(2026, 2, 18, 9, 0), time(15), D(2026, 2, 23)),  # during Tết
        (vn(2026, 3, 10, 16, 0), None, D(2026, 3, 10)),  # no cut-off
        (vn(2026, 3, 14, 9, 0), None, D(2026, 3, 16)),  # no cut-off, still not on a Saturday
        (vn(2026, 3, 10, 16, 30), time(17), D(2026, 3, 10)),  # a configured later cut-off
        # UTC input is converted to Vietnam time (UTC+7).
        (datetime(2026, 3, 10, 7, 59, tzinfo=UTC), time(15), D(2026, 3, 10)),
        (datetime(2026, 3, 10, 8, 0, tzinfo=UTC), time(15), D(2026, 3, 11)),
        (datetime(2026, 3, 9, 23, 30, tzinfo=UTC), time(15), D(2026, 3, 10)),  # already Tuesday in VN
        (datetime(2026, 3, 13, 17, 30, tzinfo=UTC), time(15), D(2026, 3, 16)),  # Saturday 00:30 in VN
    ],
)
def test_filing_day_applies_the_cutoff_in_vietnam_time(
    plain: WorkingCalendar, filed_at: datetime, cutoff: time | None, expected: date
) -> None:
    assert plain.filing_day(filed_at, cutoff) == expected


def test_filing_day_default_cutoff_is_three_pm(plain: WorkingCalendar) -> None:
    assert plain.filing_day(vn(2026, 3, 10, 15, 0)) == D(2026, 3, 11)


def test_filing_day_refuses_a_naive_datetime(plain: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        plain.filing_day(datetime(2026, 3, 10, 10, 0))


# --------------------------------------------------------------------------- agency due dates

PASSPORT = Target(kind="working_days", working_days=8)
ENTERPRISE = Target(kind="working_days", working_days=3)
JUDICIAL_RECORD = Target(kind="working_days", working_days=10)
SAME_DAY = Target(kind="same_day")
HALF_DAY = Target(kind="hours", hours=4)


@pytest.mark.parametrize(
    ("filed_at", "target", "expected"),
    [
        (vn(2026, 2, 13, 10), PASSPORT, D(2026, 3, 4)),  # 8 working days across Tết
        (vn(2026, 2, 13, 15, 30), PASSPORT, D(2026, 3, 5)),  # after the cut-off: from 23 Feb
        (vn(2026, 3, 13, 14), ENTERPRISE, D(2026, 3, 18)),
        (vn(2026, 3, 13, 16), ENTERPRISE, D(2026, 3, 19)),  # Friday afternoon: from Monday
        (vn(2026, 4, 20, 9), JUDICIAL_RECORD, D(2026, 5, 7)),  # over 27/4, 30/4 and 1/5
        (vn(2026, 3, 10, 10), SAME_DAY, D(2026, 3, 10)),
        (vn(2026, 3, 10, 15, 30), SAME_DAY, D(2026, 3, 11)),
        (vn(2026, 3, 14, 10), SAME_DAY, D(2026, 3, 16)),
        (vn(2026, 3, 10, 14), HALF_DAY, D(2026, 3, 11)),
    ],
)
def test_agency_due_date_counts_the_target_from_the_filing_day(
    plain: WorkingCalendar, filed_at: datetime, target: Target, expected: date
) -> None:
    assert agency_due_date(filed_at, target, plain) == expected


def test_agency_due_date_without_cutoff_counts_from_the_filing_date(plain: WorkingCalendar) -> None:
    assert agency_due_date(vn(2026, 3, 13, 16), ENTERPRISE, plain, cutoff=None) == D(2026, 3, 18)


@pytest.mark.parametrize(
    ("filed_at", "cutoff", "expected"),
    [
        (vn(2026, 3, 10, 10), time(15), vn(2026, 3, 10, 14)),
        (vn(2026, 3, 10, 13), time(15), vn(2026, 3, 10, 17)),  # runs out exactly at closing
        (vn(2026, 3, 10, 14), time(15), vn(2026, 3, 11, 9)),  # 3 h today, 1 h tomorrow
        (vn(2026, 3, 10, 7), time(15), vn(2026, 3, 10, 12)),  # before opening: from 08:00
        (vn(2026, 3, 10, 15, 30), time(15), vn(2026, 3, 11, 12)),  # after the cut-off: from 08:00
        (vn(2026, 3, 14, 10), time(15), vn(2026, 3, 16, 12)),  # Saturday: from Monday 08:00
        (vn(2026, 2, 13, 16), time(15), vn(2026, 2, 23, 12)),  # Friday before Tết
        (vn(2026, 3, 10, 16), None, vn(2026, 3, 11, 11)),  # no cut-off: 1 h today, 3 h tomorrow
        (vn(2026, 3, 10, 18), None, vn(2026, 3, 11, 12)),  # no cut-off, after closing
        (vn(2026, 3, 13, 16), None, vn(2026, 3, 16, 11)),  # Friday 16:00 to Monday
    ],
)
def test_hours_targets_count_office_hours_of_working_days(
    plain: WorkingCalendar, filed_at: datetime, cutoff: time | None, expected: datetime
) -> None:
    assert agency_due_at(filed_at, HALF_DAY, plain, cutoff) == expected


def test_hours_targets_longer_than_a_day_run_over_several_days(plain: WorkingCalendar) -> None:
    # 24 office hours from Friday 13 Feb 2026 10:00: 7 h on Friday, 9 h on 23 Feb, 8 h on 24 Feb.
    due = agency_due_at(vn(2026, 2, 13, 10), Target(kind="hours", hours=24), plain)
    assert due == vn(2026, 2, 24, 16)


def test_day_targets_end_at_midnight_of_the_due_date(plain: WorkingCalendar) -> None:
    due = agency_due_at(vn(2026, 3, 13, 14), ENTERPRISE, plain)
    assert due == datetime(2026, 3, 19, 0, 0, tzinfo=VN_TZ)
    assert due.utcoffset() == timedelta(hours=7)


def test_agency_due_date_accepts_utc_filing_times(plain: WorkingCalendar) -> None:
    # 08:30 UTC is 15:30 in Vietnam: after the cut-off.
    filed = datetime(2026, 3, 13, 8, 30, tzinfo=UTC)
    assert agency_due_date(filed, ENTERPRISE, plain) == D(2026, 3, 19)


def test_overrides_built_in_code_behave_like_the_file() -> None:
    calendar = WorkingCalendar(
        CalendarOverrides(days_off=(CalendarOverride(date=D(2026, 3, 10), reason="test"),))
    )
    assert calendar.add_working_days(D(2026, 3, 9), 1) == D(2026, 3, 11)


def test_counting_back_lands_on_the_first_working_day_of_the_year(
    plain: WorkingCalendar, seeded: WorkingCalendar
) -> None:
    # A clock due on the second working day of a year is due soon from the first one.
    assert plain.previous_working_day(D(2026, 1, 5)) == D(2026, 1, 2)
    assert seeded.previous_working_day(D(2026, 1, 6)) == D(2026, 1, 5)  # 2 Jan swapped off
    assert plain.add_working_days(D(2026, 1, 6), -2) == D(2026, 1, 2)


def test_zero_working_day_target_is_due_on_the_filing_day(plain: WorkingCalendar) -> None:
    zero = Target(kind="working_days", working_days=0)
    assert agency_due_date(vn(2026, 3, 10, 10), zero, plain) == D(2026, 3, 10)
    assert agency_due_date(vn(2026, 3, 10, 15, 30), zero, plain) == D(2026, 3, 11)


ONE_HOUR = Target(kind="hours", hours=1)


def test_hour_target_filed_after_the_cutoff_is_due_the_next_working_day(plain: WorkingCalendar) -> None:
    assert agency_due_date(vn(2026, 3, 10, 15, 30), ONE_HOUR, plain) == D(2026, 3, 11)
    assert agency_due_date(vn(2026, 3, 10, 15, 30), ONE_HOUR, plain, cutoff=time(16)) == D(2026, 3, 10)
    # Without a cut-off (online filing) the hour runs out the same afternoon.
    assert agency_due_date(vn(2026, 3, 10, 15, 30), ONE_HOUR, plain, cutoff=None) == D(2026, 3, 10)


def test_day_target_instant_follows_the_cutoff_of_its_date(plain: WorkingCalendar) -> None:
    # Friday 16:00: after the cut-off the 3 working days count from Monday; without one, from Friday.
    assert agency_due_at(vn(2026, 3, 13, 16), ENTERPRISE, plain) == vn(2026, 3, 20, 0)
    assert agency_due_at(vn(2026, 3, 13, 16), ENTERPRISE, plain, cutoff=None) == vn(2026, 3, 19, 0)


def test_vietnam_time_is_the_tz_database_zone() -> None:
    assert calendar_module._vietnam_tz() == ZoneInfo("Asia/Ho_Chi_Minh")


def test_vietnam_time_without_a_tz_database_is_utc_plus_seven(monkeypatch: pytest.MonkeyPatch) -> None:
    # Slim images may lack the tz database; times must still be read and written in Vietnam time.
    def no_database(key: str) -> ZoneInfo:
        raise ZoneInfoNotFoundError(key)

    monkeypatch.setattr(calendar_module, "ZoneInfo", no_database)
    zone = calendar_module._vietnam_tz()
    moment = datetime(2026, 3, 10, 3, 0, tzinfo=UTC).astimezone(zone)
    assert moment.isoformat() == "2026-03-10T10:00:00+07:00"
    assert moment.tzname() == "Asia/Ho_Chi_Minh"
