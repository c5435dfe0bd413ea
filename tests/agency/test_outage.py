"""While Kafka is down a report is answered 503 and nothing is recorded; the same report retried after
the broker is back is published with the event id the failed attempt had. Stops the session's broker
and starts it again before returning."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import decode
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from contracts.values import dossier_id_for_item
from services.shared.calendar import VN_TZ
from tests.agency.conftest import (
    Tokens,
    TopicReader,
    bearer,
    new_agency_dossier_code,
    new_item_id,
    postal_journey,
    send,
    wait_for_status,
)
from tests.fixtures.kafka import KafkaBroker, KafkaLogin

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_report_while_kafka_is_down_is_503_and_its_retry_after_recovery_has_the_same_event_id(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_broker: KafkaBroker,
    kafka_admin: KafkaLogin,
) -> None:
    item_id = new_item_id()
    await send(producer, POSTAL_EVENTS, postal_journey(item_id, datetime(2026, 3, 2, 10, tzinfo=VN_TZ)))
    await wait_for_status(client, item_id, tokens.officer, "FILED")
    path = f"/dossiers/{item_id}/received"
    report = {"agency_dossier_code": new_agency_dossier_code(), "appointment_date": "2026-03-12"}

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        await asyncio.to_thread(kafka_broker.stop)
        try:
            down = await client.post(path, json=report, headers=bearer(tokens.officer))
            during = await client.get(f"/dossiers/{item_id}", headers=bearer(tokens.officer))
            ready = await client.get("/ready")
        finally:
            await asyncio.to_thread(kafka_broker.start)

        async with asyncio.timeout(60):
            while (
                up := await client.post(path, json=report, headers=bearer(tokens.officer))
            ).status_code == 503:
                await asyncio.sleep(0.5)
        published = await events.read({dossier_id_for_item(item_id).encode()}, at_least=1)

    assert (down.status_code, down.json()["reason"]) == (503, "broker_unavailable")
    assert down.headers["retry-after"] == "1"
    assert during.json()["status"] == "FILED", "nothing was recorded"
    assert ready.status_code == 503
    assert up.status_code == 201, up.text
    # The failed attempt's record may still have reached the broker once it was back: same id, so
    # consumers keep one.
    assert {str(decode(r.value, r.key).id) for r in published} == {up.json()["event_id"]}
