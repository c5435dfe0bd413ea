"""What makes two scans with one scan id the same scan: pure rules, no broker, no database."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from pydantic import TypeAdapter

from contracts import pydantic_internals
from services.post_office.fingerprints import canonical_json
from services.post_office.scan_commands import AnyScan, OnlineScanRequest, Scan, as_scan
from services.post_office.scan_identity import canonical, fingerprint, legacy_fingerprint, same_scan
from tests.post_office.helpers import online, scan

OFFICE = "100000"
OTHER_OFFICE = "700000"
SCAN_ID = "0b7c2f9e-5c1a-4d0e-9a43-6f1e2d3c4b5a"

_SCAN: TypeAdapter[AnyScan] = TypeAdapter(Scan)


def a_scan(**changes: Any) -> AnyScan:
    fields: dict[str, Any] = {
        "kind": "DELIVERY_FAILED",
        "scan_id": SCAN_ID,
        "item_id": "RR473124829VN",
        "scanned_at": "2025-03-25T10:40:00+07:00",
        "courier_id": "courier-0011",
        "reason": "NOT_AT_HOME",
        "invitation_left": True,
    }
    return _SCAN.validate_python(fields | changes)


def test_the_same_instant_written_in_utc_or_vietnam_time_has_one_fingerprint() -> None:
    local = fingerprint(OFFICE, a_scan(scanned_at="2025-03-25T10:40:00+07:00"))

    assert fingerprint(OFFICE, a_scan(scanned_at="2025-03-25T03:40:00Z")) == local
    assert fingerprint(OFFICE, a_scan(scanned_at="2025-03-25T03:40:00+00:00")) == local
    assert fingerprint(OFFICE, a_scan(scanned_at="2025-03-25T12:40:00+09:00")) == local


def test_the_same_scan_made_at_another_post_office_has_another_fingerprint() -> None:
    assert fingerprint(OTHER_OFFICE, a_scan()) != fingerprint(OFFICE, a_scan())


@pytest.mark.parametrize(
    "change",
    [
        {"item_id": "EB123456785VN"},
        {"scanned_at": "2025-03-25T10:40:01+07:00"},
        {"scanned_at": "2025-03-25T10:40:00.000001+07:00"},
        {"courier_id": "courier-0012"},
        {"reason": "REFUSED"},
        {"invitation_left": False},
        {"note": "gate locked"},
        {"next_attempt_on": "2025-03-26"},
        {"kind": "OUT_FOR_DELIVERY"},
    ],
)
def test_any_other_field_changed_makes_it_another_scan(change: dict[str, Any]) -> None:
    scan = a_scan(**change) if change.get("kind") != "OUT_FOR_DELIVERY" else _out_for_delivery()

    assert fingerprint(OFFICE, scan) != fingerprint(OFFICE, a_scan())


def _out_for_delivery() -> AnyScan:
    return _SCAN.validate_python(
        {
            "kind": "OUT_FOR_DELIVERY",
            "scan_id": SCAN_ID,
            "item_id": "RR473124829VN",
            "scanned_at": "2025-03-25T10:40:00+07:00",
            "courier_id": "courier-0011",
        }
    )


def test_an_optional_field_left_out_or_sent_empty_is_the_same_scan() -> None:
    assert fingerprint(OFFICE, a_scan(note=None, next_attempt_on=None)) == fingerprint(OFFICE, a_scan())


def test_codes_typed_in_another_case_or_with_spaces_are_the_same_scan() -> None:
    assert fingerprint(OFFICE, a_scan(item_id=" rr473124829vn ", courier_id=" courier-0011")) == (
        fingerprint(OFFICE, a_scan())
    )


def test_the_fingerprint_is_versioned_and_fits_the_stored_column() -> None:
    value = fingerprint(OFFICE, a_scan())

    assert value.startswith("v2:")
    assert len(value) <= 64  # post_office_scan.fingerprint is String(64)


def test_the_fingerprint_of_a_scan_is_stable_across_releases() -> None:
    # Stored fingerprints are compared with those computed by later releases: a change of this value
    # makes every recorded scan's retry a scan_id_reused. Change the format only as a new version.
    assert canonical_json(canonical(OFFICE, a_scan())) == (
        '{"courier_id":"courier-0011","invitation_left":true,"item_id":"RR473124829VN",'
        '"kind":"DELIVERY_FAILED","next_attempt_on":null,"note":null,"post_office_code":"100000",'
        '"reason":"NOT_AT_HOME","scanned_at":"2025-03-25T03:40:00.000000Z"}'
    )
    assert fingerprint(OFFICE, a_scan()) == "v2:by3DSmFksmSRZodnrPquuElaJ4f9YTvbBSny7tl126k"


def test_a_scan_matches_its_own_recorded_fingerprint_whatever_the_offset() -> None:
    recorded = fingerprint(OFFICE, a_scan())

    assert same_scan(recorded, OFFICE, OFFICE, a_scan(scanned_at="2025-03-25T03:40:00Z"))
    assert not same_scan(recorded, OFFICE, OTHER_OFFICE, a_scan())
    assert not same_scan(recorded, OFFICE, OFFICE, a_scan(invitation_left=False))


# --- rows recorded before fingerprints were versioned --------------------------------------------


def _as_recorded_before(scan_json: dict[str, Any]) -> str:
    """The fingerprint the previous release stored: sha256 of the scan's JSON as it was sent."""
    return hashlib.sha256(_SCAN.validate_python(scan_json).model_dump_json().encode()).hexdigest()


