"""Offline scanners: batches of up to 1,000 scans, applied in scan time order, idempotent by scan id."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from contracts.values import dossier_id_for_item
from tests.post_office.helpers import (
    OFFICE,
    PostalTopic,
    PostOfficeClient,
    at,
    new_agency_dossier_code,
    new_item_id,
    scan,
    utc_now,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def batch(*scans: Any, post_office_code: str = OFFICE) -> dict[str, Any]:
    return {"post_office_code": post_office_code, "device_id": "scanner-17", "scans": list(scans)}


async def test_a_batch_is_applied_in_scan_time_order_and_answers_per_scan(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    result = await api.picked_up_result()
    item_id = result["result_item_id"]
    round_one = scan("OUT_FOR_DELIVERY", item_id, at(25, 8))
    failed = scan("DELIVERY_FAILED", item_id, at(25, 10, minute=40))
    round_two = scan("OUT_FOR_DELIVERY", item_id, at(26, 8))
    delivered = scan("DELIVERED", item_id, at(26, 9, minute=5))
    sent = [delivered, round_two, round_one, failed]  # as a device might flush them

    answer = await api.ok("/v1/scans/batches", batch(*sent))

    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (4, 0, 0)
    assert [s["scan_id"] for s in answer["scans"]] == [s["scan_id"] for s in sent]
    assert [s["index"] for s in answer["scans"]] == [0, 1, 2, 3]
    events = await postal_topic.wait_for(result["dossier_id"], 5)
    assert [e.type for e in events] == [
        "postal.result_picked_up",
        "postal.result_out_for_delivery",
        "postal.delivery_failed",
        "postal.result_out_for_delivery",
        "postal.result_delivered",
    ]
    by_scan = {s["scan_id"]: s["event_id"] for s in answer["scans"]}
    assert [str(e.id) for e in events[1:]] == [
        by_scan[s["scan_id"]] for s in (round_one, failed, round_two, delivered)
    ]
    assert events[2].time.isoformat() == "2025-03-25T10:40:00+07:00"


async def test_sending_the_same_batch_again_changes_nothing(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    receipt = await api.accepted_dossier()
    body = batch(
        scan("IN_TRANSIT", receipt["item_id"], at(14, 17), direction="DEPARTED"),
        scan("IN_TRANSIT", receipt["item_id"], at(15, 6), direction="ARRIVED"),
    )
    first = await api.ok("/v1/scans/batches", body)

    again = await api.ok("/v1/scans/batches", body)

    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 2, 0)
    assert [s["event_id"] for s in again["scans"]] == [s["event_id"] for s in first["scans"]]
    assert {s["status"] for s in again["scans"]} == {"duplicate"}
    await postal_topic.settled()
    assert len(postal_topic.of(receipt["dossier_id"])) == 3


async def test_a_scan_recorded_online_is_a_duplicate_when_its_device_uploads_it_later(
    api: PostOfficeClient,
) -> None:
    receipt = await api.accepted_dossier()
    transit = scan("IN_TRANSIT", receipt["item_id"], at(14, 17))
    online = await api.ok("/v1/scans/in-transit", transit | {"post_office_code": OFFICE})

    answer = await api.ok("/v1/scans/batches", batch(transit))

    assert answer["scans"][0]["status"] == "duplicate"
    assert answer["scans"][0]["event_id"] == online["event_id"]


async def test_malformed_unknown_and_future_scans_are_rejected_alone_and_the_rest_go_through(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    receipt = await api.accepted_dossier()
    item_id = receipt["item_id"]
    good = scan("IN_TRANSIT", item_id, at(14, 17))
    bad_s10 = scan("IN_TRANSIT", "EB123456784VN", at(14, 18))
    unknown = scan("IN_TRANSIT", new_item_id(), at(14, 18))
    future = scan("IN_TRANSIT", item_id, (utc_now() + timedelta(hours=3)).isoformat())
    wrong_kind = scan("OUT_FOR_DELIVERY", item_id, at(14, 19))
    no_such_kind = {"kind": "TELEPORTED", "scan_id": "not-a-uuid"}

    answer = await api.ok(
        "/v1/scans/batches", batch(good, bad_s10, unknown, future, wrong_kind, no_such_kind, "junk")
    )

    outcomes = [(s["status"], s.get("reason")) for s in answer["scans"]]
    assert outcomes == [
        ("accepted", None),
        ("rejected", "invalid_scan"),
        ("rejected", "unknown_item"),
        ("rejected", "time_in_future"),
        ("rejected", "not_a_result"),
        ("rejected", "invalid_scan"),
        ("rejected", "invalid_scan"),
    ]
    assert answer["scans"][1]["scan_id"] == bad_s10["scan_id"]
    assert answer["scans"][1]["errors"][0]["loc"] == ["IN_TRANSIT", "item_id"]
    assert answer["scans"][5]["scan_id"] is None
    assert "TELEPORTED" not in str(answer["scans"][5]["errors"])
    await postal_topic.settled()
    assert len(postal_topic.of(receipt["dossier_id"])) == 2


async def test_a_scan_whose_only_fault_is_a_time_without_offset_is_rejected_alone_as_such(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    # A device that writes local time without its offset: the fix is the same for every such scan (write
    # +07:00), so the clerk's screen gets that reason, not a generic schema error.
    receipt = await api.accepted_dossier()
    item_id = receipt["item_id"]
    naive = scan("IN_TRANSIT", item_id, "2026-03-14T17:00:00")
    naive_and_bad_s10 = scan("IN_TRANSIT", "EB123456784VN", "2026-03-14T17:05:00")
    good = scan("IN_TRANSIT", item_id, at(14, 18))

    answer = await api.ok("/v1/scans/batches", batch(naive, naive_and_bad_s10, good))

    outcomes = [(s["status"], s.get("reason")) for s in answer["scans"]]
    assert outcomes == [
        ("rejected", "time_without_offset"),
        ("rejected", "invalid_scan"),
        ("accepted", None),
    ]
    assert "scanned_at" in answer["scans"][0]["detail"]
    assert "2026-03-14T17:00:00" not in str(answer), "the value is not echoed"
    assert answer["scans"][0]["errors"][0]["loc"] == ["IN_TRANSIT", "scanned_at"]
    await postal_topic.settled()
    assert len(postal_topic.of(receipt["dossier_id"])) == 2


async def test_a_rejected_scan_is_judged_again_when_sent_again(api: PostOfficeClient) -> None:
    result_item = new_item_id("RR")
    early = scan("OUT_FOR_DELIVERY", result_item, at(25, 8))
    first = await api.ok("/v1/scans/batches", batch(early))
    assert first["scans"][0]["reason"] == "unknown_item"
    # The pickup reaches the service after the device's upload.
    await api.ok(
        "/v1/pickups",
        {
            "result_item_id": result_item,
            "agency_dossier_code": new_agency_dossier_code(),
            "pickup_record_id": "PN-9",
            "agency_code": "000.00.01.H22",
            "post_office_code": OFFICE,
            "postal_worker_id": "postman-0007",
            "agency_officer_id": "officer-0003",
            "route_class": "LOCAL",
            "picked_up_at": at(24, 14),
        },
    )

    again = await api.ok("/v1/scans/batches", batch(early))

    assert again["scans"][0]["status"] == "accepted"


async def test_a_scan_id_reused_for_another_scan_is_rejected(api: PostOfficeClient) -> None:
    receipt = await api.accepted_dossier()
    departed = scan("IN_TRANSIT", receipt["item_id"], at(14, 17))
    await api.ok("/v1/scans/batches", batch(departed))

    answer = await api.ok("/v1/scans/batches", batch(departed | {"direction": "ARRIVED"}))

    assert (answer["scans"][0]["status"], answer["scans"][0]["reason"]) == ("rejected", "scan_id_reused")


async def test_a_batch_of_more_than_1000_scans_is_refused_with_413(api: PostOfficeClient) -> None:
    item_id = new_item_id()
    scans = [scan("IN_TRANSIT", item_id, at(14, 17)) for _ in range(1001)]

    response = await api.post("/v1/scans/batches", batch(*scans))

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "batch_too_large"


async def test_an_empty_batch_is_refused_with_422(api: PostOfficeClient) -> None:
    response = await api.post("/v1/scans/batches", batch())

    assert response.status_code == 422


async def test_a_full_batch_of_1000_scans_is_recorded_and_published(
    api: PostOfficeClient, postal_topic: PostalTopic, seed: int
) -> None:
    items = [(await api.accepted_dossier())["item_id"] for _ in range(10)]
    scans = [
        scan(
            "IN_TRANSIT",
            item_id,
            at(15, 6 + n // 60, minute=n % 60),
            direction=("DEPARTED", "ARRIVED")[n % 2],
        )
        for item_id in items
        for n in range(100)
    ]
    random.Random(seed).shuffle(scans)

    answer = await api.ok("/v1/scans/batches", batch(*scans))

    assert answer["accepted"] == 1000
    for item_id in items:
        events = await postal_topic.wait_for(dossier_id_for_item(item_id), 101)
        directions = [e.data.model_dump(mode="json")["direction"] for e in events[1:]]
        assert directions == ["DEPARTED", "ARRIVED"] * 50  # scan time order, whatever the upload order
