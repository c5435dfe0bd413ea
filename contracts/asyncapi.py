"""The AsyncAPI 3.0 document of the system: topics as channels, events as messages, services' operations.

Message payloads refer to the committed JSON Schema files (``schemas/<type>.v<n>.json``, relative to
this document), so each schema has one source.
"""

from __future__ import annotations

import inspect
from typing import Any

from contracts.envelope import STRUCTURED_CONTENT_TYPE
from contracts.events import Event, events_on
from contracts.schema import schema_filename
from contracts.topics import Topic, all_topics

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DOCUMENT_VERSION = "1.0.0"
JSON_SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"

_DESCRIPTION = """\
Events of administrative-procedure dossiers and results carried by Vietnam's public post
(Decision 45/2016/QĐ-TTg). Every message value is a CloudEvents 1.0 envelope in structured JSON mode;
the Kafka key is the dossier id (the envelope's subject), so the events of one dossier keep their
order. Headers ce_id, ce_type and ce_schemaversion repeat envelope attributes for routing; neither
key nor headers carry personal data. Fields marked x-personal-data in the payload schemas do."""


def message_id(model: type[Event]) -> str:
    event_type, version = model.key()
    return f"{event_type}.v{version}"


def _slug(name: str) -> str:
    return "_".join(name.lower().split())


def _doc(model: type[Event]) -> str:
    return inspect.cleandoc(model.__doc__ or "")


def _has_personal_data(schema: Any) -> bool:
    if isinstance(schema, dict):
        return bool(schema.get("x-personal-data")) or any(_has_personal_data(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_personal_data(v) for v in schema)
    return False


def _message(model: type[Event]) -> dict[str, Any]:
    event_type, version = model.key()
    return {
        "name": model.__name__,
        "title": f"{model.__name__} v{version}",
        "summary": _doc(model).split("\n\n")[0].replace("\n", " "),
        "description": _doc(model),
        "contentType": STRUCTURED_CONTENT_TYPE,
        "headers": {
            "type": "object",
            "properties": {
                "content-type": {"type": "string", "const": STRUCTURED_CONTENT_TYPE},
                "ce_id": {"type": "string", "format": "uuid", "description": "The envelope's id."},
                "ce_type": {"type": "string", "const": event_type},
                "ce_schemaversion": {"type": "string", "const": str(version)},
            },
            "required": ["ce_id", "ce_type", "ce_schemaversion"],
        },
        "payload": {
            "schemaFormat": JSON_SCHEMA_FORMAT,
            "schema": {"$ref": f"schemas/{schema_filename(model.key())}"},
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "format": "uuid",
                    "description": "The dossier id, equal to the envelope's subject.",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-personal-data": _has_personal_data(model.model_json_schema()),
    }


def _channel(topic: Topic) -> dict[str, Any]:
    lines = [
        topic.description,
        "",
        f"Key: {topic.key}. Partitions: {topic.partitions}.",
        f"Producers: {', '.join(topic.producers) or 'none'}.",
        f"Consumers: {', '.join(topic.consumers) or 'none'}.",
    ]
    if topic.dead_letter is not None:
        lines.append(f"Dead letters: {topic.dead_letter.name}.")
    return {
        "address": topic.name,
        "title": topic.name,
        "description": "\n".join(lines),
        "messages": {
            message_id(m): {"$ref": f"#/components/messages/{message_id(m)}"} for m in events_on(topic)
        },
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "topicConfiguration": {"retention.ms": topic.retention_ms},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _operations(topic: Topic) -> dict[str, dict[str, Any]]:
    models = events_on(topic)
    if not models:
        return {}
    messages = [{"$ref": f"#/channels/{topic.name}/messages/{message_id(m)}"} for m in models]
    operations: dict[str, dict[str, Any]] = {}
    for action, services in (("send", topic.producers), ("receive", topic.consumers)):
        for service in services:
            operations[f"{_slug(service)}.{action}.{topic.name}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{topic.name}"},
                "summary": f"{service} {'publishes on' if action == 'send' else 'consumes'} {topic.name}.",
                "tags": [{"name": _slug(service)}],
                "messages": messages,
            }
    return operations


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document, built from the topic and event registries."""
    topics = all_topics()
    models = sorted({m for topic in topics for m in events_on(topic)}, key=message_id)
    operations: dict[str, dict[str, Any]] = {}
    for topic in topics:
        operations.update(_operations(topic))
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": "Dossier post events", "version": DOCUMENT_VERSION, "description": _DESCRIPTION},
        "defaultContentType": STRUCTURED_CONTENT_TYPE,
        "channels": {topic.name: _channel(topic) for topic in topics},
        "operations": operations,
        "components": {"messages": {message_id(m): _message(m) for m in models}},
    }
