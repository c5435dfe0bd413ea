"""Version 2 of the two events that carried the applicant's contact: no personal data, and a v1 event
read through the upcaster looks like a v2 one (held by the old event itself, same phone check)."""

from __future__ import annotations

import json
import uuid

import pytest

from contracts.enums import PersonalDataHolder
from contracts.envelope import encode
from contracts.events import (
    ALL_EVENTS,
    DeliveryFailed,
    DeliveryFailedV2,
    DossierAccepted,
    DossierAcceptedV2,
    DossierRegisteredForReturn,
    DossierRegisteredForReturnV2,
    Event,
)
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_APPLICANT, sample_envelope
from services.shared.personal_data.phone_check import PhoneDigest
from services.shared.personal_data.upcast import upcast

DIGEST = PhoneDigest([b"upcast-tests-lookup-key-0123456789"])
PERSONAL = (
    SAMPLE_APPLICANT.name,
    SAMPLE_APPLICANT.phone,
    SAMPLE_ADDRESS.line,
    str(SAMPLE_APPLICANT.id_number),
)


def _personal_fields(model: type[Event]) -> list[str]:
    schema = json.dumps(model.model_json_schema())
    return ["x-personal-data"] if "x-personal-data" in schema else []


@pytest.mark.parametrize("model", [DossierAcceptedV2, DossierRegisteredForReturnV2])
def test_version_2_carries_no_personal_data_field(model: type[Event]) -> None:
    assert _personal_fields(model) == []


def test_the_latest_version_of_every_event_carries_no_personal_data() -> None:
    latest: dict[str, type[Event]] = {}
    for model in ALL_EVENTS:
        event_type, version = model.key()
        if event_type not in latest or latest[event_type].key()[1] < version:
            latest[event_type] = model
    assert sorted(m.key()[0] for m in latest.values() if _personal_fields(m)) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [(DossierAccepted, DossierAcceptedV2), (DossierRegisteredForReturn, DossierRegisteredForReturnV2)],
)
def test_a_version_1_event_reads_as_version_2_held_by_the_old_event(
    old: type[Event], new: type[Event]
) -> None:
    dossier_id = str(uuid.uuid4())
    envelope = sample_envelope(old, dossier_id)
    upcast_envelope = upcast(envelope, DIGEST)
    data = upcast_envelope.data
    assert isinstance(data, new)
    assert (upcast_envelope.schemaversion, upcast_envelope.id, upcast_envelope.time) == (
        2,
        envelope.id,
        envelope.time,
    )
    assert upcast_envelope.dataschema is not None and upcast_envelope.dataschema.endswith(".v2")
    assert isinstance(data, DossierAcceptedV2 | DossierRegisteredForReturnV2)
    assert data.held_by is PersonalDataHolder.EVENT_V1
    assert DIGEST.matches(dossier_id, SAMPLE_APPLICANT.phone[-4:], data.phone_check)
    raw = encode(upcast_envelope).decode()
    assert not [value for value in PERSONAL if value in raw]


def test_other_events_pass_through_unchanged() -> None:
    envelope = sample_envelope("postal.result_delivered")
    assert upcast(envelope, DIGEST) is envelope
    v2 = sample_envelope(DossierAcceptedV2)
    assert upcast(v2, DIGEST) is v2


def test_a_version_1_failed_attempt_reads_as_version_2_without_its_note() -> None:
    envelope = sample_envelope(DeliveryFailed, note="Gọi 0912 345 678, nhà Nguyễn Văn An")
    upcast_envelope = upcast(envelope, DIGEST)
    assert isinstance(upcast_envelope.data, DeliveryFailedV2) and upcast_envelope.data.note_held
    assert "0912" not in encode(upcast_envelope).decode()
