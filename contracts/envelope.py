"""The one envelope of every Kafka message: CloudEvents 1.0, structured JSON mode.

Attributes: ``specversion`` "1.0", ``id`` (event id, the idempotency key), ``type``, ``source`` (the
producer), ``subject`` (the dossier id, also the Kafka key), ``time`` (when it happened),
``datacontenttype`` "application/json", ``dataschema`` (the URI of the JSON Schema of type and
version), the extension ``schemaversion`` and ``data`` (the event). Beyond CloudEvents, this system
requires ``subject``, ``time`` and ``schemaversion``. Unknown extension attributes are ignored.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Generic, Literal, NamedTuple
from uuid import UUID, uuid4

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import SchemaValidator, from_json

from contracts.errors import ContractError, Reason, describe
from contracts.events import EVENT_TYPES, Event, EventT, versions_of
from contracts.pydantic_internals import (
    construct_validated,
    field_values,
    generic_arguments,
    validator_building,
)
from contracts.values import AwareTime, DossierId

SPECVERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
MAX_ENVELOPE_BYTES = 256 * 1024
SCHEMA_URI_PREFIX = "urn:dossier-post:schemas:"


def dataschema_uri(event_type: str, version: int) -> str:
    """The URI naming the JSON Schema of an event type and version (the ``$id`` of its schema file)."""
    return f"{SCHEMA_URI_PREFIX}{event_type}.v{version}"


class _AttributeFields(BaseModel):
    """The context attributes' fields, without the check across them (decode does that one itself)."""

    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)

    specversion: Literal["1.0"]
    """CloudEvents specification version."""
    id: UUID
    """The event id: producers retrying a publication reuse it; consumers deduplicate on it."""
    type: str = Field(min_length=1, max_length=200)
    """The event type, e.g. ``postal.dossier_accepted``; its prefix names the producing service."""
    source: str = Field(min_length=1, max_length=200, pattern=r"^\S+$")
    """URI-reference of the producer: ``/post-offices/<code>``, ``/agencies/<code>``, ``/tracker``, …"""
    subject: DossierId
    """The dossier id, also the Kafka key: every event of a dossier lands on one partition, in order."""
    time: AwareTime
    """When the event happened (not when it was published): read with any UTC offset, written in
    Vietnam time (+07:00)."""
    datacontenttype: Literal["application/json"] = "application/json"
    """The media type of data."""
    dataschema: str | None = None
    """The URI of the JSON Schema of this type and version, ``urn:dossier-post:schemas:<type>.v<n>``."""
    schemaversion: int = Field(ge=1, strict=True)
    """Extension attribute: the version of the event type's schema."""


class EnvelopeAttributes(_AttributeFields):
    """The CloudEvents context attributes, validated before the data so errors get the right reason."""

    @model_validator(mode="after")
    def _dataschema_names_type_and_version(self) -> EnvelopeAttributes:
        if self.dataschema is not None and self.dataschema != dataschema_uri(self.type, self.schemaversion):
            raise ValueError("dataschema does not name the schema of this type and schemaversion")
        return self


class Envelope(EnvelopeAttributes, Generic[EventT]):
    """A CloudEvents 1.0 envelope carrying one event of a dossier."""

    data: SerializeAsAny[EventT]
    """The event."""

    @classmethod
    def new(
        cls,
        event: EventT,
        *,
        subject: str,
        source: str,
        time: datetime,
        id: UUID | None = None,
    ) -> Envelope[EventT]:
        """Wrap an event for publication. Pass ``id`` when retrying, so consumers can deduplicate."""
        return Envelope(
            specversion=SPECVERSION,
            id=id or uuid4(),
            type=event.type,
            source=source,
            subject=subject,
            time=time,
            dataschema=dataschema_uri(event.type, event.version),
            schemaversion=event.version,
            data=event,
        )

    @field_validator("data", mode="before")
    @classmethod
    def _data_model_from_registry(cls, value: Any, info: ValidationInfo) -> Any:
        # An unparametrised Envelope would validate data as the bare Event base and drop every field.
        if isinstance(value, Event) or generic_arguments(cls):
            return value
        model = EVENT_TYPES.get((info.data.get("type", ""), info.data.get("schemaversion", 0)))
        if model is None:
            raise ValueError("no event model is registered for this type and schemaversion")
        return model.model_validate(value)

    @model_validator(mode="after")
    def _data_matches_type_and_version(self) -> Envelope[EventT]:
        if (self.data.type, self.data.version) != (self.type, self.schemaversion):
            raise ValueError("data is not an event of the envelope's type and schemaversion")
        return self


