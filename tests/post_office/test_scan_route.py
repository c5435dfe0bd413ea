"""An online scan's request handling: a valid scan skips FastAPI's per-request machinery (issue 19, the
counter's CPU per scan), and every other request is answered exactly as FastAPI answers it.

The refusals below are what a scanner relies on whichever way the request went: malformed JSON is 400
before the credential is looked at, a missing or wrong credential is 401 before the body's schema, a body
that does not match the schema is 422 with each error under ``body``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from unittest import mock

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared.db.engine import make_engine
from tests.post_office.helpers import SCAN_PATHS, PostOfficeClient, at, new_item_id, online, scan

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def _scan_in_transit(api: PostOfficeClient) -> dict[str, Any]:
    item_id = (await api.accepted_dossier())["item_id"]
    return online(scan("IN_TRANSIT", item_id, at(18, 9)))


async def test_a_valid_online_scan_is_recorded_without_fastapis_dependency_solving(
    api: PostOfficeClient,
) -> None:
    body = await _scan_in_transit(api)
    # FastAPI's dependency solving made to fail: a request that still gets through did not use it.
    with mock.patch("fastapi.routing.solve_dependencies", side_effect=AssertionError("solved")):
        first = await api.post(SCAN_PATHS["IN_TRANSIT"], body)
        again = await api.post(SCAN_PATHS["IN_TRANSIT"], body)

    assert first.status_code == 201, first.text
    assert first.headers["content-type"] == "application/json"
    answer = first.json()
    assert list(answer) == ["item_id", "dossier_id", "event_id", "status"]
    assert (answer["item_id"], answer["status"]) == (body["item_id"], "accepted")
    assert again.status_code == 200, again.text
    assert again.json() == answer | {"status": "duplicate"}


async def test_malformed_json_on_a_scan_route_is_400_before_the_credential_is_checked(
    api: PostOfficeClient,
) -> None:
    response = await api.http.post(
        SCAN_PATHS["IN_TRANSIT"], content=b'{"scan_id": ', headers={"content-type": "application/json"}
    )

    assert (response.status_code, response.json()["reason"]) == (400, "malformed_json")
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_scan_that_does_not_match_the_schema_is_401_without_a_credential_and_422_with_one(
    api: PostOfficeClient,
) -> None:
    body = online(scan("IN_TRANSIT", new_item_id(), at(18, 9))) | {"direction": "SIDEWAYS"}

    anonymous = await api.http.post(SCAN_PATHS["IN_TRANSIT"], json=body)
    signed = await api.post(SCAN_PATHS["IN_TRANSIT"], body)

    assert (anonymous.status_code, anonymous.json()["reason"]) == (401, "unauthenticated")
    assert signed.status_code == 422, signed.text
    assert signed.json()["reason"] == "invalid_request"
    assert [e["loc"] for e in signed.json()["errors"]] == [["body", "direction"]]


async def test_a_scan_sent_as_plain_text_or_empty_is_refused_with_422_as_fastapi_refuses_it(
    api: PostOfficeClient,
) -> None:
    body = await _scan_in_transit(api)
    headers = {"Authorization": f"Bearer {api.tokens.clerk}"}
    text = await api.http.post(
        SCAN_PATHS["IN_TRANSIT"],
        content=str(body).encode(),
        headers=headers | {"content-type": "text/plain"},
    )
    json_headers = headers | {"content-type": "application/json"}
    empty = await api.http.post(SCAN_PATHS["IN_TRANSIT"], headers=json_headers)

    assert (text.status_code, text.json()["reason"]) == (422, "invalid_request")
    assert (empty.status_code, empty.json()["reason"]) == (422, "invalid_request")
    assert [e["loc"] for e in empty.json()["errors"]] == [["body"]]


async def test_a_clerk_scanning_for_another_post_office_is_refused_with_403(api: PostOfficeClient) -> None:
    body = await _scan_in_transit(api)

    response = await api.post(SCAN_PATHS["IN_TRANSIT"], body | {"post_office_code": "700000"})

    assert (response.status_code, response.json()["reason"]) == (403, "wrong_post_office")


async def test_an_unknown_item_scanned_online_is_404_unknown_item(api: PostOfficeClient) -> None:
    body = online(scan("IN_TRANSIT", new_item_id(), at(18, 9), scan_id=str(uuid.uuid4())))

    response = await api.post(SCAN_PATHS["IN_TRANSIT"], body)

    assert (response.status_code, response.json()["reason"]) == (404, "unknown_item")


async def test_a_scan_on_a_connection_the_server_dropped_is_503_and_the_scan_sent_again_is_recorded(
    api: PostOfficeClient, post_office_app: FastAPI, database_url: str
) -> None:
    engine: AsyncEngine = post_office_app.state.post_office.handlers._engine
    body = await _scan_in_transit(api)
    # One pooled connection, which the server then drops (no pre-ping: the scan finds out).
    await engine.dispose()
    async with engine.connect() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    admin = make_engine(database_url, pool_size=1)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            listed = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            deadline = time.monotonic() + 30
            while (await conn.execute(listed, {"pid": pid})).scalar_one():
                assert time.monotonic() < deadline, f"backend {pid} still listed after 30 s"
                await conn.rollback()
    finally:
        await admin.dispose()

    lost = await api.post(SCAN_PATHS["IN_TRANSIT"], body)
    again = await api.post(SCAN_PATHS["IN_TRANSIT"], body)

    assert (lost.status_code, lost.json()["reason"]) == (503, "database_unavailable"), lost.text
    assert "Retry-After" in lost.headers
    assert (again.status_code, again.json()["status"]) == (201, "accepted"), again.text
