"""Postal leg limits J+n on real dates, route classification and the configurable table."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.shared.calendar import WorkingCalendar, load_calendar
from services.shared.postal_limits import (
    RouteClass,
    RouteLimits,
    RouteLimitsError,
    classify_route,
    load_route_limits,
    parse_route_limits,
    postal_leg_due,
)

D = date


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return load_calendar()


@pytest.fixture(scope="module")
def limits() -> RouteLimits:
    return load_route_limits()


def test_seed_table_has_the_circular_limits(limits: RouteLimits) -> None:
    assert limits.days(RouteClass.SAME_COMMUNE) == 1
    assert limits.days(RouteClass.SAME_PROVINCE) == 2
    assert limits.days(RouteClass.BETWEEN_SPECIAL_CITIES) == 3
    assert limits.days(RouteClass.INTER_PROVINCIAL) == 4
    assert limits.days(RouteClass.INTER_PROVINCIAL, carries_appointment_slip=True) == 8
    assert {c.province for c in limits.special_cities} == {
        "Hà Nội",
        "Hồ Chí Minh",
        "Hải Phòng",
        "Đà Nẵng",
        "Cần Thơ",
        "Huế",
    }


@pytest.mark.parametrize(
    ("start", "route", "slip", "expected"),
    [
        (D(2026, 3, 10), RouteClass.SAME_COMMUNE, False, D(2026, 3, 11)),
        (D(2026, 3, 13), RouteClass.SAME_COMMUNE, False, D(2026, 3, 16)),  # Friday: J+1 is Monday
        (D(2026, 3, 14), RouteClass.SAME_COMMUNE, False, D(2026, 3, 16)),  # accepted Saturday: Monday
        (D(2026, 3, 14), RouteClass.SAME_PROVINCE, False, D(2026, 3, 17)),
        (D(2026, 2, 12), RouteClass.SAME_COMMUNE, False, D(2026, 2, 13)),
        (D(2026, 2, 12), RouteClass.SAME_PROVINCE, False, D(2026, 2, 23)),  # across Tết 2026
        (D(2026, 3, 9), RouteClass.BETWEEN_SPECIAL_CITIES, False, D(2026, 3, 12)),
        (D(2026, 4, 22), RouteClass.INTER_PROVINCIAL, False, D(2026, 4, 29)),  # over Hùng Kings (27/4)
        (D(2026, 4, 22), RouteClass.INTER_PROVINCIAL, True, D(2026, 5, 7)),  # doubled, over 30/4 and 1/5
        (D(2026, 3, 10), RouteClass.SAME_COMMUNE, True, D(2026, 3, 12)),
        (D(2025, 4, 25), RouteClass.SAME_COMMUNE, False, D(2025, 4, 26)),  # the make-up Saturday is worked
        (D(2025, 12, 31), RouteClass.SAME_COMMUNE, False, D(2026, 1, 5)),  # 1 Jan, swapped 2 Jan, weekend
        (D(2026, 8, 28), RouteClass.SAME_PROVINCE, False, D(2026, 9, 4)),  # National Day 2026 break
    ],
)
def test_postal_leg_is_due_n_working_days_after_j(
    calendar: WorkingCalendar,
    limits: RouteLimits,
    start: date,
    route: RouteClass,
    slip: bool,
    expected: date,
) -> None:
    assert postal_leg_due(start, route, calendar, carries_appointment_slip=slip, limits=limits) == expected


def test_postal_leg_due_reads_the_configured_table_by_default(calendar: WorkingCalendar) -> None:
    assert postal_leg_due(D(2026, 3, 9), RouteClass.INTER_PROVINCIAL, calendar) == D(2026, 3, 13)


def test_postal_leg_due_accepts_the_route_class_as_text(
    calendar: WorkingCalendar, limits: RouteLimits
) -> None:
    due = postal_leg_due(D(2026, 3, 9), RouteClass("same_province"), calendar, limits=limits)
    assert due == D(2026, 3, 11)


@pytest.mark.parametrize(
    ("origin", "dest", "expected"),
    [
        (("Hà Nội", "Phường Ba Đình"), ("Thành phố Hà Nội", "phường  ba đình"), RouteClass.SAME_COMMUNE),
        (("Hà Nội", "Phường Ba Đình"), ("Hà Nội", "Phường Hoàn Kiếm"), RouteClass.SAME_PROVINCE),
        (("Nghệ An", "Phường Vinh Phú"), ("Tỉnh Nghệ An", "Xã Diễn Châu"), RouteClass.SAME_PROVINCE),
        (("TP. Hà Nội", "Phường Ba Đình"), ("TP.HCM", "Phường Sài Gòn"), RouteClass.BETWEEN_SPECIAL_CITIES),
        (
            ("Đà Nẵng", "Phường Hải Châu"),
            ("Thừa Thiên Huế", "Phường Thuận Hóa"),
            RouteClass.BETWEEN_SPECIAL_CITIES,
        ),
        (("Hà Nội", "Phường Ba Đình"), ("Nghệ An", "Phường Vinh Phú"), RouteClass.INTER_PROVINCIAL),
        (("Nghệ An", "Phường Vinh Phú"), ("Hà Tĩnh", "Phường Thành Sen"), RouteClass.INTER_PROVINCIAL),
    ],
)
def test_routes_are_classified_by_province_and_commune(
    limits: RouteLimits, origin: tuple[str, str], dest: tuple[str, str], expected: RouteClass
) -> None:
    assert classify_route(*origin, *dest, special_cities=limits.special_cities) == expected


def test_route_table_is_found_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "limits.yaml"
    file.write_text(
        "limits: {same_commune: 2, same_province: 3, between_special_cities: 4, inter_provincial: 5}\n"
        "appointment_slip_factor: 3\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DOSSIER_ROUTE_LIMITS", str(file))
    table = load_route_limits()
    assert table.days(RouteClass.SAME_COMMUNE, carries_appointment_slip=True) == 6
    assert table.special_cities == ()


def test_route_table_is_found_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOSSIER_ROUTE_LIMITS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_route_limits().days(RouteClass.SAME_COMMUNE) == 1


FULL = "{same_commune: 1, same_province: 2, between_special_cities: 3, inter_provincial: 4}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "limits: {same_commune: 1, same_province: 2}\n",
            "limits: no limit for between_special_cities, inter_provincial",
        ),
        (
            "limits: {same_commune: 0, same_province: 2, between_special_cities: 3, inter_provincial: 4}\n",
            "must be at least 1 working day (same_commune=0)",
        ),
        ("limits: {same_district: 1}\n", "limits.same_district (key): Input should be 'same_commune'"),
        (f"limits: {FULL}\nappointment_slip_factor: 0\n", "appointment_slip_factor: Input should be greater"),
        (
            f"limits: {FULL}\nspecial_cities: [{{province: Huế, urban_class: II}}]\n",
            "special_cities[0].urban_class: Input should be 'special' or 'I'",
        ),
        (f"limits: {FULL}\nextra: 1\n", "extra: unknown key"),
        ("limits: [\n", "not valid YAML"),
    ],
)
def test_malformed_route_table_is_refused(tmp_path: Path, content: str, message: str) -> None:
    file = tmp_path / "limits.yaml"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(RouteLimitsError) as refused:
        load_route_limits(file)
    assert message in str(refused.value)


def test_route_table_must_be_a_mapping() -> None:
    with pytest.raises(RouteLimitsError, match="Input should be a valid dictionary"):
        parse_route_limits(["same_commune"])


def test_postal_leg_due_counts_with_the_table_it_is_given(calendar: WorkingCalendar) -> None:
    # A table under review (a new circular) is passed in; it must win over the configured one.
    slower = parse_route_limits(
        {
            "limits": {
                "same_commune": 3,
                "same_province": 4,
                "between_special_cities": 5,
                "inter_provincial": 6,
            }
        },
    )
    due = postal_leg_due(D(2026, 3, 9), RouteClass.SAME_COMMUNE, calendar, limits=slower)
    assert due == D(2026, 3, 12)


def test_route_table_refusal_names_the_file_and_each_field(tmp_path: Path) -> None:
    # The operator reads one line: which file, then every bad field by its path, separated by "; ".
    file = tmp_path / "limits.yaml"
    file.write_text(f"limits: {FULL}\nappointment_slip_factor: 0\nextra: 1\n", encoding="utf-8")
    with pytest.raises(RouteLimitsError) as refused:
        load_route_limits(file)
    assert str(refused.value).startswith(f"{file}: appointment_slip_factor: Input should be greater")
    assert str(refused.value).endswith("; extra: unknown key")


def test_route_table_given_as_data_is_refused_under_a_generic_name() -> None:
    with pytest.raises(RouteLimitsError) as refused:
        parse_route_limits({"limits": {"same_commune": 1}})
    assert str(refused.value).startswith("route limits: limits: no limit for same_province")


def test_missing_route_table_is_refused_naming_the_file(tmp_path: Path) -> None:
    absent = tmp_path / "absent.yaml"
    with pytest.raises(RouteLimitsError) as refused:
        load_route_limits(absent)
    assert str(refused.value).startswith(f"{absent}: cannot read the route-limit file")
