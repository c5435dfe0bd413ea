"""A wrong item id is refused with its own reason on every post office endpoint that takes one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.item_ids import WRONG_ITEM_IDS, assert_item_id_problem
from tests.post_office.helpers import (
    SCAN_PATHS,
    PostOfficeClient,
    acceptance,
    at,
    incident,
    new_item_id,
    online,
    pickup,
    returning,
    scan,
)

pytestmark = [pytest.mark.postgres]

# (path, body with the item id in `field`, field)
ENDPOINTS: list[tuple[str, Callable[[str], dict[str, Any]], str]] = [
    ("/v1/dossiers", acceptance, "item_id"),
    ("/v1/pickups", pickup, "result_item_id"),
    ("/v1/pickups", lambda item: pickup(new_item_id("RR"), dossier_item_id=item), "dossier_item_id"),
    *[
        (SCAN_PATHS[kind], lambda item, kind=kind: online(scan(kind, item, at(25, 8))), "item_id")
        for kind in SCAN_PATHS
    ],
    ("/v1/returns", returning, "result_item_id"),
    ("/v1/losses", incident, "item_id"),
    ("/v1/damages", incident, "item_id"),
]


@pytest.mark.parametrize(("path", "body", "field"), ENDPOINTS)
@pytest.mark.parametrize(("typed", "reason"), WRONG_ITEM_IDS)
async def test_a_wrong_item_id_is_refused_with_its_own_reason_and_a_plain_message(
    api: PostOfficeClient,
    path: str,
    body: Callable[[str], dict[str, Any]],
    field: str,
    typed: str,
    reason: str,
) -> None:
    response = await api.post(path, body(typed))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert_item_id_problem(response.json(), typed, reason, ["body", field], response.text)


async def test_another_invalid_field_keeps_the_generic_invalid_request(api: PostOfficeClient) -> None:
    response = await api.post("/v1/dossiers", acceptance(new_item_id(), procedure_code="1.0011"))

    assert (response.status_code, response.json()["reason"]) == (422, "invalid_request")


async def test_a_wrong_item_id_beside_another_invalid_field_is_an_invalid_request_listing_both(
    api: PostOfficeClient,
) -> None:
    response = await api.post("/v1/dossiers", acceptance("EB123456786VN", procedure_code="1.0011"))

    problem = response.json()
    assert (response.status_code, problem["reason"]) == (422, "invalid_request")
    assert {e["type"] for e in problem["errors"]} >= {"item_id_check_digit"}
    assert len(problem["errors"]) == 2


async def test_two_item_ids_wrong_in_different_ways_are_an_invalid_request(api: PostOfficeClient) -> None:
    response = await api.post("/v1/pickups", pickup("EB12345678VN", dossier_item_id="EB123456786VN"))

    problem = response.json()
    assert (response.status_code, problem["reason"]) == (422, "invalid_request")
    assert [e["type"] for e in problem["errors"]] == ["item_id_length", "item_id_check_digit"]


async def test_malformed_json_keeps_400_malformed_json(api: PostOfficeClient) -> None:
    response = await api.http.post(
        "/v1/dossiers",
        content=b'{"item_id": "EB12345678VN",',
        headers={"Authorization": f"Bearer {api.tokens.clerk}", "Content-Type": "application/json"},
    )

    assert (response.status_code, response.json()["reason"]) == (400, "malformed_json")


async def test_a_wrong_item_id_in_an_offline_batch_names_its_reason_in_the_scan_errors(
    api: PostOfficeClient,
) -> None:
    response = await api.post(
        "/v1/scans/batches",
        {"post_office_code": "100000", "scans": [scan("IN_TRANSIT", "EB1234O6785VN", at(14, 17))]},
    )

    outcome = response.json()["scans"][0]
    assert (outcome["status"], outcome["reason"]) == ("rejected", "invalid_scan")
    assert [(e["loc"], e["type"]) for e in outcome["errors"]] == [
        (["IN_TRANSIT", "item_id"], "item_id_serial")
    ]
    assert "letter O" in outcome["errors"][0]["msg"]


async def test_a_wrong_item_id_is_counted_under_its_reason(api: PostOfficeClient) -> None:
    before = await _rejections(api, "item_id_country_code")

    await api.post("/v1/losses", incident("EB12345678571"))

    assert await _rejections(api, "item_id_country_code") == before + 1


async def _rejections(api: PostOfficeClient, reason: str) -> float:
    metrics = (await api.http.get("/metrics")).text
    line = f'post_office_rejections_total{{reason="{reason}"}} '
    return sum(float(row.removeprefix(line)) for row in metrics.splitlines() if row.startswith(line))
