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
    build,
    load_legal_rules,
)
from services.shared.legal_rules_table import main
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


def test_the_cut_off_of_a_filing_is_the_one_of_its_day_in_vietnam(tmp_path: Path) -> None:
    files = raw_rule_files()
    files["decree_118_2025.yaml"]["parameters"]["forwarding_cutoff"]["hour"] = 16
    rules = load_legal_rules(_write(tmp_path, files))

    assert rules.cutoff_at(datetime(2025, 6, 30, 17, 30, tzinfo=UTC)) == time(16), "00:30 on 1 July in Hà Nội"
    assert rules.cutoff_at(datetime(2025, 6, 30, 16, 30, tzinfo=UTC)) == time(15), "23:30 on 30 June"


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
    assert _error(tmp_path, files) == (
        "decree_118_2025.yaml: effective_from 2025-07-01 overlaps decree_61_2018.yaml "
        "(in force 2018-06-21–now)"
    )


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
    assert main(["--check"]) == 0, "run: python -m services.shared.legal_rules_table --write"


def _one_set(**changes: Any) -> dict[str, Any]:
    """Decree 118's file as a single rule set from 2000, changed as given."""
    raw = raw_rule_files()["decree_118_2025.yaml"]
    raw["effective_from"] = "2000-01-01"
    raw.update(changes)
    return raw


def _amendment(effective_from: str, **parameters: dict[str, Any]) -> dict[str, Any]:
    return {"effective_from": effective_from, "instrument": "Test amendment", "parameters": parameters}


def test_the_last_day_of_a_rule_set_that_ended_is_in_force_and_the_next_is_not(tmp_path: Path) -> None:
    rules = load_legal_rules(_write(tmp_path, {"only.yaml": _one_set(effective_until="2025-06-30")}))

    assert rules.on(date(2025, 6, 30)).rule_set == "decree_118_2025"
    with pytest.raises(NoRuleInForceError, match="no rule set is in force on 2025-07-01"):
        rules.on(date(2025, 7, 1))
    with pytest.raises(NoRuleInForceError, match="no rule set is in force on 1999-12-31"):
        rules.on(date(1999, 12, 31))


def test_an_open_ended_rule_set_is_in_force_for_ever(tmp_path: Path) -> None:
    rules = load_legal_rules(_write(tmp_path, {"only.yaml": _one_set()}))
    assert rules.on(date(2999, 1, 1)).rule_set == "decree_118_2025"


def test_two_files_naming_one_rule_set_are_refused(tmp_path: Path) -> None:
    first = _one_set(effective_until="2009-12-31")
    second = _one_set(effective_from="2010-01-01")
    assert _error(tmp_path, {"a.yaml": first, "b.yaml": second}) == (
        "a.yaml: rule_set 'decree_118_2025' is named by another file too"
    )


def test_amendments_apply_in_date_order_whatever_their_order_in_the_file(tmp_path: Path) -> None:
    later = _amendment("2010-01-01", apology_slips_allowed={"count": 3, "citation": "b"})
    earlier = _amendment("2005-01-01", apology_slips_allowed={"count": 2, "citation": "a"})
    rules = load_legal_rules(_write(tmp_path, {"only.yaml": _one_set(amendments=[later, earlier])}))

    assert [rules.on(date(y, 1, 1)).apology_slips_allowed for y in (2004, 2005, 2009, 2010)] == [1, 2, 2, 3]
    assert all(rules.on(date(y, 1, 1)).rule_set == "decree_118_2025" for y in (2004, 2005, 2010))


def test_two_amendments_of_one_day_both_apply_from_that_day(tmp_path: Path) -> None:
    hour = _amendment("2010-01-01", forwarding_cutoff={"hour": 16, "citation": "a"})
    slips = _amendment("2010-01-01", apology_slips_allowed={"count": 2, "citation": "b"})
    rules = load_legal_rules(_write(tmp_path, {"only.yaml": _one_set(amendments=[hour, slips])}))

    assert (rules.on(date(2010, 1, 1)).cutoff, rules.on(date(2010, 1, 1)).apology_slips_allowed) == (
        time(16),
        2,
    )
    assert (rules.on(date(2009, 12, 31)).cutoff, rules.on(date(2009, 12, 31)).apology_slips_allowed) == (
        time(15),
        1,
    )
    assert rules.starts == (date(2000, 1, 1), date(2010, 1, 1)), "one segment from that day, not two"
    assert rules.on(date(2010, 1, 1)).rule_set == "decree_118_2025"


