"""The envelope: encoding, Kafka records, and decoding with a reason for every rejection."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.envelope import (
    MAX_ENVELOPE_BYTES,
    Envelope,
    dataschema_uri,
    decode,
    encode,
    kafka_record,
)
from contracts.errors import ContractError, Reason
from contracts.events import EVENT_TYPES, Event, EventKey
from contracts.samples import (
    SAMPLE_APPLICANT,
    SAMPLE_DOSSIER_ID,
    SAMPLE_TIME,
    sample_envelope,
    sample_envelopes,
    sample_event,
)

PERSONAL_VALUES = (
    SAMPLE_APPLICANT.name,
    SAMPLE_APPLICANT.phone,
    SAMPLE_APPLICANT.address.line,
    str(SAMPLE_APPLICANT.id_number),
)
OTHER_DOSSIER_ID = str(uuid.UUID("0b0d5a8e-6f43-4c52-9e1a-5a1f0f6b2c11"))


def document_of(envelope: Envelope[Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(encode(envelope))
    return parsed


def reason_of(raw: bytes, key: bytes | None = None, **kwargs: Any) -> ContractError:
    with pytest.raises(ContractError) as caught:
        decode(raw, key, **kwargs)
    return caught.value


def raw_of(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


# --- Round trip -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(EVENT_TYPES), ids=lambda key: f"{key[0]}.v{key[1]}")
def test_every_event_type_survives_a_round_trip_through_bytes(key: EventKey) -> None:
    envelope = sample_envelope(key, OTHER_DOSSIER_ID)
    record = kafka_record(envelope)

    decoded = decode(record.value, record.key)

    assert decoded == envelope
    assert type(decoded.data) is EVENT_TYPES[key]


def test_sample_envelopes_cover_every_registered_event_for_the_given_dossier() -> None:
    envelopes = sample_envelopes(OTHER_DOSSIER_ID)
    assert {(e.type, e.schemaversion) for e in envelopes} == set(EVENT_TYPES)
    assert {e.subject for e in envelopes} == {OTHER_DOSSIER_ID}
    assert len({e.id for e in envelopes}) == len(envelopes)


def test_encoded_envelope_is_compact_utf8_json_with_cloudevents_attributes() -> None:
    raw = encode(sample_envelope(("postal.dossier_accepted", 1)))
    document = json.loads(raw)

    assert raw == json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    assert "Nguyễn".encode() in raw
    assert document["specversion"] == "1.0"
    assert document["type"] == "postal.dossier_accepted"
    assert document["source"] == "/post-offices/100000"
    assert document["subject"] == SAMPLE_DOSSIER_ID
    assert document["time"] == "2025-03-14T09:30:00+07:00"
    assert document["datacontenttype"] == "application/json"
    assert document["dataschema"] == "urn:dossier-post:schemas:postal.dossier_accepted.v1"
    assert document["schemaversion"] == 1
    assert document["data"]["item_id"] == "EB123456785VN"


def test_new_envelope_takes_type_and_version_from_the_event_and_a_fresh_id() -> None:
    event = sample_event(("postal.dossier_accepted", 1))
    first = Envelope.new(event, subject=SAMPLE_DOSSIER_ID, source="/post-offices/100000", time=SAMPLE_TIME)
    second = Envelope.new(event, subject=SAMPLE_DOSSIER_ID, source="/post-offices/100000", time=SAMPLE_TIME)

    assert (first.type, first.schemaversion) == ("postal.dossier_accepted", 1)
    assert first.dataschema == dataschema_uri("postal.dossier_accepted", 1)
    assert first.id != second.id
    assert first.data is event


def test_a_retried_publication_keeps_its_event_id() -> None:
    event_id = uuid.uuid4()
    envelope = Envelope.new(
        sample_event(("postal.dossier_accepted", 1)),
        subject=SAMPLE_DOSSIER_ID,
        source="/post-offices/100000",
        time=SAMPLE_TIME,
        id=event_id,
    )
    assert envelope.id == event_id


def test_new_envelope_refuses_a_time_without_time_zone() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Envelope.new(
            sample_event(("postal.dossier_accepted", 1)),
            subject=SAMPLE_DOSSIER_ID,
            source="/post-offices/100000",
            time=datetime(2025, 3, 14, 9, 30),
        )


def test_envelope_refuses_data_of_another_type_than_its_own() -> None:
    envelope = sample_envelope(("postal.dossier_accepted", 1))
    with pytest.raises(ValidationError, match="envelope's type"):
        Envelope(**{**dict(envelope), "type": "postal.item_lost", "dataschema": None})


def test_validating_an_unparametrised_envelope_picks_the_data_model_from_the_registry() -> None:
    envelope = sample_envelope("agency.dossier_received")
    parsed: Envelope[Event] = Envelope.model_validate_json(encode(envelope))
    assert parsed == envelope


def test_kafka_record_is_keyed_by_dossier_id_with_cloudevents_headers() -> None:
    envelope = sample_envelope(("postal.dossier_accepted", 1))
    record = kafka_record(envelope)

    assert record.key == SAMPLE_DOSSIER_ID.encode()
    assert record.value == encode(envelope)
    headers = dict(record.headers)
    assert headers["ce_type"] == b"postal.dossier_accepted"
    assert headers["ce_id"] == str(envelope.id).encode()
    assert headers["ce_schemaversion"] == b"1"
    assert headers["content-type"].startswith(b"application/cloudevents+json")
    assert record.text_headers()["ce_type"] == "postal.dossier_accepted"


@pytest.mark.parametrize("envelope", sample_envelopes(), ids=lambda e: e.type)
def test_kafka_key_and_headers_carry_no_personal_data(envelope: Envelope[Any]) -> None:
    record = kafka_record(envelope)
    exposed = record.key + b"".join(name.encode() + value for name, value in record.headers)
    for value in PERSONAL_VALUES:
        assert value.encode() not in exposed


# --- Tolerance ------------------------------------------------------------------------------------


def test_fields_added_by_a_newer_producer_are_ignored() -> None:
    document = document_of(sample_envelope(("postal.dossier_accepted", 1)))
    document["data"]["parcel_weight_grams"] = 350
    document["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    decoded = decode(raw_of(document))

    assert decoded.data == sample_event(("postal.dossier_accepted", 1))


# --- Rejections, one reason each -----------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe{}", b'{"specversion": "1.0",'])
def test_bytes_that_are_not_json_are_malformed_json(raw: bytes) -> None:
    assert reason_of(raw).reason is Reason.MALFORMED_JSON


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"postal.dossier_accepted"', b"42", b"null"])
def test_json_that_is_not_an_object_is_not_an_envelope(raw: bytes) -> None:
    assert reason_of(raw).reason is Reason.NOT_AN_ENVELOPE


@pytest.mark.parametrize(
    "attribute", ["specversion", "id", "type", "source", "subject", "time", "schemaversion", "data"]
)
def test_envelope_missing_a_required_attribute_is_not_an_envelope_naming_it(attribute: str) -> None:
    document = document_of(sample_envelope(("postal.dossier_accepted", 1)))
    del document[attribute]

    error = reason_of(raw_of(document))

    assert error.reason is Reason.NOT_AN_ENVELOPE
    assert attribute in error.detail


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("specversion", "0.3"),
        ("id", "not-a-uuid"),
        ("time", "2025-03-14T09:30:00"),
        ("subject", "EB123456785VN"),
        ("schemaversion", "1"),
        ("source", ""),
        ("datacontenttype", "application/xml"),
        ("dataschema", "urn:dossier-post:schemas:postal.item_lost.v1"),
    ],
)
def test_envelope_with_an_invalid_attribute_is_not_an_envelope(attribute: str, value: str) -> None:
    document = document_of(sample_envelope(("postal.dossier_accepted", 1)))
    document[attribute] = value

    error = reason_of(raw_of(document))

    assert error.reason is Reason.NOT_AN_ENVELOPE
    assert attribute in error.detail


def test_envelope_of_an_unregistered_type_is_unknown_type() -> None:
    document = document_of(sample_envelope(("postal.dossier_accepted", 1)))
    document["type"] = "postal.dossier_teleported"
    del document["dataschema"]

    assert reason_of(raw_of(document)).reason is Reason.UNKNOWN_TYPE


def test_envelope_of_a_known_type_with_an_unknown_schema_version_is_unknown_version() -> None:
    document = document_of(sample_envelope(("postal.dossier_accepted", 1)))
    document["schemaversion"] = 99
    del document["dataschema"]

    error = reason_of(raw_of(document))

    assert error.reason is Reason.UNKNOWN_VERSION
    assert "99" in error.detail


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"item_id": "EB123456786VN"}, "data.item_id"),
        ({"documents": []}, "data.documents"),
        ({"service_form": "RECEIVE_RESULT"}, "data.service_form"),
        ({"type": "postal.item_lost"}, "data.type"),
        ({"fee_vnd": -1}, "data.fee_vnd"),
    ],
)
def test_event_data_that_breaks_its_model_is_invalid_data_naming_the_field(
    change: dict[str, Any], location: str
) -> None:
    document = document_of(sample_envelope(("postal.dossier_accepted", 1)))
    document["data"].update(change)

    error = reason_of(raw_of(document))

    assert error.reason is Reason.INVALID_DATA
    assert location in error.detail


def test_event_data_missing_a_field_is_invalid_data() -> None:
    document = document_of(sample_envelope("postal.dossier_handed_to_agency"))
    del document["data"]["signed_at"]

    error = reason_of(raw_of(document))

    assert error.reason is Reason.INVALID_DATA
    assert "data.signed_at: Field required" in error.detail


def test_message_over_the_size_limit_is_oversize() -> None:
    raw = encode(sample_envelope(("postal.dossier_accepted", 1)))

    assert reason_of(raw, max_bytes=len(raw) - 1).reason is Reason.OVERSIZE
    assert reason_of(b" " * (MAX_ENVELOPE_BYTES + 1) + raw).reason is Reason.OVERSIZE


def test_producer_cannot_encode_an_envelope_over_the_size_limit() -> None:
    envelope = sample_envelope(("postal.dossier_accepted", 1))
    with pytest.raises(ContractError) as caught:
        encode(envelope, max_bytes=100)
    assert caught.value.reason is Reason.OVERSIZE


def test_kafka_key_other_than_the_subject_is_key_mismatch() -> None:
    record = kafka_record(sample_envelope(("postal.dossier_accepted", 1)))

    assert reason_of(record.value, OTHER_DOSSIER_ID.encode()).reason is Reason.KEY_MISMATCH
    assert reason_of(record.value, b"").reason is Reason.KEY_MISMATCH


def test_reasons_are_the_closed_set_dead_letter_handling_relies_on() -> None:
    assert {reason.value for reason in Reason} == {
        "malformed_json",
        "not_an_envelope",
        "unknown_type",
        "unknown_version",
        "invalid_data",
        "oversize",
        "key_mismatch",
    }


# --- No personal data in errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "applicant_change",
    [
        {"phone": "0412 345 678"},
        {"name": "Nguyễn Văn An" * 20},
        {"id_number": "001085-012345"},
        {"address": {"line": "12 Phố Tràng Tiền", "commune": "", "province_code": "01"}},
        {"address": {"line": "12 Phố Tràng Tiền" * 30, "commune": "Phường Hoàn Kiếm", "province_code": "01"}},
        {"name": 42},
    ],
)
def test_errors_about_personal_data_do_not_repeat_it(applicant_change: dict[str, Any]) -> None:
    document = document_of(sample_envelope(("postal.dossier_accepted", 1)))
    document["data"]["applicant"].update(applicant_change)

    error = reason_of(raw_of(document))

    assert error.reason is Reason.INVALID_DATA
    assert "data.applicant" in error.detail
    for text in (error.detail, str(error)):
        for value in (*PERSONAL_VALUES, "0412 345 678", "0412345678", "001085-012345", "Nguyễn"):
            assert value not in text


def test_errors_never_carry_the_input_values_pydantic_would_attach() -> None:
    document = document_of(sample_envelope(("agency.dossier_registered_for_return", 1)))
    document["data"]["applicant"]["phone"] = "not a phone: Nguyễn Văn An"
    document["data"]["delivery_address"] = "12 Phố Tràng Tiền"

    error = reason_of(raw_of(document))

    assert error.reason is Reason.INVALID_DATA
    assert "Nguyễn" not in error.detail
    assert "Tràng Tiền" not in error.detail
