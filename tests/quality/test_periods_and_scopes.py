from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.shared.auth import Principal, Role
from services.turnaround.quality.periods import Period, PeriodError, PeriodKind
from services.turnaround.quality.scopes import NATIONAL, Scope, ScopeError, ScopeKind, may_read, own_scope


@pytest.mark.parametrize(
    ("name", "first", "end"),
    [
        ("2026-02", date(2026, 2, 1), date(2026, 3, 1)),
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1)),
        ("2026-Q1", date(2026, 1, 1), date(2026, 4, 1)),
        ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
        ("2025-H2", date(2025, 7, 1), date(2026, 1, 1)),
        ("2026-H1", date(2026, 1, 1), date(2026, 7, 1)),
        ("2026", date(2026, 1, 1), date(2027, 1, 1)),
    ],
)
def test_a_period_named_as_agencies_file_it_spans_its_calendar_days(
    name: str, first: date, end: date
) -> None:
    period = Period.parse(name)
    assert (period.first_day, period.end_day, period.name, str(period)) == (first, end, name, name)


@pytest.mark.parametrize("name", ["2026-13", "2026-00", "2026-Q5", "2026-Q0", "2026-H3", "26", "2026-7", "x"])
def test_a_period_name_out_of_form_or_range_is_refused_with_the_forms_allowed(name: str) -> None:
    with pytest.raises(PeriodError):
        Period.parse(name)


def test_period_end_is_midnight_vietnam_time_so_a_late_evening_utc_belongs_to_the_next_day() -> None:
    q3 = Period.parse("2026-Q3")
    assert q3.ends_at == datetime(2026, 9, 30, 17, 0, tzinfo=UTC)
    assert q3.starts_at == datetime(2026, 6, 30, 17, 0, tzinfo=UTC)


def test_previous_and_next_cross_the_year() -> None:
    assert Period.parse("2026-01").previous() == Period.parse("2025-12")
    assert Period.parse("2025-Q4").next() == Period.parse("2026-Q1")
    assert Period.parse("2026-H1").previous() == Period.parse("2025-H2")
    assert Period.parse("2026").previous() == Period.parse("2025")
    assert [p.name for p in Period.parse("2026-Q2").previous_ones(3)] == ["2026-Q1", "2025-Q4", "2025-Q3"]


def test_the_period_containing_a_day() -> None:
    day = date(2026, 8, 31)
    assert [Period.containing(day, kind).name for kind in PeriodKind] == [
        "2026-08",
        "2026-Q3",
        "2026-H2",
        "2026",
    ]
    assert Period.parse("2026-Q3").contains(date(2026, 9, 30))
    assert not Period.parse("2026-Q3").contains(date(2026, 10, 1))
    assert not Period.parse("2026-Q3").contains(date(2026, 6, 30))


def test_a_period_is_filed_only_once_it_has_ended() -> None:
    q3 = Period.parse("2026-Q3")
    assert not q3.ended_by(date(2026, 9, 30))
    assert q3.ended_by(date(2026, 10, 1))


OPERATOR = Principal("c1", "op", Role.OPERATOR)
AGENCY = Principal("c2", "officer", Role.AGENCY, agency="G01.001")
POST_OFFICE = Principal("c3", "clerk", Role.POST_OFFICE, post_office="100000")


def test_each_unit_reads_only_its_own_scope_and_operators_read_all() -> None:
    agency, office = Scope(ScopeKind.AGENCY, "G01.001"), Scope(ScopeKind.POST_OFFICE, "100000")
    other_agency, province = Scope(ScopeKind.AGENCY, "G01.002"), Scope(ScopeKind.PROVINCE, "HN")
    assert [may_read(OPERATOR, s) for s in (NATIONAL, province, agency, office)] == [True] * 4
    assert [may_read(AGENCY, s) for s in (NATIONAL, province, agency, other_agency, office)] == [
        False,
        False,
        True,
        False,
        False,
    ]
    assert [may_read(POST_OFFICE, s) for s in (NATIONAL, province, agency, office)] == [
        False,
        False,
        False,
        True,
    ]
    assert may_read(POST_OFFICE, Scope(ScopeKind.POST_OFFICE, "100001")) is False