def test_the_legacy_fingerprint_is_the_one_the_previous_release_stored() -> None:
    scan = a_scan()
    assert legacy_fingerprint(scan) == hashlib.sha256(scan.model_dump_json().encode()).hexdigest()


def test_a_legacy_row_matches_a_retry_from_its_post_office_in_the_offset_it_was_sent_in() -> None:
    recorded = _as_recorded_before(a_scan().model_dump(mode="json"))

    assert same_scan(recorded, OFFICE, OFFICE, a_scan())


@pytest.mark.parametrize("sent_at", ["2025-03-25T10:40:00+07:00", "2025-03-25T03:40:00Z"])
@pytest.mark.parametrize("retried_at", ["2025-03-25T10:40:00+07:00", "2025-03-25T03:40:00Z"])
def test_a_legacy_row_matches_the_same_instant_written_in_utc_or_vietnam_time(
    sent_at: str, retried_at: str
) -> None:
    recorded = _as_recorded_before(a_scan(scanned_at=sent_at).model_dump(mode="json"))

    assert same_scan(recorded, OFFICE, OFFICE, a_scan(scanned_at=retried_at))


def test_a_legacy_row_does_not_match_the_same_scan_from_another_post_office() -> None:
    recorded = _as_recorded_before(a_scan().model_dump(mode="json"))

    assert not same_scan(recorded, OFFICE, OTHER_OFFICE, a_scan())


def test_a_legacy_row_does_not_match_another_scan() -> None:
    recorded = _as_recorded_before(a_scan().model_dump(mode="json"))

    assert not same_scan(recorded, OFFICE, OFFICE, a_scan(reason="REFUSED"))
    assert not same_scan(recorded, OFFICE, OFFICE, a_scan(scanned_at="2025-03-25T10:41:00+07:00"))


def test_scan_ids_stay_out_of_the_comparison_they_are_its_key() -> None:
    other_id = a_scan(scan_id=str(uuid.uuid4()))
    assert fingerprint(OFFICE, other_id) == fingerprint(OFFICE, a_scan())


_ONLINE: TypeAdapter[OnlineScanRequest] = TypeAdapter(OnlineScanRequest)


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("IN_TRANSIT", {"direction": "ARRIVED", "scanned_by": "clerk-0042"}),
        ("OUT_FOR_DELIVERY", {}),
        ("DELIVERY_FAILED", {}),
        ("DELIVERED", {"recipient_kind": "AUTHORISED_PROXY", "authorisation_checked": True}),
    ],
)
def test_a_scan_sent_online_is_the_scan_an_offline_batch_carries(kind: str, fields: dict[str, Any]) -> None:
    offline = _SCAN.validate_python(scan(kind, "RR473124829VN", "2025-03-25T10:40:00+07:00", **fields))
    request = _ONLINE.validate_python(
        online(scan(kind, "RR473124829VN", "2025-03-25T10:40:00+07:00"))
        | {
            **fields,
            "scan_id": str(offline.scan_id),
        }
    )

    carried = as_scan(request)

    assert type(carried) is type(offline)
    assert carried == offline
    assert carried.model_dump_json() == offline.model_dump_json()
    assert fingerprint(OFFICE, carried) == fingerprint(OFFICE, offline)
    # Built from the request's values, not validated again: built as pydantic itself would build it.
    pydantic_internals.check(carried)
