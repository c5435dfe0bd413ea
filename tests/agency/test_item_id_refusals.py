"""A wrong item id in the URL or the body is refused with 422 and its own reason on every agency
endpoint that takes one; other invalid references keep their answers."""

from __future__ import annotations

import httpx
import pytest

from contracts.values import make_s10
from tests.agency.conftest import Tokens, bearer, new_agency_dossier_code
from tests.fixtures.item_ids import WRONG_ITEM_IDS, assert_item_id_problem

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

REPORTS = [
    "received",
    "refused",
    "supplement-requested",
    "supplement-received",
    "processing",
    "delay-notified",
    "withdrawn",
    "result-ready",
]


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize(("typed", "reason"), WRONG_ITEM_IDS)
async def test_a_wrong_item_id_in_a_report_url_is_refused_with_422_and_its_own_reason(
    client: httpx.AsyncClient, tokens: Tokens, report: str, typed: str, reason: str
) -> None:
    response = await client.post(f"/dossiers/{typed}/{report}", json={}, headers=bearer(tokens.officer))

    assert response.headers["content-type"] == "application/problem+json"
    assert_item_id_problem(response.json(), typed, reason, ["path", "ref"], response.text)


@pytest.mark.parametrize(("typed", "reason"), WRONG_ITEM_IDS)
async def test_a_wrong_item_id_in_the_dossier_url_is_refused_with_422_and_its_own_reason(
    client: httpx.AsyncClient, tokens: Tokens, typed: str, reason: str
) -> None:
    response = await client.get(f"/dossiers/{typed}", headers=bearer(tokens.officer))

    assert_item_id_problem(response.json(), typed, reason, ["path", "ref"], response.text)


@pytest.mark.parametrize(("typed", "reason"), WRONG_ITEM_IDS)
async def test_a_wrong_supplement_item_id_is_refused_with_422_and_its_own_reason(
    client: httpx.AsyncClient, tokens: Tokens, typed: str, reason: str
) -> None:
    response = await client.post(
        f"/dossiers/{make_s10('EB', 99999998)}/supplement-received",
        json={"supplement_item_id": typed},
        headers=bearer(tokens.officer),
    )

    assert_item_id_problem(response.json(), typed, reason, ["body", "supplement_item_id"], response.text)


async def test_a_lower_case_item_id_in_the_url_is_still_read(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    response = await client.get(
        f"/dossiers/{make_s10('EB', 99999998).lower()}", headers=bearer(tokens.officer)
    )

    assert (response.status_code, response.json()["reason"]) == (404, "unknown_dossier")


async def test_a_reference_of_no_known_shape_keeps_the_generic_invalid_request(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    response = await client.get("/dossiers/H22-2026-7", headers=bearer(tokens.officer))

    assert (response.status_code, response.json()["reason"]) == (422, "invalid_request")
    assert [e["loc"] for e in response.json()["errors"]] == [["path", "ref"]]


async def test_an_agency_dossier_code_with_an_impossible_date_keeps_404_invalid_reference(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    impossible = new_agency_dossier_code()[:14] + "261340-0001"

    response = await client.get(f"/dossiers/{impossible}", headers=bearer(tokens.officer))

    assert (response.status_code, response.json()["reason"]) == (404, "invalid_reference")
