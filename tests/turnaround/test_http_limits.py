"""The turnaround API bounds request bodies and slow clients (served by real uvicorn, as in production)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.shared.http_settings import HttpServiceSettings
from services.turnaround.app import create_app
from services.turnaround.settings import TurnaroundSettings
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
    # Refused before any route runs: no database or broker is reached.
    settings = TurnaroundSettings(
        max_body_bytes=LIMIT, body_timeout_s=TIMEOUT_S, header_timeout_s=TIMEOUT_S, http_host="127.0.0.1"
    )
    with serving(create_app(settings), settings) as bound:
        yield bound


def test_a_body_over_the_limit_is_refused_with_413_and_a_slow_one_cut_off_with_408(port: int) -> None:
    assert_limits_hold(port, "GET", f"/dossiers/{'0' * 32}/clocks", LIMIT, TIMEOUT_S)


def test_headers_trickled_past_the_deadline_lose_the_connection(port: int) -> None:
    assert trickled_headers_are_cut_off(port, TIMEOUT_S) < TIMEOUT_S + 3


def test_headers_over_the_limit_are_refused_with_431(port: int) -> None:
    answer = oversize_headers_are_refused(port, HttpServiceSettings().max_header_bytes)

    assert answer.status == 431
    assert answer.problem()["reason"] == "headers_too_large"
