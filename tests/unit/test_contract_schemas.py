"""Generated artefacts: committed schemas and AsyncAPI document, and the compatibility checker."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from contracts import generate
from contracts.compat import breaking_changes, check_committed
from contracts.envelope import Envelope, encode
from contracts.events import EVENT_TYPES, EventKey
from contracts.samples import sample_envelope
from contracts.schema import event_schema, event_schemas, schema_filename
from contracts.topics import all_topics

REPO = Path(__file__).resolve().parents[2]
COMMITTED = sorted(generate.SCHEMA_DIR.glob("*.json"))


# --- Committed artefacts --------------------------------------------------------------------------


def test_committed_artefacts_do_not_drift_from_the_code() -> None:
    assert generate.drift() == [], "run: python -m contracts.generate"


def test_generate_check_exits_zero_when_nothing_drifted() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "contracts.generate", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_drift_names_changed_missing_and_stale_files(tmp_path: Path) -> None:
    generate.write(tmp_path)
    assert generate.drift(tmp_path) == []

    changed = tmp_path / "schemas" / "postal.item_lost.v1.json"
    changed.write_text("{}\n", encoding="utf-8")
    missing = tmp_path / "asyncapi.yaml"
    missing.unlink()
    stale = tmp_path / "schemas" / "postal.dossier_teleported.v1.json"
    stale.write_text("{}\n", encoding="utf-8")

    assert set(generate.drift(tmp_path)) == {changed, missing, stale}
    generate.write(tmp_path)
    assert generate.drift(tmp_path) == []
    assert not stale.exists()


def test_generation_is_deterministic() -> None:
    assert generate.artefacts() == generate.artefacts()


def test_every_registered_event_has_a_committed_schema_named_by_type_and_version() -> None:
    assert {path.name for path in COMMITTED} == {schema_filename(key) for key in EVENT_TYPES}


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_committed_schema_is_sorted_json_identifying_its_type_and_version(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    schema = json.loads(text)
    assert text == json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    event_type, _, version = path.name.removesuffix(".json").rpartition(".v")
    assert schema["$id"] == f"urn:dossier-post:schemas:{event_type}.v{version}"
    assert schema["properties"]["type"]["const"] == event_type
    assert schema["properties"]["schemaversion"]["const"] == int(version)


@pytest.mark.parametrize("key", sorted(EVENT_TYPES), ids=lambda key: f"{key[0]}.v{key[1]}")
def test_sample_messages_validate_against_their_committed_schema(key: EventKey) -> None:
    schema = json.loads((generate.SCHEMA_DIR / schema_filename(key)).read_text(encoding="utf-8"))
    assert _violations(schema, json.loads(encode(sample_envelope(key))), schema) == []


def test_asyncapi_document_lists_every_topic_and_every_event() -> None:
    document = yaml.safe_load(generate.ASYNCAPI_PATH.read_text(encoding="utf-8"))

    assert document["asyncapi"] == "3.0.0"
    assert set(document["channels"]) == {topic.name for topic in all_topics()}
    assert set(document["components"]["messages"]) == {f"{t}.v{v}" for t, v in EVENT_TYPES}
    postal = document["channels"]["postal.events.v1"]
    assert postal["bindings"]["kafka"]["partitions"] == 12
    assert "dossier id" in postal["description"]
    operations = document["operations"]
    assert operations["post_office.send.postal.events.v1"]["action"] == "send"
    assert operations["tracker.receive.postal.events.v1"]["action"] == "receive"
    assert operations["agency_systems.send.agency.intake.v1"]["action"] == "send"


def test_asyncapi_references_resolve() -> None:
    document = yaml.safe_load(generate.ASYNCAPI_PATH.read_text(encoding="utf-8"))
    for ref in _refs(document):
        if ref.startswith("#/"):
            target: Any = document
            for token in ref[2:].split("/"):
                target = target[token]
        else:
            assert (generate.ASYNCAPI_PATH.parent / ref).is_file(), ref


# --- Compatibility checker ------------------------------------------------------------------------

V1: dict[str, Any] = {
    "type": "object",
    "properties": {
        "item_id": {"type": "string"},
        "count": {"type": "integer"},
        "form": {"$ref": "#/$defs/Form"},
        "applicant": {"$ref": "#/$defs/Applicant"},
        "notes": {"type": "array", "items": {"$ref": "#/$defs/Note"}},
    },
    "required": ["item_id", "form"],
    "$defs": {
        "Form": {"type": "string", "enum": ["SEND_DOSSIER", "SEND_AND_RECEIVE"]},
        "Applicant": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "phone": {"type": "string"}},
            "required": ["name"],
        },
        "Note": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
}


def changed(path: str, value: Any) -> dict[str, Any]:
    """A deep copy of V1 with the value at a slash-separated path replaced (None deletes it)."""
    schema: dict[str, Any] = json.loads(json.dumps(V1))
    *parents, last = path.split("/")
    target = schema
    for step in parents:
        target = target[step]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return schema


def kinds(new: dict[str, Any]) -> list[tuple[str, str]]:
    return [(change.path, change.kind) for change in breaking_changes(V1, new)]


def test_compat_accepts_an_identical_schema() -> None:
    assert kinds(V1) == []


def test_compat_flags_a_removed_property() -> None:
    assert kinds(changed("properties/count", None)) == [("count", "property_removed")]


def test_compat_flags_a_retyped_property() -> None:
    assert kinds(changed("properties/count", {"type": "string"})) == [("count", "type_changed")]


def test_compat_flags_a_property_that_became_nullable_or_changed_format() -> None:
    nullable = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert kinds(changed("properties/count", nullable)) == [("count", "type_changed")]
    assert kinds(changed("properties/item_id", {"type": "string", "format": "date"})) == [
        ("item_id", "type_changed")
    ]


def test_compat_flags_a_newly_required_property() -> None:
    assert kinds(changed("required", ["item_id", "form", "count"])) == [("count", "newly_required")]


def test_compat_flags_a_new_property_that_is_required() -> None:
    schema = changed("properties/weight", {"type": "integer"})
    schema["required"].append("weight")
    assert kinds(schema) == [("weight", "newly_required")]


def test_compat_accepts_an_added_optional_property_and_a_dropped_requirement() -> None:
    assert kinds(changed("properties/weight", {"anyOf": [{"type": "integer"}, {"type": "null"}]})) == []
    assert kinds(changed("required", ["item_id"])) == []


def test_compat_flags_a_removed_enum_value_and_accepts_an_added_one() -> None:
    assert kinds(changed("$defs/Form/enum", ["SEND_DOSSIER"])) == [("form", "enum_value_removed")]
    assert kinds(changed("$defs/Form/enum", ["SEND_DOSSIER", "SEND_AND_RECEIVE", "RECEIVE_RESULT"])) == []


def test_compat_looks_into_nested_objects_and_array_items_through_defs() -> None:
    assert kinds(changed("$defs/Applicant/properties/phone", None)) == [
        ("applicant.phone", "property_removed")
    ]
    assert kinds(changed("$defs/Applicant/required", ["name", "phone"])) == [
        ("applicant.phone", "newly_required")
    ]
    assert kinds(changed("$defs/Note/properties/text", {"type": "integer"})) == [
        ("notes[].text", "type_changed")
    ]


def test_compat_flags_breaking_changes_between_two_versions_of_a_pydantic_model() -> None:
    class Before(BaseModel):
        item_id: str
        weight: int
        note: str | None = None

    class After(BaseModel):
        item_id: int
        courier_id: str
        note: str | None = None
        extra: str | None = None

    changes = breaking_changes(Before.model_json_schema(), After.model_json_schema())
    assert {(c.path, c.kind) for c in changes} == {
        ("item_id", "type_changed"),
        ("weight", "property_removed"),
        ("courier_id", "newly_required"),
    }


def test_compat_flags_a_field_removed_from_a_real_event() -> None:
    model = EVENT_TYPES[("postal.dossier_accepted", 1)]
    committed = event_schema(model)
    current = json.loads(json.dumps(committed))
    del current["$defs"]["ApplicantContact"]["properties"]["phone"]
    current["$defs"]["ApplicantContact"]["required"].remove("phone")

    assert [(c.path, c.kind) for c in breaking_changes(committed, current)] == [
        ("data.applicant.phone", "property_removed")
    ]


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_code_is_compatible_with_every_committed_schema(path: Path) -> None:
    committed = json.loads(path.read_text(encoding="utf-8"))
    assert breaking_changes(committed, event_schemas()[path.name]) == []


def test_compat_report_over_the_committed_schemas_is_empty() -> None:
    assert check_committed() == {}


def test_compat_report_flags_a_committed_schema_the_code_no_longer_generates(tmp_path: Path) -> None:
    (tmp_path / "postal.dossier_teleported.v1.json").write_text("{}", encoding="utf-8")
    report = check_committed(tmp_path)
    assert [change.kind for change in report["postal.dossier_teleported.v1.json"]] == ["schema_removed"]


# --- A small JSON Schema checker, enough for the keywords pydantic emits --------------------------

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


def _violations(schema: dict[str, Any], value: Any, root: dict[str, Any], at: str = "") -> list[str]:
    if "$ref" in schema:
        target: Any = root
        for token in schema["$ref"][2:].split("/"):
            target = target[token]
        return _violations(target, value, root, at)
    if "anyOf" in schema:
        if all(_violations(option, value, root, at) for option in schema["anyOf"]):
            return [f"{at}: matches no alternative"]
        return []
    found: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        python_type = _TYPES[expected]
        if not isinstance(value, python_type) or (expected == "integer" and isinstance(value, bool)):
            return [f"{at}: not {expected}"]
    if "const" in schema and value != schema["const"]:
        found.append(f"{at}: not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{at}: not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{at}: does not match {schema['pattern']}")
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            found.append(f"{at}: wrong length")
    if isinstance(value, dict):
        found += [f"{at}.{name}: missing" for name in schema.get("required", ()) if name not in value]
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                found += _violations(properties[name], item, root, f"{at}.{name}")
            else:
                found.append(f"{at}.{name}: not in the schema")
    if isinstance(value, list):
        for index, item in enumerate(value):
            found += _violations(schema.get("items", {}), item, root, f"{at}[{index}]")
    return found


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_the_schema_checker_of_these_tests_catches_a_wrong_value() -> None:
    key = ("postal.dossier_accepted", 1)
    schema = json.loads((generate.SCHEMA_DIR / schema_filename(key)).read_text(encoding="utf-8"))
    document = json.loads(encode(sample_envelope(key)))
    document["data"]["item_id"] = "eb123456785vn"
    document["data"]["applicant"]["phone"] = "+84912345678"
    assert len(_violations(schema, document, schema)) == 2


def test_envelope_schema_keeps_the_envelope_attributes_required() -> None:
    schema = Envelope.model_json_schema()
    assert set(schema["required"]) == {
        "specversion",
        "id",
        "type",
        "source",
        "subject",
        "time",
        "schemaversion",
        "data",
    }
