"""The procedure catalog: the seed loads, a malformed file is refused by name, documents are checked."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.shared.catalog import (
    Catalog,
    CatalogError,
    RequiredDocument,
    SubmittedDocument,
    UnknownProcedureError,
    load_catalog,
    parse_catalog,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# --------------------------------------------------------------------------- the seed catalog


def test_seed_catalog_has_at_least_twenty_procedures(catalog: Catalog) -> None:
    assert len(catalog) >= 20


@pytest.mark.parametrize(
    ("code", "name_part", "level", "days"),
    [
        ("1.001456", "hộ chiếu phổ thông", "province", 8),  # passport issued in the province
        ("2.001610", "doanh nghiệp", "province", 3),  # enterprise registration
        ("3.000333", "lý lịch tư pháp", "province", 10),  # judicial record certificate
    ],
)
def test_seed_catalog_has_the_legal_examples(
    catalog: Catalog, code: str, name_part: str, level: str, days: int
) -> None:
    procedure = catalog.get(code)
    assert name_part in procedure.name.lower()
    assert procedure.agency_level == level
    assert procedure.target.kind == "working_days"
    assert procedure.target.working_days == days
    assert procedure.by_post


def test_seed_catalog_has_procedures_that_cannot_go_by_post_with_reasons(catalog: Catalog) -> None:
    not_by_post = {p.code: p for p in catalog if not p.by_post}
    assert {"2.000200", "1.000894"} <= set(not_by_post)  # CCCD (biometrics), marriage (both present)
    assert all(p.not_by_post_reason for p in not_by_post.values())
    assert "vân tay" in (not_by_post["2.000200"].not_by_post_reason or "")


def test_seed_catalog_covers_every_target_kind_and_level(catalog: Catalog) -> None:
    assert {p.target.kind for p in catalog} == {"working_days", "hours", "same_day"}
    assert {p.agency_level for p in catalog} == {"central", "province", "commune"}
    assert catalog.get("1.001193").target.kind == "same_day"  # birth registration


def test_seed_catalog_field_keys_are_few_and_stable(catalog: Catalog) -> None:
    keys = {p.field_key for p in catalog}
    assert "xuat_nhap_canh" in keys and "ho_tich" in keys
    assert len(keys) < len(catalog)  # keys group procedures: they are metric labels


def test_catalog_is_found_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOSSIER_CATALOG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert "1.001456" in load_catalog()


def test_catalog_is_found_through_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "mine.yaml"
    file.write_text(
        "procedures:\n"
        "  - code: '9.000001'\n"
        "    name: Thủ tục thử\n"
        "    field: Thử\n"
        "    field_key: thu\n"
        "    agency_level: commune\n"
        "    target: {kind: same_day}\n"
        "    by_post: true\n"
        "    documents: [{name: Đơn, form: original}]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DOSSIER_CATALOG", str(file))
    assert [p.code for p in load_catalog()] == ["9.000001"]


def test_unknown_procedure_code_is_a_key_error(catalog: Catalog) -> None:
    with pytest.raises(UnknownProcedureError, match=r"9\.999999"):
        catalog.get("9.999999")


# --------------------------------------------------------------------------- malformed catalogs


def _procedure(code: str, **changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "code": code,
        "name": "Đăng ký khai sinh",
        "field": "Hộ tịch",
        "field_key": "ho_tich",
        "agency_level": "commune",
        "target": {"kind": "working_days", "working_days": 3},
        "by_post": True,
        "documents": [{"name": "Tờ khai đăng ký khai sinh", "form": "original", "count": 1}],
    }
    entry.update(changes)
    return entry


def _catalog(second: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    """A valid two-entry catalog whose second entry (index 1, code 1.001193) is then broken."""
    raw = {"procedures": [_procedure("1.000656"), _procedure("1.001193")]}
    broken = copy.deepcopy(raw)
    second(broken["procedures"][1])
    return broken


def _delete(key: str) -> Callable[[dict[str, Any]], object]:
    return lambda entry: entry.pop(key)


def _set(key: str, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda entry: entry.__setitem__(key, value)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_delete("name"), "procedures[1] (1.001193).name: required field is missing"),
        (_set("by_post", "maybe"), "procedures[1] (1.001193).by_post: Input should be a valid boolean"),
        (
            _set("target", {"kind": "working_days", "working_days": "eight"}),
            "procedures[1] (1.001193).target.working_days: Input should be a valid integer",
        ),
        (_set("code", "1.000656"), "procedures[1] (1.000656).code: duplicate of procedures[0]"),
        (
            _set("code", "1.1193"),
            "procedures[1] (1.1193).code: '1.1193' is not a procedure code like 1.001193",
        ),
        # An unquoted code in YAML is a number, and 1.000010 would silently become 1.00001.
        (_set("code", 1.001193), "procedures[1].code: Input should be a valid string"),
        (_set("fee", 0), "procedures[1] (1.001193).fee: unknown key"),
        (
            _set("target", {"kind": "working_days", "working_days": -1}),
            "procedures[1] (1.001193).target.working_days: Input should be greater than or equal to 0",
        ),
        (
            _set("target", {"kind": "hours", "working_days": 3}),
            "procedures[1] (1.001193).target: kind hours needs hours",
        ),
        (
            _set("target", {"kind": "same_day", "hours": 4}),
            "procedures[1] (1.001193).target: hours does not apply to kind same_day",
        ),
        (
            _set("target", {"kind": "weeks"}),
            "procedures[1] (1.001193).target.kind: Input should be 'working_days', 'hours' or 'same_day'",
        ),
        (
            _set("by_post", False),
            "procedures[1] (1.001193): not_by_post_reason is required when by_post is false",
        ),
        (
            _set("not_by_post_reason", "có mặt"),
            "procedures[1] (1.001193): not_by_post_reason only applies when by_post is false",
        ),
        (_set("agency_level", "district"), "procedures[1] (1.001193).agency_level: Input should be"),
        (
            _set("documents", [{"name": "Tờ khai", "form": "scan", "count": 0}]),
            "procedures[1] (1.001193).documents[0].form: Input should be 'original' or 'copy'",
        ),
        (
            _set("documents", [{"name": "Tờ khai", "form": "copy", "count": 0}]),
            "procedures[1] (1.001193).documents[0].count: Input should be greater than or equal to 1",
        ),
        (_set("documents", []), "procedures[1] (1.001193).documents: "),
        (_set("field_key", "Hộ tịch"), "procedures[1] (1.001193).field_key: String should match pattern"),
        (
            _set("field", "Chứng thực"),
            "procedures[1] (1.001193).field_key: 'ho_tich' already names field 'Hộ tịch' in procedures[0]",
        ),
    ],
)
def test_malformed_catalog_is_refused_naming_entry_and_field(
    breakage: Callable[[dict[str, Any]], object], message: str
) -> None:
    with pytest.raises(CatalogError) as refused:
        parse_catalog(_catalog(breakage))
    assert message in str(refused.value)


def test_every_problem_of_a_catalog_is_reported_at_once() -> None:
    raw = {
        "procedures": [
            _procedure("1.000656", name=""),
            _procedure("1.001193", target={"kind": "working_days", "working_days": -2}),
        ],
        "version": 2,
    }
    with pytest.raises(CatalogError) as refused:
        parse_catalog(raw)
    text = str(refused.value)
    assert "version: unknown key" in text
    assert "procedures[0] (1.000656).name:" in text
    assert "procedures[1] (1.001193).target.working_days:" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("procedures: []\n", "procedures: must be a non-empty list"),
        ("- just a list\n", "top level must be a mapping"),
        ("procedures:\n  - 42\n", "procedures[0]: must be a mapping"),
        ("procedures: [\n", "not valid YAML"),
    ],
)
def test_malformed_catalog_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    file = tmp_path / "procedures.yaml"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError) as refused:
        load_catalog(file)
    assert message in str(refused.value)
    assert str(file) in str(refused.value)


def test_missing_catalog_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "absent.yaml")


# --------------------------------------------------------------------------- missing documents


def doc(name: str, form: str = "original", count: int = 1) -> SubmittedDocument:
    return SubmittedDocument.model_validate({"name": name, "form": form, "count": count})


def required(name: str, form: str = "original", count: int = 1) -> RequiredDocument:
    return RequiredDocument.model_validate({"name": name, "form": form, "count": count})


def test_complete_dossier_misses_nothing(catalog: Catalog) -> None:
    submitted = [doc("Tờ khai đăng ký khai sinh"), doc("Giấy chứng sinh")]
    assert catalog.missing_documents("1.001193", submitted) == ()


def test_missing_document_is_reported_with_form_and_count(catalog: Catalog) -> None:
    assert catalog.missing_documents("1.001193", [doc("Tờ khai đăng ký khai sinh")]) == (
        required("Giấy chứng sinh"),
    )


def test_nothing_submitted_reports_every_unconditional_document_in_catalog_order(catalog: Catalog) -> None:
    missing = catalog.missing_documents("1.013225", [])
    assert [(m.name, m.form, m.count) for m in missing] == [
        ("Đơn đề nghị cấp giấy phép xây dựng", "original", 1),
        ("Giấy tờ chứng minh quyền sử dụng đất", "copy", 1),
        ("Bản vẽ thiết kế xây dựng", "original", 2),
    ]


def test_too_few_copies_reports_the_shortfall(catalog: Catalog) -> None:
    submitted = [
        doc("Đơn đề nghị cấp giấy phép xây dựng"),
        doc("Giấy tờ chứng minh quyền sử dụng đất", "copy"),
        doc("Bản vẽ thiết kế xây dựng"),
    ]
    missing = catalog.missing_documents("1.013225", submitted)
    assert missing == (required("Bản vẽ thiết kế xây dựng", count=1),)


def test_an_original_covers_a_required_copy(catalog: Catalog) -> None:
    submitted = [doc("Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp"), doc("Giấy tờ tùy thân của người yêu cầu")]
    assert catalog.missing_documents("3.000333", submitted) == ()


def test_a_copy_does_not_cover_a_required_original(catalog: Catalog) -> None:
    submitted = [doc("Tờ khai đăng ký khai sinh"), doc("Giấy chứng sinh", "copy")]
    assert catalog.missing_documents("1.001193", submitted) == (required("Giấy chứng sinh"),)


def test_one_original_cannot_count_both_as_the_original_and_as_a_copy() -> None:
    catalog = parse_catalog(
        {
            "procedures": [
                _procedure(
                    "1.000001",
                    documents=[
                        {"name": "Giấy phép", "form": "original", "count": 1},
                        {"name": "Giấy phép", "form": "copy", "count": 1},
                    ],
                )
            ]
        }
    )
    assert catalog.missing_documents("1.000001", [doc("Giấy phép")]) == (required("Giấy phép", "copy"),)
    assert catalog.missing_documents("1.000001", [doc("Giấy phép", count=2)]) == ()


def test_conditional_documents_are_left_to_the_clerk(catalog: Catalog) -> None:
    # "Văn bản ủy quyền" applies only when a proxy files; it is never reported missing.
    submitted = [doc("Tờ khai đăng ký khai sinh"), doc("Giấy chứng sinh")]
    assert all(m.name != "Văn bản ủy quyền" for m in catalog.missing_documents("1.001193", submitted))


def test_document_names_match_ignoring_case_and_spacing(catalog: Catalog) -> None:
    submitted = [doc("  TỜ KHAI   đăng ký khai sinh "), doc("giấy chứng sinh")]
    assert catalog.missing_documents("1.001193", submitted) == ()


def test_missing_documents_of_an_unknown_procedure_is_refused(catalog: Catalog) -> None:
    with pytest.raises(UnknownProcedureError):
        catalog.missing_documents("9.999999", [])
