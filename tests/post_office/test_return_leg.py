"""The return leg: pickup at the agency, delivery attempts, delivery, return; transit scans; incidents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from contracts.values import dossier_id_for_agency_code, dossier_id_for_item
from tests.post_office.helpers import (
    OTHER_AGENCY,
    SCAN_PATHS,
    PostalTopic,
    PostOfficeClient,
    acceptance,
    at,
    handover,
    incident,
    new_item_id,
    online,
    pickup,
    returning,
    scan,
    utc_now,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def _scan(api: PostOfficeClient, kind: str, item_id: str, when: str, **fields: Any) -> dict[str, Any]:
    return await api.ok(SCAN_PATHS[kind], online(scan(kind, item_id, when, **fields)))


async def _failed_twice(api: PostOfficeClient, item_id: str, first_day: int, second_day: int) -> None:
    for day in (first_day, second_day):
        await _scan(api, "OUT_FOR_DELIVERY", item_id, at(day, 8))
        await _scan(api, "DELIVERY_FAILED", item_id, at(day, 10))


# --------------------------------------------------------------------------- pickup


async def test_a_result_of_a_dossier_sent_by_post_is_picked_up_linked_to_its_dossier(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    dossier_item = (await api.handed_over_dossier())["item_id"]
    result_item = new_item_id("RR")

    response = await api.post("/v1/pickups", pickup(result_item, dossier_item_id=dossier_item))

    assert response.status_code == 201, response.text
    receipt = response.json()
    dossier_id = dossier_id_for_item(dossier_item)
    # Picked up on Monday 24 March 2025, within one province: J+2 is Wednesday 26 March.
    assert receipt == {
        "result_item_id": result_item,
        "dossier_id": dossier_id,
        "event_id": receipt["event_id"],
        "return_due_date": "2025-03-26",
        "replayed": False,
    }
    *_, picked_up = await postal_topic.wait_for(dossier_id, 3)
    assert picked_up.type == "postal.result_picked_up"
    assert str(picked_up.id) == receipt["event_id"]
    data = picked_up.data.model_dump(mode="json")
    assert (data["result_item_id"], data["dossier_item_id"]) == (result_item, dossier_item)


async def test_a_result_of_a_dossier_filed_at_the_agency_is_identified_by_the_agency_dossier_code(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    body = pickup(new_item_id("RR"))

    receipt = await api.ok("/v1/pickups", body)

    assert receipt["dossier_id"] == dossier_id_for_agency_code(body["agency_dossier_code"])
    (picked_up,) = await postal_topic.wait_for(receipt["dossier_id"], 1)
    assert picked_up.data.model_dump()["dossier_item_id"] is None
    # The same pickup sent again is a replay.
    again = await api.post("/v1/pickups", body)
    assert (again.status_code, again.json()["replayed"]) == (200, True)


async def test_a_pickup_for_a_dossier_whose_citizen_collects_in_person_is_refused_with_409(
    api: PostOfficeClient,
) -> None:
    dossier_item = (await api.handed_over_dossier(service_form="SEND_DOSSIER"))["item_id"]

    response = await api.post("/v1/pickups", pickup(new_item_id("RR"), dossier_item_id=dossier_item))

    assert response.status_code == 409
    assert response.json()["reason"] == "result_not_by_post"


async def test_a_pickup_for_a_dossier_not_yet_handed_over_is_refused_with_409(api: PostOfficeClient) -> None:
    dossier_item = (await api.accepted_dossier())["item_id"]

    response = await api.post("/v1/pickups", pickup(new_item_id("RR"), dossier_item_id=dossier_item))

    assert response.status_code == 409
    assert response.json()["reason"] == "dossier_not_handed_over"


async def test_a_pickup_from_another_agency_than_the_dossiers_is_refused_with_409(
    api: PostOfficeClient,
) -> None:
    dossier_item = (await api.handed_over_dossier())["item_id"]
    body = pickup(new_item_id("RR"), dossier_item_id=dossier_item, agency_code=OTHER_AGENCY)

    response = await api.post("/v1/pickups", body)

    assert response.status_code == 409
    assert response.json()["reason"] == "wrong_agency"


async def test_a_pickup_for_an_unknown_dossier_item_is_refused_with_404(api: PostOfficeClient) -> None:
    response = await api.post("/v1/pickups", pickup(new_item_id("RR"), dossier_item_id=new_item_id()))

    assert response.status_code == 404
    assert response.json()["reason"] == "unknown_item"


async def test_a_result_item_id_already_used_for_a_dossier_is_refused_with_409(api: PostOfficeClient) -> None:
    dossier_item = (await api.handed_over_dossier())["item_id"]

    response = await api.post("/v1/pickups", pickup(dossier_item, dossier_item_id=dossier_item))

    assert response.status_code == 409
    assert response.json()["reason"] == "item_already_used"


async def test_a_pickup_in_the_future_is_refused_with_422(api: PostOfficeClient) -> None:
    later = (utc_now() + timedelta(days=1)).isoformat()

    response = await api.post("/v1/pickups", pickup(new_item_id("RR"), picked_up_at=later))

    assert response.status_code == 422
    assert response.json()["reason"] == "time_in_future"


# --------------------------------------------------------------------------- delivery


async def test_a_result_fails_once_then_is_delivered_on_the_second_attempt(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    result = await api.picked_up_result()
    item_id = result["result_item_id"]

    await _scan(api, "OUT_FOR_DELIVERY", item_id, at(25, 8))
    await _scan(
        api, "DELIVERY_FAILED", item_id, at(25, 10), reason="ADDRESS_NOT_FOUND", invitation_left=False
    )
    await _scan(api, "OUT_FOR_DELIVERY", item_id, at(26, 8))
    delivered = await _scan(
        api,
        "DELIVERED",
        item_id,
        at(26, 9),
        recipient_kind="AUTHORISED_PROXY",
        authorisation_checked=True,
        id_document_type="PASSPORT",
    )

    assert delivered["status"] == "accepted"
    events = await postal_topic.wait_for(result["dossier_id"], 5)
    assert [(e.type, e.data.model_dump().get("attempt")) for e in events] == [
        ("postal.result_picked_up", None),
        ("postal.result_out_for_delivery", 1),
        ("postal.delivery_failed", 1),
        ("postal.result_out_for_delivery", 2),
        ("postal.result_delivered", 2),
    ]
    assert events[2].data.model_dump()["reason"] == "ADDRESS_NOT_FOUND"
    assert events[-1].data.model_dump()["recipient_kind"] == "AUTHORISED_PROXY"
    # Delivered is the end of the leg.
    again = await api.post(
        SCAN_PATHS["OUT_FOR_DELIVERY"], online(scan("OUT_FOR_DELIVERY", item_id, at(27, 8)))
    )
    assert (again.status_code, again.json()["reason"]) == (409, "not_in_postal_custody")


async def test_a_result_collected_at_the_counter_after_an_invitation_is_delivered(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    result = await api.picked_up_result()
    item_id = result["result_item_id"]
    await _scan(api, "OUT_FOR_DELIVERY", item_id, at(25, 8))
    await _scan(api, "DELIVERY_FAILED", item_id, at(25, 10))

    await _scan(api, "DELIVERED", item_id, at(26, 15), courier_id="clerk-0042")

    *_, delivered = await postal_topic.wait_for(result["dossier_id"], 4)
    assert (delivered.type, delivered.data.model_dump()["attempt"]) == ("postal.result_delivered", 2)


async def test_the_same_online_scan_sent_again_answers_200_duplicate_with_the_same_event_id(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    result = await api.picked_up_result()
    body = online(scan("OUT_FOR_DELIVERY", result["result_item_id"], at(25, 8)))
    first = await api.post(SCAN_PATHS["OUT_FOR_DELIVERY"], body)

    again = await api.post(SCAN_PATHS["OUT_FOR_DELIVERY"], body)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() | {"status": "duplicate"}
    await postal_topic.settled()
    assert len(postal_topic.of(result["dossier_id"])) == 2


async def test_a_failed_delivery_without_an_attempt_under_way_is_refused_with_409(
    api: PostOfficeClient,
) -> None:
    result = await api.picked_up_result()

    response = await api.post(
        SCAN_PATHS["DELIVERY_FAILED"], online(scan("DELIVERY_FAILED", result["result_item_id"], at(25, 10)))
    )

    assert response.status_code == 409
    assert response.json()["reason"] == "not_out_for_delivery"


async def test_a_delivery_to_an_unverified_recipient_is_refused_with_422(api: PostOfficeClient) -> None:
    result = await api.picked_up_result()
    await _scan(api, "OUT_FOR_DELIVERY", result["result_item_id"], at(25, 8))

    response = await api.post(
        SCAN_PATHS["DELIVERED"],
        online(scan("DELIVERED", result["result_item_id"], at(25, 9), identity_verified=False)),
    )

    assert response.status_code == 422
    assert response.json()["reason"] == "identity_not_verified"


async def test_an_inbound_dossier_cannot_go_out_for_delivery(api: PostOfficeClient) -> None:
    dossier_item = (await api.accepted_dossier())["item_id"]

    response = await api.post(
        SCAN_PATHS["OUT_FOR_DELIVERY"], online(scan("OUT_FOR_DELIVERY", dossier_item, at(15, 8)))
    )

    assert response.status_code == 409
    assert response.json()["reason"] == "not_a_result"


async def test_a_scan_of_an_unknown_item_is_refused_with_404(api: PostOfficeClient) -> None:
    response = await api.post(
        SCAN_PATHS["OUT_FOR_DELIVERY"], online(scan("OUT_FOR_DELIVERY", new_item_id("RR"), at(25, 8)))
    )

    assert response.status_code == 404
    assert response.json()["reason"] == "unknown_item"


async def test_a_scan_with_a_bad_s10_item_id_is_refused_with_422(api: PostOfficeClient) -> None:
    response = await api.post(
        SCAN_PATHS["IN_TRANSIT"], online(scan("IN_TRANSIT", "RR4731248290VN", at(25, 8)))
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "item_id"]


async def test_a_scan_dated_in_the_future_is_refused_with_422(api: PostOfficeClient) -> None:
    result = await api.picked_up_result()
    later = (utc_now() + timedelta(minutes=30)).isoformat()

    response = await api.post(
        SCAN_PATHS["OUT_FOR_DELIVERY"], online(scan("OUT_FOR_DELIVERY", result["result_item_id"], later))
    )

    assert response.status_code == 422
    assert response.json()["reason"] == "time_in_future"


# --------------------------------------------------------------------------- return to the agency


async def test_a_result_returns_to_the_agency_after_two_failed_attempts_two_working_days_apart(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    result = await api.picked_up_result()
    item_id = result["result_item_id"]
    await _failed_twice(api, item_id, 25, 27)  # Tuesday and Thursday

    response = await api.post("/v1/returns", returning(item_id))

    assert response.status_code == 201, response.text
    returned = (await postal_topic.wait_for(result["dossier_id"], 6))[-1]
    assert returned.type == "postal.result_returned_to_agency"
    assert str(returned.id) == response.json()["event_id"]
    assert (returned.data.model_dump()["attempts"], returned.data.model_dump()["reason"]) == (
        2,
        "NOT_AT_HOME",
    )
    again = await api.post("/v1/returns", returning(item_id))
    assert (again.status_code, again.json()["reason"]) == (409, "not_in_postal_custody")


async def test_a_return_after_a_single_failed_attempt_is_refused_with_409(api: PostOfficeClient) -> None:
    result = await api.picked_up_result()
    await _scan(api, "OUT_FOR_DELIVERY", result["result_item_id"], at(25, 8))
    await _scan(api, "DELIVERY_FAILED", result["result_item_id"], at(25, 10))

    response = await api.post("/v1/returns", returning(result["result_item_id"]))

    assert response.status_code == 409
    assert response.json()["reason"] == "too_few_failed_attempts"


async def test_a_return_after_attempts_one_working_day_apart_is_refused_with_409(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    result = await api.picked_up_result()
    await _failed_twice(api, result["result_item_id"], 28, 31)  # Friday and Monday: one working day

    response = await api.post("/v1/returns", returning(result["result_item_id"]))

    assert response.status_code == 409
    problem = response.json()
    assert problem["reason"] == "failed_attempts_too_close"
    assert "2025-03-28 and 2025-03-31 are 1 working day" in problem["detail"]
    await postal_topic.settled()
    assert postal_topic.of(result["dossier_id"])[-1].type == "postal.delivery_failed"


async def test_a_return_while_the_result_is_out_for_delivery_is_refused_with_409(
    api: PostOfficeClient,
) -> None:
    result = await api.picked_up_result()
    await _failed_twice(api, result["result_item_id"], 25, 27)
    await _scan(api, "OUT_FOR_DELIVERY", result["result_item_id"], at(28, 8))

    response = await api.post("/v1/returns", returning(result["result_item_id"]))

    assert response.status_code == 409
    assert response.json()["reason"] == "already_out_for_delivery"


async def test_a_return_to_another_agency_is_refused_with_409(api: PostOfficeClient) -> None:
    result = await api.picked_up_result()
    await _failed_twice(api, result["result_item_id"], 25, 27)

    response = await api.post("/v1/returns", returning(result["result_item_id"], agency_code=OTHER_AGENCY))

    assert response.status_code == 409
    assert response.json()["reason"] == "wrong_agency"


async def test_a_return_of_an_unknown_result_is_refused_with_404(api: PostOfficeClient) -> None:
    response = await api.post("/v1/returns", returning(new_item_id("RR")))

    assert response.status_code == 404


# --------------------------------------------------------------------------- transit and incidents


async def test_transit_scans_record_departures_and_arrivals_of_a_dossier(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    receipt = await api.accepted_dossier()

    await _scan(api, "IN_TRANSIT", receipt["item_id"], at(14, 17), direction="DEPARTED")
    await _scan(api, "IN_TRANSIT", receipt["item_id"], at(15, 6), direction="ARRIVED", scanned_by="sorter-3")

    _, departed, arrived = await postal_topic.wait_for(receipt["dossier_id"], 3)
    assert [e.data.model_dump(mode="json")["direction"] for e in (departed, arrived)] == [
        "DEPARTED",
        "ARRIVED",
    ]
    assert departed.data.model_dump(mode="json")["item_kind"] == "DOSSIER"
    assert departed.data.model_dump()["facility_code"] == "100000"
    # In transit it can still be handed over.
    assert (await api.ok("/v1/handovers", handover([receipt["item_id"]])))["accepted"] == 1


async def test_a_lost_dossier_is_declared_and_can_no_longer_be_handed_over(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    receipt = await api.accepted_dossier()

    lost = await api.post("/v1/losses", incident(receipt["item_id"], at_fault=True, compensation_vnd=144_000))

    assert lost.status_code == 201, lost.text
    _, event = await postal_topic.wait_for(receipt["dossier_id"], 2)
    assert (event.type, event.data.model_dump(mode="json")["stage"]) == ("postal.item_lost", "ACCEPTED")
    result = await api.ok("/v1/handovers", handover([receipt["item_id"]]))
    assert result["items"][0]["reason"] == "not_in_postal_custody"


async def test_compensation_below_four_times_the_postage_is_refused_with_422(api: PostOfficeClient) -> None:
    receipt = await api.accepted_dossier()  # postage 36,000 VND

    response = await api.post(
        "/v1/losses", incident(receipt["item_id"], at_fault=True, compensation_vnd=100_000)
    )

    assert response.status_code == 422
    assert response.json()["reason"] == "compensation_below_minimum"


async def test_damage_is_recorded_and_the_item_goes_on_its_way(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    receipt = await api.accepted_dossier()
    report = incident(receipt["item_id"])

    first = await api.ok("/v1/damages", report)
    again = await api.ok("/v1/damages", report)

    assert first["event_id"] == again["event_id"]
    assert (await api.ok("/v1/handovers", handover([receipt["item_id"]])))["accepted"] == 1
    events = await postal_topic.wait_for(receipt["dossier_id"], 4)
    assert [e.type for e in events] == [
        "postal.dossier_accepted",
        "postal.item_damaged",
        "postal.item_damaged",  # the retry: same event id, which consumers deduplicate
        "postal.dossier_handed_to_agency",
    ]
    assert events[1].id == events[2].id


async def test_an_incident_for_an_item_with_the_agency_is_refused_with_409(api: PostOfficeClient) -> None:
    receipt = await api.handed_over_dossier()

    response = await api.post("/v1/losses", incident(receipt["item_id"]))

    assert response.status_code == 409
    assert response.json()["reason"] == "not_in_postal_custody"


async def test_an_acceptance_sent_with_form_send_and_receive_carries_the_postage_to_its_result(
    api: PostOfficeClient,
) -> None:
    dossier_item = new_item_id()
    await api.ok("/v1/dossiers", acceptance(dossier_item, postage_vnd=50_000))
    await api.ok("/v1/handovers", handover([dossier_item]))
    result_item = new_item_id("RR")
    await api.ok("/v1/pickups", pickup(result_item, dossier_item_id=dossier_item))

    response = await api.post("/v1/losses", incident(result_item, at_fault=True, compensation_vnd=150_000))

    assert (response.status_code, response.json()["reason"]) == (422, "compensation_below_minimum")
    assert "200000 VND" in response.json()["detail"]
