"""The event registry and the rules the event models enforce on their own."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import topics
from contracts.enums import CustodyHolderKind
from contracts.events import (
    AGENCY,
    ALL_EVENTS,
    EVENT_TOPICS,
    EVENT_TYPES,
    CustodyHolder,
    Event,
    events_on,
    topic_for,
    versions_of,
)
from contracts.samples import sample_event


def test_every_event_is_registered_once_under_its_own_type_and_version() -> None:
    assert len(EVENT_TYPES) == len(ALL_EVENTS)
    for (event_type, version), model in EVENT_TYPES.items():
        assert model.key() == (event_type, version)
        assert re.fullmatch(r"(postal|agency|tracker|turnaround)\.[a-z_]+", event_type)


@pytest.mark.parametrize("model", ALL_EVENTS, ids=lambda m: m.__name__)
def test_every_event_documents_what_happened_and_tolerates_extra_fields(model: type[Event]) -> None:
    assert model.__doc__ and model.__doc__.strip()
    assert model.model_config.get("extra") == "ignore"
    assert model.model_config.get("frozen") is True


@pytest.mark.parametrize(
    ("prefix", "topic"),
    [
        ("postal", topics.POSTAL_EVENTS),
        ("agency", topics.AGENCY_EVENTS),
        ("tracker", topics.STAGE_CHANGED),
        ("turnaround", topics.CLOCK_ALERTS),
    ],
)
def test_the_type_prefix_names_the_producer_and_its_topic(prefix: str, topic: topics.Topic) -> None:
    keys = [key for key in EVENT_TYPES if key[0].startswith(f"{prefix}.")]
    assert keys
    for key in keys:
        assert EVENT_TOPICS[key] == topic == topic_for(key[0])
        assert EVENT_TYPES[key] in events_on(topic)


def test_raw_agency_intake_carries_the_same_envelopes_as_validated_agency_events() -> None:
    assert events_on(topics.AGENCY_INTAKE) == events_on(topics.AGENCY_EVENTS) == AGENCY


def test_dead_letter_topics_carry_no_typed_events() -> None:
    assert topics.POSTAL_EVENTS.dead_letter is not None
    assert events_on(topics.POSTAL_EVENTS.dead_letter) == ()


def test_unknown_type_has_no_topic_and_no_versions() -> None:
    with pytest.raises(KeyError):
        topic_for("courier.teleported")
    assert versions_of("postal.dossier_teleported") == ()
    assert versions_of("postal.dossier_accepted") == (1, 2)


def test_a_dossier_accepted_by_post_cannot_have_the_receive_result_form() -> None:
    with pytest.raises(ValidationError, match="SEND_DOSSIER or SEND_AND_RECEIVE"):
        sample_event("postal.dossier_accepted", service_form="RECEIVE_RESULT")


def test_a_dossier_is_not_accepted_without_documents() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        sample_event("postal.dossier_accepted", documents=[])


@pytest.mark.parametrize(
    ("appointment", "flag", "valid"),
    [
        (date(2025, 3, 27), False, True),
        (date(2025, 3, 28), True, True),
        (date(2025, 3, 28), False, False),
        (date(2025, 3, 26), True, False),
    ],
)
def test_appointment_later_than_legal_flag_must_agree_with_the_dates(
    appointment: date, flag: bool, valid: bool
) -> None:
    changes: dict[str, Any] = {"appointment_date": appointment, "appointment_later_than_legal": flag}
    if valid:
        sample_event("agency.dossier_received", **changes)
    else:
        with pytest.raises(ValidationError, match="appointment_later_than_legal"):
            sample_event("agency.dossier_received", **changes)


def test_a_citizen_holding_the_result_is_not_identified_by_a_code() -> None:
    CustodyHolder(kind=CustodyHolderKind.CITIZEN)
    with pytest.raises(ValidationError, match="not identified by a code"):
        CustodyHolder(kind=CustodyHolderKind.CITIZEN, code="0912345678")
    with pytest.raises(ValidationError, match="needs its code"):
        CustodyHolder(kind=CustodyHolderKind.AGENCY)


def test_handover_of_a_result_item_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="DOSSIER or SUPPLEMENT"):
        sample_event("postal.dossier_handed_to_agency", item_kind="RESULT")


def test_applicant_contact_and_delivery_address_are_marked_personal_data() -> None:
    accepted = EVENT_TYPES[("postal.dossier_accepted", 1)].model_json_schema()
    registered = EVENT_TYPES[("agency.dossier_registered_for_return", 1)].model_json_schema()
    contact = accepted["$defs"]["ApplicantContact"]["properties"]

    assert accepted["properties"]["applicant"]["x-personal-data"] is True
    assert registered["properties"]["delivery_address"]["x-personal-data"] is True
    for field in ("name", "phone", "address", "id_number"):
        assert contact[field]["x-personal-data"] is True