def test_a_caller_naming_no_scope_reads_its_own() -> None:
    assert own_scope(OPERATOR) == NATIONAL
    assert own_scope(AGENCY) == Scope(ScopeKind.AGENCY, "G01.001")
    assert own_scope(POST_OFFICE) == Scope(ScopeKind.POST_OFFICE, "100000")


@pytest.mark.parametrize(
    ("kind", "code"), [("national", "HN"), ("province", ""), ("agency", "a b"), ("city", "HN")]
)
def test_a_scope_without_its_code_or_of_an_unknown_kind_is_refused(kind: str, code: str) -> None:
    with pytest.raises(ScopeError):
        Scope.parse(kind, code)


def test_scope_names() -> None:
    assert Scope.parse("national").name == "national"
    assert Scope.parse("province", "HN").name == "province:HN"


@pytest.mark.parametrize(
    ("year", "kind", "index"),
    [
        (1999, PeriodKind.YEAR, 1),
        (3000, PeriodKind.YEAR, 1),
        (2026, PeriodKind.MONTH, 0),
        (2026, PeriodKind.MONTH, 13),
        (2026, PeriodKind.QUARTER, 5),
        (2026, PeriodKind.HALF_YEAR, 3),
        (2026, PeriodKind.YEAR, 2),
    ],
)
def test_a_period_out_of_range_cannot_be_made(year: int, kind: PeriodKind, index: int) -> None:
    with pytest.raises(PeriodError, match=r"outside 2000–2999|does not exist"):
        Period(year, kind, index)


@pytest.mark.parametrize(
    ("year", "kind", "index"),
    [
        (2000, PeriodKind.YEAR, 1),
        (2999, PeriodKind.YEAR, 1),
        (2026, PeriodKind.MONTH, 1),
        (2026, PeriodKind.MONTH, 12),
        (2026, PeriodKind.QUARTER, 4),
        (2026, PeriodKind.HALF_YEAR, 2),
    ],
)
def test_the_first_and_last_periods_of_the_range_exist(year: int, kind: PeriodKind, index: int) -> None:
    assert Period(year, kind, index).index == index


def test_the_refusal_of_a_malformed_name_shows_the_four_forms() -> None:
    with pytest.raises(PeriodError) as refused:
        Period.parse("2026/7")
    assert str(refused.value) == (
        "period '2026/7' is not a month (2026-07), quarter (2026-Q3), half-year (2026-H2) or year (2026)"
    )


def test_a_period_contains_its_first_day_and_the_next_starts_after_its_last() -> None:
    q3 = Period.parse("2026-Q3")
    assert q3.contains(date(2026, 7, 1))
    assert Period.parse("2026-11").next() == Period.parse("2026-12")
    assert Period.parse("2026-Q3").next() == Period.parse("2026-Q4")
    assert Period.parse("2026-H1").next() == Period.parse("2026-H2")
    assert Period.parse("2026").next() == Period.parse("2027")


def test_a_scope_is_decided_by_the_caller_s_role_not_by_codes_its_credential_carries_besides() -> None:
    office_with_agency = Principal("c4", "clerk", Role.POST_OFFICE, post_office="100000", agency="G01.001")
    operator_with_codes = Principal("c5", "op", Role.OPERATOR, post_office="100000", agency="G01.001")

    assert own_scope(office_with_agency) == Scope(ScopeKind.POST_OFFICE, "100000")
    assert own_scope(operator_with_codes) == NATIONAL


@pytest.mark.parametrize(
    ("kind", "code", "reason"),
    [
        ("national", "HN", "the national scope has no code"),
        ("agency", "", "the agency scope needs a code of 1–32 letters, digits, '.', '_' or '-'"),
        ("city", "HN", "scope 'city' is not one of national, province, agency, post_office"),
    ],
)
def test_a_refused_scope_says_why(kind: str, code: str, reason: str) -> None:
    with pytest.raises(ScopeError) as refused:
        Scope.parse(kind, code)
    assert str(refused.value) == reason
