"""Handover to the agency: one signed record, many items, each judged on its own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.values import dossier_id_for_item
from tests.post_office.helpers import (
    AGENCY,
    OTHER_AGENCY,
    SIGNED_AT,
    PostalTopic,
    PostOfficeClient,
    handover,
    new_item_id,
    utc_now,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_a_manifest_hands_every_listed_dossier_over_with_one_event_each(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    items = [(await api.accepted_dossier())["item_id"] for _ in range(3)]
    manifest = handover(items)

    result = await api.ok("/v1/handovers", manifest)

    assert (result["accepted"], result["duplicates"], result["rejected"]) == (3, 0, 0)
    assert [i["item_id"] for i in result["items"]] == items
    for item_id, outcome in zip(items, result["items"], strict=True):
        _, handed = await postal_topic.wait_for(dossier_id_for_item(item_id), 2)
        assert handed.type == "postal.dossier_handed_to_agency"
        assert str(handed.id) == outcome["event_id"]
        data = handed.data.model_dump(mode="json")
        assert data["handover_record_id"] == manifest["handover_record_id"]
        assert data["agency_officer_id"] == "officer-0003"
        assert data["agency_code"] == AGENCY
        # The signing time is the filing time that starts the agency clock.
        assert data["signed_at"] == SIGNED_AT.isoformat()
        assert handed.time == SIGNED_AT


async def test_bad_unknown_misaddressed_and_handed_over_items_are_reported_per_item_and_the_rest_go_through(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    good = (await api.accepted_dossier())["item_id"]
    other_agency = (await api.accepted_dossier(agency_code=OTHER_AGENCY))["item_id"]
    earlier = (await api.handed_over_dossier())["item_id"]
    unknown = new_item_id()
    last = (await api.accepted_dossier())["item_id"]

    result = await api.ok(
        "/v1/handovers", handover([good, unknown, other_agency, "EB12345678VN", earlier, good.lower(), last])
    )

    outcomes = [(i["item_id"], i["status"], i.get("reason")) for i in result["items"]]
    assert outcomes == [
        (good, "accepted", None),
        (unknown, "rejected", "unknown_item"),
        (other_agency, "rejected", "wrong_agency"),
        (None, "rejected", "invalid_item_id"),
        (earlier, "rejected", "already_handed_over"),
        (good, "rejected", "duplicate_in_manifest"),
        (last, "accepted", None),
    ]
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (2, 0, 5)
    assert "agency 000.00.02.H22" in result["items"][2]["detail"]
    await postal_topic.wait_for(dossier_id_for_item(last), 2)
    await postal_topic.settled()
    assert [e.type for e in postal_topic.of(dossier_id_for_item(other_agency))] == ["postal.dossier_accepted"]
    assert len(postal_topic.of(dossier_id_for_item(earlier))) == 2  # accepted, handed over once


async def test_the_same_manifest_sent_again_reports_duplicates_and_publishes_nothing(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    items = [(await api.accepted_dossier())["item_id"] for _ in range(2)]
    manifest = handover(items)
    first = await api.ok("/v1/handovers", manifest)

    again = await api.ok("/v1/handovers", manifest)

    assert [i["status"] for i in again["items"]] == ["duplicate", "duplicate"]
    assert [i["event_id"] for i in again["items"]] == [i["event_id"] for i in first["items"]]
    await postal_topic.settled()
    for item_id in items:
        assert len(postal_topic.of(dossier_id_for_item(item_id))) == 2


async def test_a_record_number_sent_again_with_other_signers_is_refused_with_409(
    api: PostOfficeClient,
) -> None:
    manifest = handover([(await api.accepted_dossier())["item_id"]])
    await api.ok("/v1/handovers", manifest)

    response = await api.post(
        "/v1/handovers", manifest | {"agency_officer_id": "officer-9999", "item_ids": [new_item_id()]}
    )

    assert response.status_code == 409
    assert response.json()["reason"] == "handover_record_conflict"


async def test_a_manifest_signed_in_the_future_is_refused_with_422(api: PostOfficeClient) -> None:
    item_id = (await api.accepted_dossier())["item_id"]

    response = await api.post(
        "/v1/handovers", handover([item_id], signed_at=(utc_now() + timedelta(hours=2)).isoformat())
    )

    assert response.status_code == 422
    assert response.json()["reason"] == "time_in_future"


async def test_an_empty_manifest_is_refused_with_422(api: PostOfficeClient) -> None:
    response = await api.post("/v1/handovers", handover([]))

    assert response.status_code == 422
    assert response.json()["reason"] == "invalid_request"
