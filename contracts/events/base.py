"""The base of every event: identity (type, version) and the tolerant-reader configuration."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema

EventKey = tuple[str, int]
"""An event's identity on the wire: (type, schema version)."""

PERSONAL_DATA: dict[str, Any] = {"x-personal-data": True}
"""json_schema_extra marking a field as personal data: never in logs, metric labels, keys or headers."""


class Event(BaseModel):
    """Something that happened to a dossier, recorded by the service that saw it happen.

    Subclasses pin ``type`` and ``version`` with Literal defaults, so the class itself says which
    (type, version) it models. Unknown fields are ignored (a newer producer may add optional fields);
    the occurrence time, the dossier id and the producer travel in the envelope.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)

    type: str
    version: int

    @classmethod
    def key(cls) -> EventKey:
        """The (type, version) this class models."""
        event_type = cls.model_fields["type"].default
        version = cls.model_fields["version"].default
        if not isinstance(event_type, str) or not isinstance(version, int):
            raise TypeError(f"{cls.__name__} does not pin type and version with Literal defaults")
        return event_type, version


EventT = TypeVar("EventT", bound=Event)


def one_of(*allowed: StrEnum) -> AfterValidator:
    """Restrict an enum field to some of its members, with a message naming them."""
    names = " or ".join(member.value for member in allowed)

    def check(value: StrEnum) -> StrEnum:
        if value not in allowed:
            raise ValueError(f"must be {names} here")
        return value

    return AfterValidator(check)


def one_of_schema(*allowed: StrEnum, description: str) -> WithJsonSchema:
    """The JSON Schema of a field restricted with ``one_of``."""
    return WithJsonSchema({"type": "string", "enum": [m.value for m in allowed], "description": description})