def test_every_parameter_is_carried_into_the_rules_in_force(tmp_path: Path) -> None:
    raw = _one_set()
    raw["parameters"]["forwarding_cutoff"]["hour"] = None
    raw["parameters"]["apology_slips_allowed"]["count"] = 2
    raw["parameters"]["apology_lead"] = {"days": 2, "unit": "calendar", "citation": "x"}
    rules = load_legal_rules(_write(tmp_path, {"only.yaml": raw})).on(date(2020, 1, 1))

    assert rules.cutoff is None
    assert rules.apology_slips_allowed == 2
    assert rules.apology_lead == Period(2, "calendar")
    assert rules.on_time.formula == "index_766" and rules.on_time.late_above_supplement_requests == 1


def test_an_apology_lead_without_days_is_refused_naming_the_file(tmp_path: Path) -> None:
    raw = _one_set()
    raw["parameters"]["apology_lead"] = {"days": None, "unit": "working", "citation": "x"}
    assert _error(tmp_path, {"only.yaml": raw}) == (
        "only.yaml: parameters.apology_lead.days: required (a lead time of 0 days means none)"
    )


def test_the_rows_say_each_value_as_the_rules_table_shows_it() -> None:
    rows = {(row.parameter, row.effective_from): row for row in load_legal_rules().rows}
    d118, d61, d766 = date(2025, 7, 1), date(2018, 6, 21), date(2022, 6, 23)

    assert rows[("forwarding_cutoff", d118)].value == "15:00"
    assert rows[("supplement_requests_allowed", d118)].value == "1"
    assert rows[("supplement_request_window", d118)].value == "3 working days"
    assert rows[("closure_without_supplement", d118)].value == "15 calendar days"
    assert rows[("closure_without_supplement", d61)].value == "none"
    assert rows[("apology_lead", d118)].value == "1 working day"
    assert rows[("on_time_formula", d61)].value == "due_date"
    assert rows[("on_time_formula", d766)].value == "index_766 (late above 1 supplement request)"
    assert rows[("forwarding_cutoff", d118)].citation == "Decree 118/2025/NĐ-CP Art. 18(2)"


def test_unlimited_counts_no_cut_off_and_plurals_are_said_plainly(tmp_path: Path) -> None:
    raw = _one_set()
    raw["parameters"]["forwarding_cutoff"]["hour"] = None
    raw["parameters"]["apology_slips_allowed"]["count"] = None
    raw["parameters"]["on_time_formula"]["late_above_supplement_requests"] = 2
    raw["parameters"]["supplement_request_window"] = {"days": 1, "unit": "calendar", "citation": "x"}
    rows = {row.parameter: row.value for row in load_legal_rules(_write(tmp_path, {"only.yaml": raw})).rows}

    assert rows["forwarding_cutoff"] == "none"
    assert rows["apology_slips_allowed"] == "no limit"
    assert rows["on_time_formula"] == "index_766 (late above 2 supplement requests)"
    assert rows["supplement_request_window"] == "1 calendar day"


def test_a_folder_without_rule_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LegalRulesError, match=r"no rule file \(\*\.yaml\) found"):
        load_legal_rules(tmp_path)


def test_no_rule_set_at_all_is_refused() -> None:
    with pytest.raises(LegalRulesError, match=r"^no rule file: at least one rule set is needed$"):
        build([])


def test_a_file_that_is_not_a_mapping_or_not_yaml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    assert _error(tmp_path, {}) == (
        "list.yaml: must be a mapping with rule_set, instrument, effective_from, parameters"
    )
    (tmp_path / "list.yaml").write_text("rule_set: [unclosed\n", encoding="utf-8")
    assert _error(tmp_path, {}) == "list.yaml: not valid YAML: while parsing a flow sequence"


def test_several_faults_of_one_file_are_said_on_one_line(tmp_path: Path) -> None:
    raw = _one_set()
    raw["parameters"]["fee"] = {"count": 1, "citation": "x"}
    del raw["parameters"]["apology_lead"]
    message = _error(tmp_path, {"only.yaml": raw})
    assert message == (
        "only.yaml: parameters.apology_lead: required field is missing; parameters.fee: unknown key"
    )
