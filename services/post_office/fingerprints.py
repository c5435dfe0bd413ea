"""Fingerprints of what a retry must repeat: a digest of a command's canonical content.

A retry is recognised by comparing the fingerprint stored with what was recorded (a scan, an accepted
dossier, a picked-up result) with the one of the request sent again, so equal content must give equal
fingerprints, however it is written:
  - times as UTC instants with microseconds: 10:40+07:00 and 03:40Z are one instant;
  - codes in their canonical strings (the value types normalise case and spaces; enums by value);
  - every optional field written out (null when absent), so leaving a field out equals sending null.

Version 2 is ``v2:`` + base64url SHA-256 of that content as sorted, compact JSON (46 characters: the
String(64) columns hold it, no migration). Version 1, which rows recorded before hold, is a bare
64-character hex SHA-256 of the request's JSON as it was sent, offsets included. Those rows are not
migrated (what they digest was never stored whole, so nothing could recompute them); `matches` compares
them with the request spelled with its times in the offset it was sent in, in UTC and in Vietnam time
(+07:00), the offsets clients of this system send. Any other would at worst refuse a retry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from typing import Any

from pydantic import BaseModel

VERSION = "v2:"
_VIETNAM = timezone(timedelta(hours=7))


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"no canonical form for {type(value).__name__}")


def canonical_json(content: dict[str, Any]) -> str:
    """The content as sorted, compact JSON with times as UTC instants."""
    return json.dumps(content, default=_encode, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(content: dict[str, Any]) -> str:
    """The version 2 fingerprint of some content."""
    hashed = hashlib.sha256(canonical_json(content).encode()).digest()
    return VERSION + base64.urlsafe_b64encode(hashed).rstrip(b"=").decode()


def fingerprint(command: BaseModel) -> str:
    """The version 2 fingerprint of a whole command."""
    return digest(command.model_dump(mode="python"))


def legacy_fingerprint(command: BaseModel) -> str:
    """Version 1, as the previous release stored it: kept only to compare with rows it recorded."""
    return hashlib.sha256(command.model_dump_json().encode()).hexdigest()


def legacy_spellings(command: BaseModel) -> list[BaseModel]:
    """The command with its (top-level) times written in the offset sent, in UTC and in Vietnam time."""
    times = {name: value for name, value in command if isinstance(value, datetime) and value.tzinfo}
    return [command] + [
        command.model_copy(update={name: value.astimezone(zone) for name, value in times.items()})
        for zone in (UTC, _VIETNAM)
    ]


def matches(recorded: str, command: BaseModel) -> bool:
    """Whether `command` repeats the command recorded with fingerprint `recorded` (either version)."""
    if recorded.startswith(VERSION):
        return recorded == fingerprint(command)
    return any(legacy_fingerprint(spelled) == recorded for spelled in legacy_spellings(command))
