"""The tracker bounds request bodies and slow clients, and believes X-Forwarded-For only from the proxies
its settings name: served by real uvicorn, as in production."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from contracts.values import make_s10
from services.shared.http_settings import HttpServiceSettings
from services.tracker.app import build
from services.tracker.settings import TrackerSettings
from tests.fixtures.live_server import (
    assert_limits_hold,
    oversize_headers_are_refused,
    serving,
    trickled_headers_are_cut_off,
)
from tests.tracker.support import settings_for

LIMIT = 64 * 1024
TIMEOUT_S = 1.0
FAILURES = 2


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    # Refused before any route runs: no database is reached.
    settings = settings_for(
        "postgresql+asyncpg://nobody@127.0.0.1:9/none",
        max_body_bytes=LIMIT,
        body_timeout_s=TIMEOUT_S,
        header_timeout_s=TIMEOUT_S,
    )
    with serving(build(settings, consume=False).api, settings) as bound:
        yield bound


def test_a_body_over_the_limit_is_refused_with_413_and_a_slow_one_cut_off_with_408(port: int) -> None:
    assert_limits_hold(port, "GET", "/anomalies", LIMIT, TIMEOUT_S)


def test_headers_trickled_past_the_deadline_lose_the_connection(port: int) -> None:
    assert trickled_headers_are_cut_off(port, TIMEOUT_S) < TIMEOUT_S + 3


def test_headers_over_the_limit_are_refused_with_431(port: int) -> None:
    answer = oversize_headers_are_refused(port, HttpServiceSettings().max_header_bytes)

    assert answer.status == 431
    assert answer.problem()["reason"] == "headers_too_large"


def lookup_statuses(settings: TrackerSettings, forwarded_for: list[str]) -> list[int]:
    """Failed public lookups of unknown references, one per X-Forwarded-For value, from 127.0.0.1."""
    with serving(build(settings, consume=False).api, settings, lifespan="on") as port:
        statuses = []
        for client in forwarded_for:
            reference = make_s10("EB", uuid.uuid4().int % 10**8)
            response = httpx.get(
                f"http://127.0.0.1:{port}/public/dossiers/{reference}",
                params={"phone_last4": "1234"},
                headers={"x-forwarded-for": client},
                timeout=30,
            )
            statuses.append(response.status_code)
        return statuses


def spoofed(count: int) -> list[str]:
    return [f"203.0.113.{n}" for n in range(1, count + 1)]


def test_a_spoofed_forwarded_for_does_not_escape_the_per_client_lookup_limit(migrated_database: str) -> None:
    settings = settings_for(migrated_database, public_lookup_failures=FAILURES)

    statuses = lookup_statuses(settings, spoofed(FAILURES + 1))

    assert statuses == [404] * FAILURES + [429]


def test_a_trusted_proxys_forwarded_for_names_the_client(migrated_database: str) -> None:
    settings = settings_for(
        migrated_database, public_lookup_failures=FAILURES, forwarded_allow_ips="127.0.0.1"
    )

    assert lookup_statuses(settings, spoofed(FAILURES + 1)) == [404] * (FAILURES + 1)
    assert lookup_statuses(settings, ["203.0.113.7"] * (FAILURES + 1)) == [404] * FAILURES + [429]
