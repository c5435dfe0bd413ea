"""While the database is down, every service answers 503 `database_unavailable` with a Retry-After —
never a 500 — on its authenticated routes (the credential registry is read from the database) and on the
tracker's public lookup. The services are served by real uvicorn against a real broker, with a database
URL whose port refuses connections."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from services.agency.app import create_app as agency_app
from services.agency.settings import AgencySettings
from services.post_office.app import create_app as post_office_app
from services.post_office.settings import PostOfficeSettings
from services.shared.auth.tokens import Role, TokenSigner
from services.shared.http_settings import HttpServiceSettings
from services.tracker.app import build as tracker_build
from services.turnaround.app import create_app as turnaround_app
from services.turnaround.settings import TurnaroundSettings
from tests.fixtures.ids import unique_item_id
from tests.fixtures.kafka import KafkaBroker, KafkaLogin
from tests.fixtures.live_server import serving
from tests.tracker.support import SECRET
from tests.tracker.support import settings_for as tracker_settings

pytestmark = [pytest.mark.kafka]


def _refusing_database() -> str:
    """A PostgreSQL URL on a port nobody listens on: every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+asyncpg://nobody:none@127.0.0.1:{port}/none"


def _shared(kafka: KafkaLogin) -> dict[str, Any]:
    return {
        "DATABASE_URL": _refusing_database(),
        **kafka.env(),
        "DOSSIER_AUTH_SECRET": SecretStr(SECRET),
        "http_host": "127.0.0.1",
    }


def _post_office(kafka: KafkaLogin) -> tuple[Any, HttpServiceSettings]:
    run = uuid.uuid4().hex[:8]
    settings = PostOfficeSettings.model_validate(
        {**_shared(kafka), "agency_events_group_id": f"post-office.agency-events.down-{run}"}
    )
    return post_office_app(settings), settings


def _agency(kafka: KafkaLogin) -> tuple[Any, HttpServiceSettings]:
    run = uuid.uuid4().hex[:8]
    settings = AgencySettings.model_validate(
        {
            **_shared(kafka),
            "postal_group_id": f"agency.postal.down-{run}",
            "intake_group_id": f"agency.intake.down-{run}",
        }
    )
    return agency_app(settings), settings


def _tracker(kafka: KafkaLogin) -> tuple[Any, HttpServiceSettings]:
    settings = tracker_settings(_refusing_database(), kafka, credential_cache_s=0)
    return tracker_build(settings, consume=False).api, settings


def _turnaround(kafka: KafkaLogin) -> tuple[Any, HttpServiceSettings]:
    run = uuid.uuid4().hex[:8]
    settings = TurnaroundSettings.model_validate(
        {**_shared(kafka), "consumer_group": f"turnaround-down-{run}"}
    )
    return turnaround_app(settings), settings


SERVICES: dict[
    str, tuple[Callable[[KafkaLogin], tuple[Any, HttpServiceSettings]], Role, list[tuple[str, str]]]
] = {
    "post_office": (_post_office, Role.OPERATOR, [("POST", "/v1/losses")]),
    "agency": (_agency, Role.OPERATOR, [("GET", f"/dossiers/{unique_item_id()}")]),
    "tracker": (
        _tracker,
        Role.OPERATOR,
        [
            ("GET", "/anomalies"),
            ("GET", f"/dossiers/{'0' * 32}"),
            ("GET", f"/public/dossiers/{unique_item_id()}?phone_last4=5678"),
        ],
    ),
    "turnaround": (_turnaround, Role.OPERATOR, [("GET", f"/dossiers/{'0' * 32}/clocks")]),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_while_the_database_is_down_a_request_is_answered_503_with_retry_after_never_500(
    service: str, kafka_broker: KafkaBroker
) -> None:
    make, role, calls = SERVICES[service]
    app, settings = make(kafka_broker.for_service(service))
    _, token = TokenSigner(SECRET).issue(
        subject="ops-db-down", role=role, scope=None, now=datetime.now(UTC), valid_for=timedelta(hours=1)
    )
    with serving(app, settings, lifespan="on") as port:
        for method, path in calls:
            answer = httpx.request(
                method,
                f"http://127.0.0.1:{port}{path}",
                headers={"Authorization": f"Bearer {token}"},
                json={} if method == "POST" else None,
                timeout=30,
            )
            assert answer.status_code == 503, (path, answer.status_code, answer.text)
            assert answer.headers["content-type"] == "application/problem+json", path
            assert answer.json()["reason"] == "database_unavailable", path
            assert int(answer.headers["retry-after"]) >= 1, path
