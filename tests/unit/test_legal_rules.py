"""The legal parameters as dated data: which rule set is in force on a day, and the files' validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.shared.calendar import VN_TZ, load_calendar
from services.shared.legal_rules import (
    LegalRulesError,
    NoRuleInForceError,
    Period,
    load_legal_rules,
    main,
)
from tests.fixtures.legal_rules import raw_rule_files


def _write(folder: Path, files: dict[str, Any]) -> Path:
    for name, raw in files.items():
        (folder / name).write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return folder


def _error(tmp_path: Path, files: dict[str, Any]) -> str:
    with pytest.raises(LegalRulesError) as caught:
        load_legal_rules(_write(tmp_path, files))
    message = str(caught.value)
    assert "\n" not in message, "the error is one line"
    return message


def test_a_fact_of_30_june_2025_is_judged_by_decree_61_and_one_of_1_july_by_decree_118() -> None:
    rules = load_legal_rules()

    assert rules.on(date(2025, 6, 30)).rule_set == "decree_61_2018"
    assert rules.on(date(2025, 7, 1)).rule_set == "decree_118_2025"
    assert rules.on(date(2025, 6, 30)).closure is None, "no closure period confirmed under Decree 61"
    assert rules.on(date(2025, 7, 1)).closure == Period(15, "calendar")
    assert rules.on(date(2025, 7, 1)).supplement_window == Period(3, "working")
    assert rules.on(date(2025, 7, 1)).supplement_requests_allowed == 1
    assert rules.on(date(2025, 7, 1)).cutoff == time(15)


def test_the_day_of_a_fact_is_its_day_in_vietnam() -> None:
    rules = load_legal_rules()
    # 17:30 UTC on 30 June is 00:30 on 1 July in Hà Nội.
    assert rules.at(datetime(2025, 6, 30, 17, 30, tzinfo=UTC)).rule_set == "decree_118_2025"
    assert rules.at(datetime(2025, 6, 30, 23, 59, tzinfo=VN_TZ)).rule_set == "decree_61_2018"


def test_an_amendment_takes_effect_on_its_own_date() -> None:
    rules = load_legal_rules()
    assert rules.on(date(2022, 6, 22)).on_time.formula == "due_date"
    assert rules.on(date(2022, 6, 23)).on_time.formula == "index_766"
    assert rules.on(date(2022, 6, 23)).on_time.late_above_supplement_requests == 1
    assert rules.on(date(2022, 6, 23)).rule_set == "decree_61_2018"


def test_a_day_before_the_first_rule_set_has_no_rule_in_force() -> None:
    with pytest.raises(NoRuleInForceError):
        load_legal_rules().on(date(2018, 6, 20))


def test_a_deployment_may_set_its_own_cut_off_or_none() -> None:
    rules = load_legal_rules()
    assert rules.with_cutoff(time(16, 30)).on(date(2025, 7, 1)).cutoff == time(16, 30)
    assert rules.with_cutoff(None).on(date(2024, 1, 2)).cutoff is None
    assert rules.with_cutoff(None).on(date(2024, 1, 2)).supplement_requests_allowed == 1


def test_periods_count_calendar_or_working_days_after_the_start() -> None:
    calendar = load_calendar()
    # Tết 2026: 14–22 February are not worked.
    assert Period(3, "working").end(date(2026, 2, 12), calendar) == date(2026, 2, 24)
    assert Period(15, "calendar").end(date(2026, 2, 12), calendar) == date(2026, 2, 27)


def test_a_gap_between_rule_sets_names_the_file(tmp_path: Path) -> None:
    files = raw_rule_files()
    files["decree_118_2025.yaml"]["effective_from"] = "2025-07-02"
    assert _error(tmp_path, files) == (
        "decree_118_2025.yaml: effective_from 2025-07-02 leaves a gap after decree_61_2018.yaml "
        "(in force until 2025-06-30)"
    )


def test_overlapping_rule_sets_name_the_file(tmp_path: Path) -> None:
    files = raw_rule_files()
    files["decree_118_2025.yaml"]["effective_from"] = "2025-06-30"
    message = _error(tmp_path, files)
    assert message.startswith("decree_118_2025.yaml: effective_from 2025-06-30 overlaps decree_61_2018.yaml")


def test_an_open_ended_rule_set_followed_by_another_overlaps_it(tmp_path: Path) -> None:
    files = raw_rule_files()
    del files["decree_61_2018.yaml"]["effective_until"]
    assert "overlaps decree_61_2018.yaml" in _error(tmp_path, files)


def test_an_unknown_key_names_the_file_and_the_entry(tmp_path: Path) -> None:
    files = raw_rule_files()
    files["decree_118_2025.yaml"]["parameters"]["supplement_request_window"]["weeks"] = 1
    assert _error(tmp_path, files) == (
        "decree_118_2025.yaml: parameters.supplement_request_window.weeks: unknown key"
    )


def test_an_unknown_parameter_names_the_file_and_the_entry(tmp_path: Path) -> None:
    files = raw_rule_files()
    files["decree_118_2025.yaml"]["parameters"]["fee"] = {"count": 1, "citation": "x"}
    assert _error(tmp_path, files) == "decree_118_2025.yaml: parameters.fee: unknown key"


def test_a_missing_citation_names_the_file_and_the_entry(tmp_path: Path) -> None:
    files = raw_rule_files()
    del files["decree_61_2018.yaml"]["parameters"]["apology_lead"]["citation"]
    assert _error(tmp_path, files) == (
        "decree_61_2018.yaml: parameters.apology_lead.citation: required field is missing"
    )


def test_a_blank_citation_of_an_amendment_names_the_file_and_the_entry(tmp_path: Path) -> None:
    files = raw_rule_files()
    files["decree_61_2018.yaml"]["amendments"][0]["parameters"]["on_time_formula"]["citation"] = " "
    message = _error(tmp_path, files)
    assert message.startswith(
        "decree_61_2018.yaml: amendments[0].parameters.on_time_formula.citation: must cite"
    )


def test_a_missing_parameter_names_the_file_and_the_entry(tmp_path: Path) -> None:
    files = raw_rule_files()
    del files["decree_118_2025.yaml"]["parameters"]["closure_without_supplement"]
    assert _error(tmp_path, files) == (
        "decree_118_2025.yaml: parameters.closure_without_supplement: required field is missing"
    )


def test_an_amendment_outside_its_rule_sets_period_is_refused(tmp_path: Path) -> None:
    files = raw_rule_files()
    files["decree_61_2018.yaml"]["amendments"][0]["effective_from"] = "2025-07-01"
    assert _error(tmp_path, files) == (
        "decree_61_2018.yaml: amendments[0].effective_from: outside the rule set's period"
    )


def test_the_readme_rules_table_is_current() -> None:
    assert main(["--check"]) == 0, "run: python -m services.shared.legal_rules --write"