class KafkaRecord(NamedTuple):
    """What a producer hands to Kafka: key and headers hold no personal data."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]

    def text_headers(self) -> dict[str, str]:
        """The headers as text, for clients (FastStream) that take a dict of strings."""
        return {name: value.decode() for name, value in self.headers}


def encode(envelope: Envelope[Any], *, max_bytes: int = MAX_ENVELOPE_BYTES) -> bytes:
    """The envelope as compact UTF-8 JSON; refuses to produce what consumers would reject as oversize."""
    exclude = {"dataschema"} if envelope.dataschema is None else None
    raw = envelope.model_dump_json(exclude=exclude).encode()
    if len(raw) > max_bytes:
        raise ContractError(
            Reason.OVERSIZE, f"the envelope is {len(raw)} bytes, over the limit of {max_bytes}"
        )
    return raw


class EncodedEnvelope(NamedTuple):
    """An envelope its producer encoded earlier (kept in an outbox, say), published as its bytes.

    The producer vouches for the bytes: they are the encoding of a valid envelope with these
    attributes. Validating and encoding them again would only spend the CPU a relay publishing
    thousands of events a second does not have.
    """

    id: UUID | str
    type: str
    schemaversion: int
    subject: str
    value: bytes


def kafka_record(
    envelope: Envelope[Any] | EncodedEnvelope, *, max_bytes: int = MAX_ENVELOPE_BYTES
) -> KafkaRecord:
    """Key (the dossier id), value (the encoded envelope) and CloudEvents headers for routing and tracing."""
    headers = [
        ("content-type", STRUCTURED_CONTENT_TYPE.encode()),
        ("ce_id", str(envelope.id).encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_schemaversion", str(envelope.schemaversion).encode()),
    ]
    if isinstance(envelope, EncodedEnvelope):
        if len(envelope.value) > max_bytes:
            raise ContractError(
                Reason.OVERSIZE, f"the envelope is {len(envelope.value)} bytes, over the limit of {max_bytes}"
            )
        return KafkaRecord(envelope.subject.encode(), envelope.value, headers)
    return KafkaRecord(envelope.subject.encode(), encode(envelope, max_bytes=max_bytes), headers)


def decode(raw: bytes, key: bytes | None = None, *, max_bytes: int = MAX_ENVELOPE_BYTES) -> Envelope[Event]:
    """Parse and validate a message; ``key``, when given, must be the subject. Raises ContractError.

    A message its model accepts is validated in one call; any other goes through
    ``decode_step_by_step``, which names what is wrong. Both give the same envelope or the same error.
    """
    if len(raw) > max_bytes:
        raise ContractError(
            Reason.OVERSIZE, f"the message is {len(raw)} bytes, over the limit of {max_bytes}"
        )
    envelope = _decode_in_one_call(raw)
    if envelope is None:
        return decode_step_by_step(raw, key, max_bytes=max_bytes)
    if key is not None and key != envelope.subject.encode():
        raise ContractError(Reason.KEY_MISMATCH, "the Kafka key is not the envelope's subject")
    return envelope


def decode_step_by_step(
    raw: bytes, key: bytes | None = None, *, max_bytes: int = MAX_ENVELOPE_BYTES
) -> Envelope[Event]:
    """What ``decode`` answers, found one step at a time: JSON, the attributes, the key, the model of
    the type and version, the data. Slower, but a failure says which step it is (its Reason)."""
    if len(raw) > max_bytes:
        raise ContractError(
            Reason.OVERSIZE, f"the message is {len(raw)} bytes, over the limit of {max_bytes}"
        )
    try:
        document = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise ContractError(Reason.MALFORMED_JSON, str(exc)) from None
    if not isinstance(document, dict):
        raise ContractError(
            Reason.NOT_AN_ENVELOPE, f"the message is a JSON {type(document).__name__}, not an object"
        )
    if "data" not in document:
        raise ContractError(Reason.NOT_AN_ENVELOPE, "data: Field required")
    try:
        attributes = EnvelopeAttributes.model_validate(document)
    except ValidationError as exc:
        raise ContractError(Reason.NOT_AN_ENVELOPE, describe(exc)) from None
    if key is not None and key != attributes.subject.encode():
        raise ContractError(Reason.KEY_MISMATCH, "the Kafka key is not the envelope's subject")
    model = EVENT_TYPES.get((attributes.type, attributes.schemaversion))
    if model is None:
        known = versions_of(attributes.type)
        if not known:
            raise ContractError(Reason.UNKNOWN_TYPE, f"no event type {attributes.type!r} is registered")
        raise ContractError(
            Reason.UNKNOWN_VERSION,
            f"{attributes.type} has no schema version {attributes.schemaversion}; known: {list(known)}",
        )
    try:
        event = model.model_validate(document["data"])
    except ValidationError as exc:
        raise ContractError(Reason.INVALID_DATA, describe(exc, prefix="data")) from None
    return _assemble(attributes, event)


def _assemble(attributes: EnvelopeAttributes, event: Event) -> Envelope[Event]:
    """The envelope of validated attributes and data, without validating them again.

    What ``Envelope.model_construct`` does, for the one shape it is given here: consumers decode
    thousands of messages a second, and the generic ``model_construct`` cost as much as validating
    the attributes.
    """
    values = field_values(attributes)
    values["data"] = event
    return construct_validated(Envelope, values, attributes.model_fields_set | {"data"})


# --- One validation per message -------------------------------------------------------------------
#
# Consumers decode thousands of messages a second. Step by step, that is a JSON parse into Python
# objects and two validations; in one call, pydantic-core parses the bytes and validates the attributes
# and the data of the model picked by a glance at the bytes. The glance may be wrong (it is a regular
# expression, not a parser): what it picks is checked against what was validated, and a message the
# one call does not take goes the step-by-step way, so the glance decides only how fast, never what.

_TYPE_GLANCE = re.compile(rb'"type"\s*:\s*"([a-z_.]{1,200})"')
_COMPACT_TYPE = b'"type":"'
_VERSION_GLANCE = re.compile(rb'"schemaversion"\s*:\s*([0-9]{1,9})\b')

_REGISTERED_TYPES: dict[bytes, str] = {event_type.encode(): event_type for event_type, _ in EVENT_TYPES}
# The version of each type that has only one: no need to glance for it.
_ONLY_VERSION: dict[bytes, int] = {
    event_type.encode(): version
    for event_type, version in EVENT_TYPES
    if versions_of(event_type) == (version,)
}


class _OneCall(NamedTuple):
    """How to decode an envelope of one type and version in one call."""

    validator: SchemaValidator
    event_type: str
    version: int
    dataschema: str


_ONE_CALLS: dict[tuple[bytes, int], _OneCall] = {}


def _one_call(event_type: bytes, version: int) -> _OneCall | None:
    """The attributes' fields (the very definitions of EnvelopeAttributes) and the data of the model of
    this type and version, validated into an Envelope; None when no model is registered for them."""
    key = (_REGISTERED_TYPES.get(event_type, ""), version)
    event_model = EVENT_TYPES.get(key)
    if event_model is None:
        return None
    fields = create_model(
        f"OneCall{event_model.__name__}", __base__=_AttributeFields, data=(event_model, ...)
    )
    one_call = _OneCall(validator_building(Envelope, fields), *key, dataschema_uri(*key))
    _ONE_CALLS[event_type, version] = one_call
    return one_call


def _decode_in_one_call(raw: bytes) -> Envelope[Event] | None:
    """The envelope, if the model picked by a glance accepts the message as it is; else None."""
    # pydantic-core's JSON validation reads NaN and ±Infinity, which from_json(allow_inf_nan=False)
    # refuses as malformed: a message holding these words goes the step-by-step way. Each word is
    # looked for from its capital's first place (found by memchr, and late in a message if at all):
    # half the CPU of looking through the whole message.
    capital = raw.find(b"N")
    if capital >= 0 and raw.find(b"NaN", capital) >= 0:
        return None
    capital = raw.find(b"I")
    if capital >= 0 and raw.find(b"Infinity", capital) >= 0:
        return None
    # Producers write compact JSON, where a find is enough and twice as fast as the expression.
    start = raw.find(_COMPACT_TYPE) + len(_COMPACT_TYPE)
    if start >= len(_COMPACT_TYPE):
        event_type = raw[start : raw.find(b'"', start)]
    else:
        glance = _TYPE_GLANCE.search(raw)
        if glance is None:
            return None
        event_type = glance[1]
    version = _ONLY_VERSION.get(event_type)
    if version is None:
        version_glance = _VERSION_GLANCE.search(raw)
        if version_glance is None:
            return None
        version = int(version_glance[1])
    one_call = _ONE_CALLS.get((event_type, version)) or _one_call(event_type, version)
    if one_call is None:
        return None
    try:
        envelope: Envelope[Event] = one_call.validator.validate_json(raw)
    except ValidationError:
        return None
    # What the step-by-step way checks beyond the fields: the model is the one of the message's type
    # and version, and dataschema names it.
    if envelope.type != one_call.event_type or envelope.schemaversion != one_call.version:
        return None
    if envelope.dataschema is not None and envelope.dataschema != one_call.dataschema:
        return None
    return envelope
