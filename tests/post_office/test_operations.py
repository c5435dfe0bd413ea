"""/health, /ready, /metrics, and the limits that protect the service."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.post_office.helpers import PostOfficeClient, acceptance, new_item_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


Sample = tuple[str, tuple[tuple[str, str], ...]]


def _samples(text: str) -> dict[Sample, float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_health_answers_without_checking_dependencies(api: PostOfficeClient) -> None:
    response = await api.http.get("/health")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_ready_answers_200_when_the_database_and_kafka_answer(api: PostOfficeClient) -> None:
    response = await api.http.get("/ready")

    assert (response.status_code, response.json()) == (200, {"status": "ready"})


def _added(before: dict[Sample, float], after: dict[Sample, float]) -> dict[Sample, float]:
    """What the test's own requests added: other tests count into the same registry."""
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


async def test_metrics_count_requests_by_route_events_by_type_and_rejections_by_reason(
    api: PostOfficeClient,
) -> None:
    before = _samples((await api.http.get("/metrics")).text)
    item_id = new_item_id()
    await api.ok("/v1/dossiers", acceptance(item_id))
    incomplete = acceptance(
        new_item_id(), documents=[{"name": "Giấy chứng sinh", "form": "ORIGINAL", "count": 1}]
    )
    await api.post("/v1/dossiers", incomplete)
    await api.post("/v1/dossiers", acceptance(new_item_id()), token=api.tokens.agency)

    response = await api.http.get("/metrics")

    assert response.status_code == 200
    added = _added(before, _samples(response.text))
    created = ("http_requests_total", (("method", "POST"), ("route", "/v1/dossiers"), ("status", "201")))
    assert added[created] == 1
    assert (
        added[("http_request_duration_seconds_count", (("method", "POST"), ("route", "/v1/dossiers")))] == 3
    )
    assert added[("post_office_events_published_total", (("type", "postal.dossier_accepted"),))] == 1
    assert added.get(("post_office_events_published_total", (("type", "postal.item_lost"),)), 0) == 0
    assert added[("post_office_rejections_total", (("reason", "missing_documents"),))] == 1
    assert added[("post_office_rejections_total", (("reason", "role_not_allowed"),))] == 1
    assert added[("post_office_publish_duration_seconds_count", ())] == 1
    # Never an item or dossier id as a label value.
    assert item_id not in response.text


async def test_a_body_over_the_size_limit_is_refused_with_413_before_it_is_parsed(
    api: PostOfficeClient,
) -> None:
    huge = b'{"item_id": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    before = _samples((await api.http.get("/metrics")).text)

    response = await api.http.post(
        "/v1/dossiers",
        content=huge,
        headers={"Authorization": f"Bearer {api.tokens.clerk}", "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "body_too_large"
    added = _added(before, _samples((await api.http.get("/metrics")).text))
    refused = ("http_requests_total", (("method", "POST"), ("route", "/v1/dossiers"), ("status", "413")))
    assert added[refused] == 1
    assert added[("post_office_rejections_total", (("reason", "body_too_large"),))] == 1
