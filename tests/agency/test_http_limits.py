"""The agency API bounds request bodies and slow clients (served by real uvicorn, as in production)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from services.agency.app import create_app
from services.agency.settings import AgencySettings
from services.shared.http_settings import HttpServiceSettings
from tests.fixtures.live_server import (
    assert_limits_hold,
    oversize_headers_are_refused,
    serving,
    trickled_headers_are_cut_off,
)

LIMIT = 64 * 1024
TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    settings = AgencySettings(
        DOSSIER_AUTH_SECRET=SecretStr("agency-http-limits-secret-0123456789"),
        max_body_bytes=LIMIT,
        body_timeout_s=TIMEOUT_S,
        header_timeout_s=TIMEOUT_S,
    )
    with serving(create_app(settings), settings) as bound:
        yield bound


def test_bodies_over_the_limit_are_refused_with_413_and_slow_ones_cut_off_with_408(port: int) -> None:
    assert_limits_hold(port, "POST", "/dossiers", LIMIT, TIMEOUT_S)


def test_headers_trickled_past_the_deadline_lose_the_connection(port: int) -> None:
    assert trickled_headers_are_cut_off(port, TIMEOUT_S) < TIMEOUT_S + 3


def test_headers_over_the_limit_are_refused_with_431(port: int) -> None:
    answer = oversize_headers_are_refused(port, HttpServiceSettings().max_header_bytes)

    assert answer.status == 431
    assert answer.problem()["reason"] == "headers_too_large"
