"""Intake at the counter or at the address: documents checked against the catalog, the receipt, the event."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from contracts.values import dossier_id_for_item
from tests.post_office.helpers import (
    MARRIAGE_REGISTRATION,
    OFFICE,
    RE_REGISTRATION,
    PostalTopic,
    PostOfficeClient,
    acceptance,
    new_item_id,
    utc_now,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_a_complete_dossier_is_accepted_and_the_receipt_names_the_inbound_due_date(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    item_id = new_item_id()

    response = await api.post("/v1/dossiers", acceptance(item_id.lower()))

    assert response.status_code == 201, response.text
    receipt = response.json()
    dossier_id = dossier_id_for_item(item_id)
    # Accepted on Friday 14 March 2025, within one province: J+2 working days is Tuesday 18 March.
    assert receipt == {
        "item_id": item_id,
        "dossier_id": dossier_id,
        "event_id": receipt["event_id"],
        "inbound_due_date": "2025-03-18",
        "replayed": False,
    }
    (envelope,) = await postal_topic.wait_for(dossier_id, 1)
    assert str(envelope.id) == receipt["event_id"]
    assert envelope.type == "postal.dossier_accepted"
    assert envelope.source == f"/post-offices/{OFFICE}"
    assert envelope.time.isoformat() == "2025-03-14T09:30:00+07:00"
    data = envelope.data.model_dump(mode="json")
    assert data["item_id"] == item_id
    assert data["inbound_due_date"] == "2025-03-18"
    assert "applicant" not in data and data["held_by"] == "POST_OFFICE"  # the contact stays in the vault
    record = postal_topic.record_of(receipt["event_id"])
    assert record.key == dossier_id.encode()


async def test_the_same_acceptance_sent_again_answers_the_same_receipt_with_200_and_publishes_nothing(
    api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    body = acceptance(new_item_id())
    first = await api.ok("/v1/dossiers", body)

    again = await api.post("/v1/dossiers", body)

    assert again.status_code == 200
    assert again.json() == first | {"replayed": True}
    await postal_topic.settled()
    assert len(postal_topic.of(first["dossier_id"])) == 1


async def test_an_item_id_already_used_with_other_details_is_refused_with_409(api: PostOfficeClient) -> None:
    item_id = new_item_id()
    await api.ok("/v1/dossiers", acceptance(item_id))

    response = await api.post("/v1/dossiers", acceptance(item_id, postage_vnd=50_000))

    assert response.status_code == 409
    assert response.json()["reason"] == "item_already_used"


async def test_an_appointment_slip_carried_back_doubles_the_inbound_limit(api: PostOfficeClient) -> None:
    receipt = await api.ok("/v1/dossiers", acceptance(new_item_id(), carries_appointment_slip_back=True))

    # J+2 doubled: 4 working days after Friday 14 March 2025.
    assert receipt["inbound_due_date"] == "2025-03-20"


async def test_a_certified_copy_satisfies_a_required_copy(api: PostOfficeClient) -> None:
    body = acceptance(
        new_item_id(),
        procedure_code=RE_REGISTRATION,
        documents=[
            {"name": "Tờ khai đăng ký lại khai sinh", "form": "ORIGINAL", "count": 1},
            {"name": "giấy tờ chứng minh  nội dung khai sinh", "form": "CERTIFIED_COPY", "count": 1},
        ],
    )

    assert (await api.post("/v1/dossiers", body)).status_code == 201


async def test_a_malformed_s10_item_id_is_refused_with_422_naming_the_field_without_echoing_it(
    api: PostOfficeClient,
) -> None:
    response = await api.post("/v1/dossiers", acceptance("EB123456784VN"))  # check digit should be 5

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["reason"] == "item_id_check_digit"
    assert [e["loc"] for e in problem["errors"]] == [["body", "item_id"]]
    assert "EB123456784VN" not in response.text
    assert "Nguyễn" not in response.text


async def test_an_incomplete_dossier_is_refused_with_422_naming_the_missing_documents(
    api: PostOfficeClient,
) -> None:
    item_id = new_item_id()
    incomplete = acceptance(
        item_id, documents=[{"name": "Tờ khai đăng ký khai sinh", "form": "ORIGINAL", "count": 1}]
    )

    response = await api.post("/v1/dossiers", incomplete)

    assert response.status_code == 422
    problem = response.json()
    assert problem["reason"] == "missing_documents"
    assert problem["missing_documents"] == [{"name": "Giấy chứng sinh", "form": "original", "count": 1}]
    assert "Giấy chứng sinh" in problem["detail"]
    # Nothing was recorded: the completed dossier is accepted under the same item id.
    assert (await api.post("/v1/dossiers", acceptance(item_id))).status_code == 201


async def test_a_procedure_that_may_not_be_done_by_post_is_refused_with_its_reason(
    api: PostOfficeClient,
) -> None:
    body = acceptance(
        new_item_id(),
        procedure_code=MARRIAGE_REGISTRATION,
        documents=[{"name": "Tờ khai đăng ký kết hôn", "form": "ORIGINAL", "count": 1}],
    )

    response = await api.post("/v1/dossiers", body)

    assert response.status_code == 422
    problem = response.json()
    assert problem["reason"] == "procedure_not_by_post"
    assert problem["detail"].startswith("Hai bên nam, nữ phải cùng có mặt")


async def test_a_procedure_missing_from_the_catalog_is_refused_with_422(api: PostOfficeClient) -> None:
    response = await api.post("/v1/dossiers", acceptance(new_item_id(), procedure_code="9.999999"))

    assert response.status_code == 422
    assert response.json()["reason"] == "unknown_procedure"


async def test_an_acceptance_dated_in_the_future_is_refused_with_422(api: PostOfficeClient) -> None:
    later = (utc_now() + timedelta(hours=1)).isoformat()

    response = await api.post("/v1/dossiers", acceptance(new_item_id(), accepted_at=later))

    assert response.status_code == 422
    assert response.json()["reason"] == "time_in_future"


async def test_an_acceptance_a_few_minutes_ahead_is_within_the_clock_skew_allowed(
    api: PostOfficeClient,
) -> None:
    soon = utc_now() + timedelta(minutes=3)

    receipt = await api.ok("/v1/dossiers", acceptance(new_item_id(), accepted_at=soon.isoformat()))

    assert date.fromisoformat(receipt["inbound_due_date"]) > soon.date()


async def test_an_acceptance_without_a_utc_offset_is_refused_with_422(api: PostOfficeClient) -> None:
    response = await api.post("/v1/dossiers", acceptance(new_item_id(), accepted_at="2025-03-14T09:30:00"))

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "accepted_at"]


async def test_form_receive_result_is_not_accepted_at_the_counter(api: PostOfficeClient) -> None:
    response = await api.post("/v1/dossiers", acceptance(new_item_id(), service_form="RECEIVE_RESULT"))

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "service_form"]


async def test_malformed_json_is_refused_with_400(api: PostOfficeClient) -> None:
    response = await api.http.post(
        "/v1/dossiers",
        content=b'{"item_id": "EB123456785VN",',
        headers={"Authorization": f"Bearer {api.tokens.clerk}", "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["reason"] == "malformed_json"


async def test_an_unknown_field_is_refused_with_422(api: PostOfficeClient) -> None:
    response = await api.post("/v1/dossiers", acceptance(new_item_id(), acepted_at="typo"))

    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "extra_forbidden"


async def test_an_acceptance_dated_before_2016_is_refused_with_422(api: PostOfficeClient) -> None:
    response = await api.post(
        "/v1/dossiers", acceptance(new_item_id(), accepted_at="2015-06-01T09:00:00+07:00")
    )

    assert response.status_code == 422
    assert response.json()["reason"] == "time_out_of_range"


async def test_an_amount_with_a_typo_of_extra_zeros_is_refused_with_422(api: PostOfficeClient) -> None:
    response = await api.post("/v1/dossiers", acceptance(new_item_id(), postage_vnd=36_000 * 10**12))

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "postage_vnd"]


async def test_a_dossier_whose_event_would_exceed_the_message_limit_is_refused_and_nothing_recorded(
    api: PostOfficeClient,
) -> None:
    item_id = new_item_id()
    body = acceptance(item_id)
    body["documents"] += [{"name": f"{n} " + "ệ" * 990, "form": "COPY", "count": 1} for n in range(98)]

    response = await api.post("/v1/dossiers", body)

    assert response.status_code == 422
    assert response.json()["reason"] == "event_too_large"
    assert (await api.post("/v1/dossiers", acceptance(item_id))).status_code == 201
