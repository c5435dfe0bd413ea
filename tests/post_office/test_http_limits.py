"""The post office API bounds request bodies and slow clients, served by real uvicorn as in production;
its batch endpoints take a body sized to their item limit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pydantic import TypeAdapter

from services.post_office.api import BATCH_BODY_LIMITS, SCAN_BYTES
from services.post_office.app import create_app
from services.post_office.commands import MAX_BATCH_SCANS, MAX_MANIFEST_ITEMS
from services.post_office.scan_commands import Scan
from services.shared.http_settings import HttpServiceSettings
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.live_server import (
    assert_limits_hold,
    oversize_headers_are_refused,
    serving,
    trickled_headers_are_cut_off,
)
from tests.post_office.conftest import settings_for
from tests.post_office.helpers import Tokens, at, handover, new_item_id, scan

LIMIT = 64 * 1024
TIMEOUT_S = 1.0
SCANS = ("POST", "/v1/scans/batches")
HANDOVERS = ("POST", "/v1/handovers")


@pytest.fixture(scope="module")
def port(database_url: str, post_office_kafka: KafkaLogin) -> Iterator[int]:
    settings = settings_for(database_url, post_office_kafka).model_copy(
        update={"max_body_bytes": LIMIT, "body_timeout_s": TIMEOUT_S, "header_timeout_s": TIMEOUT_S}
    )
    with serving(create_app(settings), settings, lifespan="on") as bound:
        yield bound


def largest_scan() -> dict[str, object]:
    """A valid scan with every field at its longest, every character of its note \\u-escaped in JSON."""
    body = scan(
        "DELIVERY_FAILED",
        new_item_id(),
        at(14, 17).replace("+07:00", ".123456+07:00"),
        courier_id="c" * 64,
        reason="OTHER",
        note="ệ" * 500,
        next_attempt_on="2026-03-17",
    )
    TypeAdapter(Scan).validate_python(body)
    return body


def post(port: int, path: str, body: bytes, token: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{port}{path}",
        content=body,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        timeout=120,
    )


def test_a_body_over_the_limit_is_refused_with_413_and_a_slow_one_cut_off_with_408(port: int) -> None:
    assert_limits_hold(port, "POST", "/v1/dossiers", LIMIT, TIMEOUT_S)


def test_a_scan_batch_over_its_own_limit_is_refused_with_413_and_a_slow_one_cut_off(port: int) -> None:
    assert_limits_hold(port, *SCANS, BATCH_BODY_LIMITS[SCANS], TIMEOUT_S)


def test_the_largest_valid_scan_fits_its_share_of_the_batch_limit() -> None:
    assert len(json.dumps(largest_scan(), indent=2).encode()) + 2 <= SCAN_BYTES


def test_a_batch_of_1000_of_the_largest_scans_passes_the_size_check(port: int, tokens: Tokens) -> None:
    scans = [largest_scan() for _ in range(MAX_BATCH_SCANS)]
    body = json.dumps({"post_office_code": "1" * 6, "device_id": "d" * 64, "scans": scans}).encode()
    assert LIMIT < len(body) <= BATCH_BODY_LIMITS[SCANS]

    response = post(port, SCANS[1], body, tokens.operator)

    assert response.status_code == 200, response.text
    assert {s["reason"] for s in response.json()["scans"]} == {"unknown_item"}


def test_a_handover_record_of_1000_of_the_longest_item_ids_passes_the_size_check(
    port: int, tokens: Tokens
) -> None:
    item_ids = [uuid.uuid4().hex + "ệ" * 32 for _ in range(MAX_MANIFEST_ITEMS)]
    body = json.dumps(handover(item_ids)).encode()
    assert LIMIT < len(body) <= BATCH_BODY_LIMITS[HANDOVERS]

    response = post(port, HANDOVERS[1], body, tokens.clerk)

    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == MAX_MANIFEST_ITEMS


def test_headers_trickled_past_the_deadline_lose_the_connection(port: int) -> None:
    assert trickled_headers_are_cut_off(port, TIMEOUT_S) < TIMEOUT_S + 3


def test_headers_over_the_limit_are_refused_with_431(port: int) -> None:
    answer = oversize_headers_are_refused(port, HttpServiceSettings().max_header_bytes)

    assert answer.status == 431
    assert answer.problem()["reason"] == "headers_too_large"
