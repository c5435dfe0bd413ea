"""A wrong item id is refused with 422 and its own reason on the tracker's endpoints that take one: the
public lookup (path) and the staff list's reference filter (query)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from services.shared.auth import Role
from services.tracker.app import Tracker, build
from tests.fixtures.item_ids import WRONG_ITEM_IDS, assert_item_id_problem
from tests.tracker.support import credential, settings_for

pytestmark = pytest.mark.postgres

TODAY = datetime(2025, 3, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
async def api_tracker(migrated_database: str) -> AsyncIterator[Tracker]:
    built = build(settings_for(migrated_database), consume=False, clock=lambda: TODAY)
    yield built
    await built.dispose()


@pytest.fixture
async def client(api_tracker: Tracker) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api_tracker.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://tracker") as http:
        yield http


@pytest.mark.parametrize(("typed", "reason"), WRONG_ITEM_IDS)
async def test_a_wrong_item_id_in_the_public_lookup_is_refused_with_422_and_its_own_reason(
    client: httpx.AsyncClient, typed: str, reason: str
) -> None:
    answer = await client.get(f"/public/dossiers/{typed}", params={"phone_last4": "5678"})

    assert answer.headers["content-type"] == "application/problem+json"
    assert_item_id_problem(answer.json(), typed, reason, ["path", "reference"], answer.text)


@pytest.mark.parametrize(("typed", "reason"), WRONG_ITEM_IDS)
async def test_a_wrong_item_id_in_the_list_filter_is_refused_with_422_and_its_own_reason(
    api_tracker: Tracker, client: httpx.AsyncClient, typed: str, reason: str
) -> None:
    token = await credential(api_tracker.engine, Role.OPERATOR)

    answer = await client.get(
        "/dossiers", params={"reference": typed}, headers={"Authorization": f"Bearer {token}"}
    )

    assert_item_id_problem(answer.json(), typed, reason, ["query", "reference"], answer.text)


async def test_an_agency_dossier_code_with_an_impossible_date_keeps_422_invalid_reference(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/public/dossiers/000.00.01.H22-251340-0001", params={"phone_last4": "5678"})

    assert (answer.status_code, answer.json()["reason"]) == (422, "invalid_reference")


async def test_a_reference_of_no_known_shape_keeps_the_generic_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/public/dossiers/H22-2026-7", params={"phone_last4": "5678"})

    assert (answer.status_code, answer.json()["reason"]) == (422, "invalid_request")


async def test_a_wrong_item_id_beside_a_wrong_phone_suffix_is_an_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/public/dossiers/EB123456786VN", params={"phone_last4": "56a8"})

    assert (answer.status_code, answer.json()["reason"]) == (422, "invalid_request")


@pytest.mark.parametrize("typed", [" EB123456785VN", "EB123456785VN ", "ß123456785VN"])
async def test_an_item_id_the_documented_pattern_refuses_is_an_invalid_request_not_a_match(
    api_tracker: Tracker, client: httpx.AsyncClient, typed: str
) -> None:
    token = await credential(api_tracker.engine, Role.OPERATOR)

    answer = await client.get(
        "/dossiers", params={"reference": typed}, headers={"Authorization": f"Bearer {token}"}
    )

    assert (answer.status_code, answer.json()["reason"]) == (422, "invalid_request")
