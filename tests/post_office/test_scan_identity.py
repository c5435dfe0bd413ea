"""Scan identity: a scan id names one scan, made at one post office at one instant.

The same instant written with another UTC offset is the same scan (a duplicate); the same scan id sent by
another post office, or with any other field changed, is another scan (scan_id_reused).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import update

from services.post_office.adapters.tables import post_office_scan
from services.post_office.scan_commands import AnyScan, Scan
from services.post_office.scan_identity import legacy_fingerprint
from services.shared.db.engine import make_engine
from tests.post_office.helpers import (
    OFFICE,
    OTHER_OFFICE,
    SCAN_PATHS,
    PostalTopic,
    PostOfficeClient,
    at,
    online,
    scan,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def in_utc(local: str) -> str:
    """The same instant as `local`, written in UTC with a Z."""
    return datetime.fromisoformat(local).astimezone(UTC).isoformat().replace("+00:00", "Z")


def batch(*scans: Any, post_office_code: str = OFFICE) -> dict[str, Any]:
    return {"post_office_code": post_office_code, "device_id": "scanner-17", "scans": list(scans)}


async def test_the_same_scan_id_sent_by_another_post_office_is_refused_with_409_scan_id_reused(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    receipt = await api.accepted_dossier()
    departed = scan("IN_TRANSIT", receipt["item_id"], at(14, 17))
    first = await api.post(SCAN_PATHS["IN_TRANSIT"], online(departed))

    elsewhere = await api.post(
        SCAN_PATHS["IN_TRANSIT"], online(departed, OTHER_OFFICE), token=api.tokens.other_clerk
    )

    assert first.status_code == 201
    assert (elsewhere.status_code, elsewhere.json()["reason"]) == (409, "scan_id_reused")
    await postal_topic.settled()
    assert len(postal_topic.of(receipt["dossier_id"])) == 2


async def test_a_batch_scan_whose_id_another_post_office_recorded_is_rejected_as_scan_id_reused(
    api: PostOfficeClient,
) -> None:
    receipt = await api.accepted_dossier()
    departed = scan("IN_TRANSIT", receipt["item_id"], at(14, 17))
    await api.ok("/v1/scans/batches", batch(departed))

    answer = await api.ok(
        "/v1/scans/batches", batch(departed, post_office_code=OTHER_OFFICE), token=api.tokens.other_clerk
    )

    assert (answer["scans"][0]["status"], answer["scans"][0]["reason"]) == ("rejected", "scan_id_reused")


async def test_the_same_instant_in_utc_and_in_vietnam_time_is_the_same_scan(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    receipt = await api.accepted_dossier()
    local = at(14, 17)
    departed = scan("IN_TRANSIT", receipt["item_id"], local)
    first = await api.post(SCAN_PATHS["IN_TRANSIT"], online(departed))

    again = await api.post(SCAN_PATHS["IN_TRANSIT"], online(departed | {"scanned_at": in_utc(local)}))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() | {"status": "duplicate"}
    await postal_topic.settled()
    assert len(postal_topic.of(receipt["dossier_id"])) == 2


async def test_a_scan_sent_online_in_vietnam_time_and_uploaded_in_utc_is_a_duplicate(
    api: PostOfficeClient,
) -> None:
    receipt = await api.accepted_dossier()
    local = at(14, 17)
    departed = scan("IN_TRANSIT", receipt["item_id"], local)
    sent = await api.ok(SCAN_PATHS["IN_TRANSIT"], online(departed))

    answer = await api.ok("/v1/scans/batches", batch(departed | {"scanned_at": in_utc(local)}))

    assert answer["scans"][0]["status"] == "duplicate"
    assert answer["scans"][0]["event_id"] == sent["event_id"]


async def test_an_optional_field_left_out_or_sent_empty_is_the_same_scan(api: PostOfficeClient) -> None:
    receipt = await api.accepted_dossier()
    departed = scan("IN_TRANSIT", receipt["item_id"], at(14, 17))
    await api.ok(SCAN_PATHS["IN_TRANSIT"], online(departed))

    again = await api.post(SCAN_PATHS["IN_TRANSIT"], online(departed | {"scanned_by": None}))

    assert (again.status_code, again.json()["status"]) == (200, "duplicate")


async def test_the_same_scan_id_at_another_instant_is_refused_with_409_scan_id_reused(
    api: PostOfficeClient,
) -> None:
    receipt = await api.accepted_dossier()
    departed = scan("IN_TRANSIT", receipt["item_id"], at(14, 17))
    await api.ok(SCAN_PATHS["IN_TRANSIT"], online(departed))

    later = await api.post(SCAN_PATHS["IN_TRANSIT"], online(departed | {"scanned_at": at(14, 17, minute=1)}))

    assert (later.status_code, later.json()["reason"]) == (409, "scan_id_reused")


async def _as_recorded_by_the_previous_release(database_url: str, sent: dict[str, Any]) -> None:
    """Rewrite a recorded scan's fingerprint as the release before versioned fingerprints stored it."""
    scan: AnyScan = TypeAdapter(Scan).validate_python(sent)
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(post_office_scan)
                .where(post_office_scan.c.scan_id == sent["scan_id"])
                .values(fingerprint=legacy_fingerprint(scan))
            )
    finally:
        await engine.dispose()


async def test_a_scan_recorded_before_fingerprints_were_versioned_is_still_a_duplicate_in_utc(
    api: PostOfficeClient, database_url: str
) -> None:
    receipt = await api.accepted_dossier()
    local = at(14, 17)
    departed = scan("IN_TRANSIT", receipt["item_id"], local)
    first = await api.ok(SCAN_PATHS["IN_TRANSIT"], online(departed))
    await _as_recorded_by_the_previous_release(database_url, departed)

    again = await api.post(SCAN_PATHS["IN_TRANSIT"], online(departed | {"scanned_at": in_utc(local)}))
    elsewhere = await api.post(
        SCAN_PATHS["IN_TRANSIT"], online(departed, OTHER_OFFICE), token=api.tokens.other_clerk
    )
    changed = await api.post(SCAN_PATHS["IN_TRANSIT"], online(departed | {"direction": "ARRIVED"}))

    assert (again.status_code, again.json()["event_id"]) == (200, first["event_id"])
    assert (elsewhere.status_code, elsewhere.json()["reason"]) == (409, "scan_id_reused")
    assert (changed.status_code, changed.json()["reason"]) == (409, "scan_id_reused")
