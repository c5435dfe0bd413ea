"""Why a message breaks the contract: a closed set of reasons and a detail free of personal data.

Dead-letter handling keys on ``ContractError.reason``; ``detail`` is for the operator. Details never
carry input values: pydantic puts them in its errors, and a rejected message may hold a citizen's
name, phone number or address.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ValidationError


class Reason(StrEnum):
    """The closed set of reasons a message is rejected."""

    MALFORMED_JSON = "malformed_json"
    """The bytes are not UTF-8 JSON."""
    NOT_AN_ENVELOPE = "not_an_envelope"
    """JSON, but not a CloudEvents envelope of this system (a required attribute missing or invalid)."""
    UNKNOWN_TYPE = "unknown_type"
    """An envelope whose event type no model is registered for."""
    UNKNOWN_VERSION = "unknown_version"
    """A known event type with a schema version this code does not know."""
    INVALID_DATA = "invalid_data"
    """The event data does not validate against the model of its type and version."""
    OVERSIZE = "oversize"
    """The message is larger than the limit."""
    KEY_MISMATCH = "key_mismatch"
    """The Kafka key differs from the envelope's subject (the dossier id)."""


class ContractError(Exception):
    """A message that does not honour the contract."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


MAX_ERRORS_IN_DETAIL = 5


def describe(error: ValidationError, prefix: str = "") -> str:
    """A one-line summary of a validation error: where and what, never the offending values."""
    parts: list[str] = []
    errors = error.errors(include_url=False, include_context=False)
    for item in errors[:MAX_ERRORS_IN_DETAIL]:
        location = _location(prefix, item["loc"])
        parts.append(f"{location}: {_redact(item['msg'], item.get('input'))}")
    if len(errors) > MAX_ERRORS_IN_DETAIL:
        parts.append(f"and {len(errors) - MAX_ERRORS_IN_DETAIL} more")
    return "; ".join(parts)


def _location(prefix: str, loc: tuple[int | str, ...]) -> str:
    text = prefix
    for step in loc:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text = f"{text}.{step}" if text else step
    return text or "(message)"


def _redact(message: str, value: Any) -> str:
    # Pydantic messages rarely echo the input (a UUID's bad character, a union tag); make sure of it.
    if isinstance(value, str) and len(value) >= 2 and value in message:
        return message.replace(value, "<redacted>")
    return message
