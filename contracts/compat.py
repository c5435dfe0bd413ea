"""Is the schema the code generates now compatible with the committed one of the same (type, version)?

Within a version, producers may only add optional fields. Breaking, found recursively through
nested objects, arrays, ``$ref``/``$defs`` and ``anyOf``/``oneOf``:

- ``property_removed``: a property of the committed schema is gone;
- ``type_changed``: a property's JSON type (with its format, e.g. date vs date-time) differs,
  nullability included;
- ``newly_required``: a property is required now and was not (or is new and required);
- ``enum_value_removed``: an allowed value (enum or const) is no longer allowed;
- ``schema_removed``: a committed (type, version) is no longer generated.

Constraint changes (patterns, lengths) are not checked; review the diff of the committed schema.

    python -m contracts.compat   # exit 1 listing breaking changes against the committed schemas
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.schema import event_schemas

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

Schema = Mapping[str, Any]

# Deeper than any event; stops recursive schemas (a model that contains itself).
MAX_DEPTH = 32


@dataclass(frozen=True)
class BreakingChange:
    path: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.kind}: {self.detail}"


def breaking_changes(old: Schema, new: Schema) -> list[BreakingChange]:
    """What in ``new`` breaks producers or consumers that follow ``old``."""
    found: list[BreakingChange] = []
    _compare(_Node(old, old), _Node(new, new), "", found, depth=0)
    return found


@dataclass(frozen=True)
class _Node:
    schema: Schema
    root: Schema

    def resolved(self) -> Schema:
        schema = self.schema
        for _ in range(32):  # a $ref chain longer than this is a cycle
            ref = schema.get("$ref")
            if not isinstance(ref, str):
                return schema
            target = _pointer(self.root, ref)
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        raise ValueError("$ref cycle")

    def alternatives(self) -> list[_Node]:
        schema = self.resolved()
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                return [alt for option in schema[keyword] for alt in _Node(option, self.root).alternatives()]
        return [_Node(schema, self.root)]

    def types(self) -> frozenset[str]:
        found: set[str] = set()
        for alt in self.alternatives():
            schema = alt.schema
            declared = schema.get("type")
            if declared is None and "const" in schema:
                declared = _json_type(schema["const"])
            elif declared is None and "enum" in schema:
                declared = sorted({_json_type(v) for v in schema["enum"]})
            names = [declared] if isinstance(declared, str) else list(declared or ["any"])
            fmt = schema.get("format")
            found.update(f"{name}({fmt})" if fmt and name == "string" else name for name in names)
        return frozenset(found)

    def allowed_values(self) -> set[str] | None:
        """The enumerated values (as JSON text), or None when any value of the types is allowed."""
        values: set[str] = set()
        for alt in self.alternatives():
            schema = alt.schema
            if "const" in schema:
                values.add(json.dumps(schema["const"]))
            elif "enum" in schema:
                values.update(json.dumps(v) for v in schema["enum"])
            elif schema.get("type") == "null":
                values.add("null")
            else:
                return None
        return values

    def object_shape(self) -> Schema | None:
        for alt in self.alternatives():
            if "properties" in alt.schema or alt.schema.get("type") == "object":
                return alt.schema
        return None

    def array_items(self) -> _Node | None:
        for alt in self.alternatives():
            items = alt.schema.get("items")
            if alt.schema.get("type") == "array" and isinstance(items, Mapping):
                return _Node(items, self.root)
        return None


def _compare(old: _Node, new: _Node, path: str, found: list[BreakingChange], depth: int) -> None:
    old_types, new_types = old.types(), new.types()
    if old_types != new_types:
        found.append(BreakingChange(path, "type_changed", f"{_show(old_types)} became {_show(new_types)}"))
        return
    old_values, new_values = old.allowed_values(), new.allowed_values()
    if old_values is not None and new_values is not None and old_values - new_values:
        removed = ", ".join(sorted(old_values - new_values))
        found.append(BreakingChange(path, "enum_value_removed", f"no longer allowed: {removed}"))
    if depth >= MAX_DEPTH:
        return
    old_object, new_object = old.object_shape(), new.object_shape()
    if old_object is not None and new_object is not None:
        _compare_objects(old, new, old_object, new_object, path, found, depth + 1)
    old_items, new_items = old.array_items(), new.array_items()
    if old_items is not None and new_items is not None:
        _compare(old_items, new_items, f"{path}[]", found, depth + 1)


def _compare_objects(
    old: _Node,
    new: _Node,
    old_object: Schema,
    new_object: Schema,
    path: str,
    found: list[BreakingChange],
    depth: int,
) -> None:
    old_properties: Schema = old_object.get("properties", {})
    new_properties: Schema = new_object.get("properties", {})
    old_required = set(old_object.get("required", ()))
    for name in sorted(set(new_object.get("required", ())) - old_required):
        found.append(
            BreakingChange(_join(path, name), "newly_required", "required now, optional or absent before")
        )
    for name in sorted(old_properties):
        if name not in new_properties:
            found.append(BreakingChange(_join(path, name), "property_removed", "no longer in the schema"))
            continue
        _compare(
            _Node(old_properties[name], old.root),
            _Node(new_properties[name], new.root),
            _join(path, name),
            found,
            depth,
        )


def _pointer(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, not {ref!r}")
    target: Any = root
    for token in ref[1:].split("/")[1:]:
        target = target[token.replace("~1", "/").replace("~0", "~")]
    if not isinstance(target, Mapping):
        raise ValueError(f"$ref {ref!r} does not point at a schema")
    return target


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(types: frozenset[str]) -> str:
    return " | ".join(sorted(types))


def check_committed(schema_dir: Path = SCHEMA_DIR) -> dict[str, list[BreakingChange]]:
    """Breaking changes of the generated schemas against every committed one, by file name."""
    generated = event_schemas()
    report: dict[str, list[BreakingChange]] = {}
    for path in sorted(schema_dir.glob("*.json")):
        committed = json.loads(path.read_text(encoding="utf-8"))
        current = generated.get(path.name)
        if current is None:
            report[path.name] = [
                BreakingChange("", "schema_removed", "this (type, version) is no longer generated")
            ]
        else:
            report[path.name] = breaking_changes(committed, current)
    return {name: changes for name, changes in report.items() if changes}


def main() -> int:
    report = check_committed()
    for name, changes in report.items():
        for change in changes:
            print(f"{name}: {change}", file=sys.stderr)
    if report:
        print(
            "breaking changes need a new version of the event (a new model and schema file)", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
