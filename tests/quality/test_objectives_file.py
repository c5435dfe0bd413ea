"""Quality objectives are data (deploy/quality/objectives.yaml): the shipped file loads, and a malformed
one stops the service's start with one line naming the objective and the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contracts.enums import Leg
from services.turnaround.app import create_app
from services.turnaround.quality.objectives import (
    Comparison,
    Measure,
    ObjectivesError,
    load_objectives,
    parse_objectives,
)
from services.turnaround.quality.periods import PeriodKind
from services.turnaround.quality.scopes import NATIONAL, Scope, ScopeKind
from services.turnaround.settings import TurnaroundSettings

VALID: dict[str, Any] = {
    "id": "passport-on-time-quarterly",
    "title": "≥ 95 % hồ sơ cấp hộ chiếu được giải quyết đúng hạn mỗi quý",
    "scope": {"kind": "national"},
    "procedure_code": "1.001456",
    "measure": "on_time_share",
    "leg": "AGENCY_PROCESSING",
    "target": {"at_least": 95},
    "period": "quarter",
    "owner": "Cục Quản lý xuất nhập cảnh",
    "source": "Quyết định 766/QĐ-TTg",
}
COUNT: dict[str, Any] = {
    "id": "no-late-delay-notices",
    "title": "Không có phiếu hẹn lại gửi muộn",
    "scope": {"kind": "agency", "code": "000.00.01.H22"},
    "measure": "nonconformity_count",
    "nonconformity_kind": "late_delay_notice",
    "target": {"at_most": 0},
    "period": "month",
    "owner": "Sở Tư pháp",
    "source": "Nghị định 118/2025/NĐ-CP Art. 19(6)",
}


def test_the_shipped_objectives_load_with_the_issues_examples() -> None:
    objectives = load_objectives()

    passport = objectives.get("passport-on-time-quarterly")
    assert passport is not None
    assert (passport.scope, passport.procedure_code, passport.leg, passport.measure) == (
        NATIONAL,
        "1.001456",
        Leg.AGENCY_PROCESSING,
        Measure.ON_TIME_SHARE,
    )
    assert (passport.comparison, passport.target, passport.period) == (
        Comparison.AT_LEAST,
        Decimal(95),
        PeriodKind.QUARTER,
    )
    inbound = objectives.get("inbound-postal-on-time-monthly")
    assert inbound is not None
    assert (inbound.leg, inbound.target, inbound.period) == (
        Leg.INBOUND_POSTAL,
        Decimal(98),
        PeriodKind.MONTH,
    )
    notices = objectives.get("no-late-delay-notices-quarterly")
    assert notices is not None
    assert (notices.measure, notices.nonconformity_kind, notices.comparison, notices.target) == (
        Measure.NONCONFORMITY_COUNT,
        "late_delay_notice",
        Comparison.AT_MOST,
        Decimal(0),
    )
    assert {o.scope.kind for o in objectives} == set(ScopeKind) - {ScopeKind.AGENCY}
    assert all(o.owner and o.source and o.title for o in objectives)


def test_a_valid_objective_keeps_every_field() -> None:
    (share,) = parse_objectives({"objectives": [VALID]})
    (count,) = parse_objectives({"objectives": [COUNT]})

    assert share.title == VALID["title"]
    assert share.owner == "Cục Quản lý xuất nhập cảnh"
    assert share.source == "Quyết định 766/QĐ-TTg"
    assert share.nonconformity_kind is None
    assert count.scope == Scope(ScopeKind.AGENCY, "000.00.01.H22")
    assert (count.leg, count.procedure_code, count.period) == (None, None, PeriodKind.MONTH)


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    entry = {**base, **changes}
    return {k: v for k, v in entry.items() if v is not ...}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (None, "objectives.yaml: objectives: the file holds a mapping with an objectives list"),
        ({"objectives": ["x"]}, "objectives.yaml: objectives: Input should be a valid dictionary"),
        ({"objectives": [VALID], "extra": 1}, "objectives.yaml: extra: Extra inputs are not permitted"),
        (
            {"objectives": [_with(VALID, target={"at_least": 101})]},
            "objective 'passport-on-time-quarterly': target: a share is a percent between 0 and 100",
        ),
        (
            {"objectives": [_with(VALID, target={"at_least": 95, "at_most": 99})]},
            "objective 'passport-on-time-quarterly': target: give exactly one of at_least or at_most",
        ),
        (
            {"objectives": [_with(VALID, target={})]},
            "objective 'passport-on-time-quarterly': target: give exactly one of at_least or at_most",
        ),
        (
            {"objectives": [_with(VALID, target={"at_least": -1})]},
            "objective 'passport-on-time-quarterly': target.at_least: Input should be greater than or "
            "equal to 0",
        ),
        (
            {"objectives": [_with(VALID, leg=...)]},
            "objective 'passport-on-time-quarterly': leg: required by on_time_share",
        ),
        (
            {"objectives": [_with(VALID, leg="AIRMAIL")]},
            "objective 'passport-on-time-quarterly': leg: Input should be 'INBOUND_POSTAL', "
            "'AGENCY_PROCESSING' or 'RETURN_POSTAL'",
        ),
        (
            {"objectives": [_with(VALID, nonconformity_kind="late_delay_notice")]},
            "objective 'passport-on-time-quarterly': nonconformity_kind: only for nonconformity_count",
        ),
        (
            {"objectives": [_with(VALID, period="week")]},
            "objective 'passport-on-time-quarterly': period: Input should be 'month', 'quarter', "
            "'half_year' or 'year'",
        ),
        (
            {"objectives": [_with(VALID, scope={"kind": "province"})]},
            "objective 'passport-on-time-quarterly': scope: the province scope needs a code",
        ),
        (
            {"objectives": [_with(VALID, scope={"kind": "national", "code": "HN"})]},
            "objective 'passport-on-time-quarterly': scope: the national scope has no code",
        ),
        (
            {"objectives": [_with(VALID, scope={"kind": "ward", "code": "1"})]},
            "objective 'passport-on-time-quarterly': scope.kind: Input should be 'national', 'province', "
            "'agency' or 'post_office'",
        ),
        (
            {"objectives": [_with(VALID, owner=...)]},
            "objective 'passport-on-time-quarterly': owner: Field required",
        ),
        (
            {"objectives": [_with(VALID, source="")]},
            "objective 'passport-on-time-quarterly': source: String should have at least 1 character",
        ),
        (
            {"objectives": [_with(VALID, measure="average_days")]},
            "objective 'passport-on-time-quarterly': measure: Input should be 'on_time_share' or "
            "'nonconformity_count'",
        ),
        (
            {"objectives": [_with(VALID, id="Passport Q")]},
            "objective 'Passport Q': id: lower-case letters, digits and '-', at most 64",
        ),
        ({"objectives": [_with(VALID, id=...)]}, "objective #1: id: Field required"),
        ({"objectives": [VALID, VALID]}, "objective 'passport-on-time-quarterly': id: named by another"),
        (
            {"objectives": [VALID, _with(COUNT, nonconformity_kind=...)]},
            "objective 'no-late-delay-notices': nonconformity_kind: required by nonconformity_count",
        ),
        (
            {"objectives": [_with(COUNT, leg="INBOUND_POSTAL")]},
            "objective 'no-late-delay-notices': leg: only for on_time_share",
        ),
        (
            {"objectives": [_with(COUNT, target={"at_most": 0.5})]},
            "objective 'no-late-delay-notices': target: a count is a whole number",
        ),
        (
            {"objectives": [_with(COUNT, nonconformity_kind="Late Notice")]},
            "objective 'no-late-delay-notices': nonconformity_kind: String should match pattern",
        ),
    ],
)
def test_a_malformed_objective_is_refused_naming_the_objective_and_the_field(
    document: object, message: str
) -> None:
    with pytest.raises(ObjectivesError) as refused:
        parse_objectives(document)

    assert message in str(refused.value)
    assert "\n" not in str(refused.value), "one line"


def test_an_unreadable_or_invalid_yaml_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    broken = tmp_path / "broken.yaml"
    broken.write_text("objectives: [\n  - id: x\n", encoding="utf-8")

    with pytest.raises(ObjectivesError, match=r"^absent.yaml: cannot read the objectives file"):
        load_objectives(missing)
    with pytest.raises(ObjectivesError, match=r"^broken.yaml: not valid YAML"):
        load_objectives(broken)


def test_the_service_does_not_start_with_a_malformed_objectives_file(tmp_path: Path) -> None:
    bad = tmp_path / "objectives.yaml"
    bad.write_text(
        "objectives:\n  - {id: inbound, title: t, scope: {kind: national}, measure: on_time_share,\n"
        "     target: {at_least: 98}, period: month, owner: o, source: s}\n",
        encoding="utf-8",
    )
    settings = TurnaroundSettings.model_validate({"objectives_file": str(bad)})

    with pytest.raises(ObjectivesError, match=r"objectives.yaml: objective 'inbound': leg: required"):
        create_app(settings)
