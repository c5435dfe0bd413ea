"""The JSON Schema of each (type, version): the whole envelope with that event as its data.

One file per (type, version) validates a complete Kafka message value, so a non-Python producer
(an agency system publishing on agency.intake.v1) can check its output with any JSON Schema
validator. The schema describes the canonical wire form: upper-case item ids, national-form phone
numbers, ``dataschema`` present. Fields marked ``"x-personal-data": true`` are personal data.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, cast

from contracts.envelope import Envelope, dataschema_uri
from contracts.events import EVENT_TYPES, Event, EventKey

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_filename(key: EventKey) -> str:
    """``<type>.v<version>.json``, e.g. ``postal.dossier_accepted.v1.json``."""
    event_type, version = key
    return f"{event_type}.v{version}.json"


def event_schema(model: type[Event]) -> dict[str, Any]:
    """The JSON Schema of an envelope carrying one event type and version."""
    event_type, version = model.key()
    envelope = cast("type[Envelope[Event]]", Envelope[model])  # type: ignore[valid-type]
    schema = envelope.model_json_schema()
    properties = schema["properties"]
    properties["type"] = {**properties["type"], "const": event_type}
    properties["schemaversion"] = {**properties["schemaversion"], "const": version}
    del properties["schemaversion"]["minimum"]
    dataschema_description = properties["dataschema"].get("description", "")
    properties["dataschema"] = {
        "const": dataschema_uri(event_type, version),
        "description": dataschema_description,
        "title": "Dataschema",
        "type": "string",
    }
    return {
        **schema,
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": dataschema_uri(event_type, version),
        "title": f"{model.__name__} v{version} ({event_type})",
        "description": inspect.cleandoc(model.__doc__ or ""),
        "x-event-type": event_type,
        "x-schema-version": version,
    }


def event_schemas() -> dict[str, dict[str, Any]]:
    """Every registered (type, version)'s schema, by file name, in sorted order."""
    return {schema_filename(key): event_schema(EVENT_TYPES[key]) for key in sorted(EVENT_TYPES)}


def render_json(schema: dict[str, Any]) -> str:
    """Deterministic text of a schema: sorted keys, 2-space indent, UTF-8, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
