"""A service whose principal lacks an ACL stays up, says once and clearly what was refused, and /ready
says why it is not ready; a publication refused by authorisation is a 503 problem, never a 500.

On the session's secured broker (deploy/kafka/kafka.sh start-secure), each service logged in as its own
principal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import cast

import httpx
import pytest
from fastapi import FastAPI

from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from services.shared.consuming import BatchProcessor, subscribe_batches
from services.shared.http import install_error_handlers
from services.shared.kafka import OutgoingRecord, RecordSender, make_broker
from services.shared.kafka_authorisation import KafkaNotAuthorisedError, kafka_refusals
from services.shared.kafka_groups import group_membership
from services.tracker.app import build
from tests.fixtures.kafka import KafkaBroker
from tests.tracker.support import settings_for

pytestmark = pytest.mark.kafka


async def _eventually_not_ready(app: FastAPI, timeout_s: float = 60.0) -> dict[str, str]:
    """The checks of /ready once it names a Kafka refusal (503), within the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tracker") as client:
        while True:
            answer = await client.get("/ready")
            checks = answer.json().get("checks", {})
            if answer.status_code == 503 and "not authorised" in checks.get("kafka", ""):
                return dict(checks)
            assert loop.time() < deadline, f"/ready never named the refusal: {answer.text}"
            await asyncio.sleep(0.2)


async def _eventually(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "the condition never held"
        await asyncio.sleep(0.2)


def _refusal_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "kafka_not_authorised"]


async def test_a_consumer_refused_its_group_stays_up_logs_once_and_is_not_ready(
    kafka_broker: KafkaBroker, migrated_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # The tracker's principal may use only the groups that start with "tracker".
    group = f"outside-{uuid.uuid4().hex[:10]}"
    settings = settings_for(migrated_database, kafka_broker.for_service("tracker"), consumer_group=group)
    tracker = build(settings)
    try:
        async with tracker.consuming():
            checks = await _eventually_not_ready(tracker.api)
            assert checks["kafka"] == f"not authorised to read group {group} (principal tracker)"
            # The consumer retries its join and meets the refusal again: still one line.
            refusals = kafka_refusals(tracker.broker)
            await _eventually(lambda: refusals.seen >= 3)
            lines = _refusal_lines(caplog)
            assert len(lines) == 1, [r.getMessage() for r in lines]
            fields = lines[0].fields  # type: ignore[attr-defined]
            assert fields == {
                "principal": "tracker",
                "operation": "read",
                "resource": "group",
                "name": group,
                "error": "GroupAuthorizationFailedError",
            }
            assert lines[0].levelno == logging.ERROR
    finally:
        await tracker.dispose()


async def test_a_publication_refused_by_authorisation_is_a_503_problem_and_shows_in_ready(
    kafka_broker: KafkaBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # The post office's principal writes postal.events.v1, never the agency's topic.
    broker = make_broker(
        kafka_broker.bootstrap, client_id="post-office", security=kafka_broker.login("post-office").security
    )
    await broker.connect()
    try:
        sender = RecordSender(broker, timeout_s=15)
        app = FastAPI()
        install_error_handlers(app)

        @app.post("/publish")
        async def publish() -> dict[str, str]:
            record = OutgoingRecord(AGENCY_EVENTS.name, str(uuid.uuid4()).encode(), b"{}", [])
            await sender.send([record])
            return {"status": "published"}

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://post-office") as client:
            answer = await client.post("/publish")
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        body = json.loads(answer.text)
        assert body["reason"] == "kafka_not_authorised"
        assert body["detail"] == (
            f"not authorised to write topic {AGENCY_EVENTS.name} (principal post-office); "
            "nothing was recorded"
        )
        assert kafka_refusals(broker).not_ready() == (
            f"not authorised to write topic {AGENCY_EVENTS.name} (principal post-office)"
        )
        [line] = _refusal_lines(caplog)
        assert line.fields["resource"] == "topic"  # type: ignore[attr-defined]
        with pytest.raises(KafkaNotAuthorisedError):
            await sender.send([OutgoingRecord(AGENCY_EVENTS.name, b"k", b"{}", [])])
        assert len(_refusal_lines(caplog)) == 1  # the same refusal again: no second line
    finally:
        await broker.stop()


async def test_a_batch_consumer_using_another_services_group_starts_and_says_why_it_is_not_ready(
    kafka_broker: KafkaBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # The agency's and the turnaround's consumers subscribe through subscribe_batches: the post office's
    # principal trying the tracker's group is refused, and the broker starts all the same.
    group = f"tracker-{uuid.uuid4().hex[:10]}"
    broker = make_broker(
        kafka_broker.bootstrap, client_id="post-office", security=kafka_broker.login("post-office").security
    )
    never_called = cast(BatchProcessor, object())  # no record is ever assigned to a refused member
    subscribe_batches(broker, topics=[POSTAL_EVENTS], group_id=group, processor=never_called)
    await broker.start()
    try:
        await _eventually(lambda: kafka_refusals(broker).not_ready() is not None)
        assert kafka_refusals(broker).not_ready() == (
            f"not authorised to read group {group} (principal post-office)"
        )
        assert group_membership(broker).not_ready() == f"consumer group not joined yet: {group}"
        [line] = _refusal_lines(caplog)
        assert line.fields["name"] == group  # type: ignore[attr-defined]
    finally:
        await broker.stop()
