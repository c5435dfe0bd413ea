"""A 2xx only after Kafka acknowledged: while the broker is down the API answers 503 and records nothing;
once it is back, the same request succeeds with the same event id."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from contracts.values import dossier_id_for_item
from services.post_office.adapters.tables import personal_data_tables, post_office_item, post_office_scan
from services.shared.db.engine import make_engine
from tests.fixtures.kafka import KafkaBroker
from tests.post_office.conftest import PUBLISH_TIMEOUT_S
from tests.post_office.helpers import OFFICE, PostalTopic, PostOfficeClient, acceptance, at, new_item_id, scan

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def _vaulted(database_url: str, item_id: str) -> int:
    """The applicant contacts the vault holds for the dossier of an item."""
    records = personal_data_tables.records
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(records)
                .where(records.c.dossier_id == dossier_id_for_item(item_id))
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def _recorded(database_url: str, item_id: str, scan_id: str) -> tuple[int, int]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            items = await conn.scalar(
                select(func.count())
                .select_from(post_office_item)
                .where(post_office_item.c.item_id == item_id)
            )
            scans = await conn.scalar(
                select(func.count())
                .select_from(post_office_scan)
                .where(post_office_scan.c.scan_id == scan_id)
            )
    finally:
        await engine.dispose()
    return int(items or 0), int(scans or 0)


async def _restart(kafka_broker: KafkaBroker) -> None:
    """Start the session's broker again; once more if the first start fails, since every later test
    needs it (on a loaded machine a start can time out)."""
    try:
        await asyncio.to_thread(kafka_broker.start)
    except RuntimeError:
        await asyncio.to_thread(kafka_broker.start)


async def _until_kafka_acknowledges(api: PostOfficeClient, path: str, body: Any) -> httpx.Response:
    """The producer reconnects on its own; until it has, the API keeps answering 503."""
    async with asyncio.timeout(60):
        while (response := await api.post(path, body)).status_code == 503:
            await asyncio.sleep(0.5)
    return response


async def test_while_kafka_is_down_the_api_answers_503_records_nothing_and_a_retry_succeeds_once_it_is_back(
    api: PostOfficeClient, postal_topic: PostalTopic, kafka_broker: KafkaBroker, database_url: str
) -> None:
    in_transit = await api.accepted_dossier()
    intake = acceptance(new_item_id())
    transit = scan("IN_TRANSIT", in_transit["item_id"], at(14, 17))
    uploaded = {"post_office_code": OFFICE, "scans": [transit]}

    await asyncio.to_thread(kafka_broker.stop)
    try:
        started = time.monotonic()
        refused = await api.post("/v1/dossiers", intake)
        waited = time.monotonic() - started
        refused_batch = await api.post("/v1/scans/batches", uploaded)
        ready = await api.http.get("/ready")
        recorded_during_outage = await _recorded(database_url, intake["item_id"], transit["scan_id"])
        vaulted_during_outage = await _vaulted(database_url, intake["item_id"])
    finally:
        await _restart(kafka_broker)

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "2"
    assert refused.json()["reason"] == "broker_unavailable"
    assert waited < PUBLISH_TIMEOUT_S + 2
    assert refused_batch.status_code == 503
    assert (ready.status_code, list(ready.json()["checks"])) == (503, ["kafka"])
    assert recorded_during_outage == (0, 0)
    assert vaulted_during_outage == 0  # the contact is vaulted in the transaction Kafka's ack commits

    accepted = await _until_kafka_acknowledges(api, "/v1/dossiers", intake)
    uploaded_again = await _until_kafka_acknowledges(api, "/v1/scans/batches", uploaded)

    assert accepted.status_code == 201  # not a replay: nothing had been recorded
    assert await _vaulted(database_url, intake["item_id"]) == 1
    assert uploaded_again.json()["scans"][0]["status"] == "accepted"
    receipt = accepted.json()
    await postal_topic.wait_for(receipt["dossier_id"], 1, timeout_s=30)
    await postal_topic.settled(timeout_s=30)
    # A publication that timed out may still have reached the broker; it carries the same event id.
    assert {str(e.id) for e in postal_topic.of(receipt["dossier_id"])} == {receipt["event_id"]}
    transit_events = {str(e.id) for e in postal_topic.of(in_transit["dossier_id"])} - {in_transit["event_id"]}
    assert transit_events == {uploaded_again.json()["scans"][0]["event_id"]}
    assert (await api.http.get("/ready")).status_code == 200
