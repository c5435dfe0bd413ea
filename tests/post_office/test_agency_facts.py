"""The post office learns from agency.events.v1 when a dossier ends at the agency with no result for the
post to carry back, so the contact it holds gets an end date and the erasure job erases it: the result
ready of a SEND_DOSSIER dossier, a refusal (of a dossier whose refusal the post does not carry back), a
withdrawal, a closure. A result or refusal the post carries back keeps its contact until the post's own
delivery or return scan."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from sqlalchemy import select

from contracts.envelope import Envelope, kafka_record
from contracts.events import (
    DossierClosed,
    DossierRefused,
    DossierWithdrawn,
    PersonalDataErased,
    ResultReady,
)
from contracts.samples import sample_envelope
from contracts.topics import AGENCY_EVENTS
from services.shared.db.engine import make_engine
from services.shared.db.schema import processed_event
from services.shared.personal_data.erasure import ErasureJob
from services.shared.personal_data.vault import Holding
from tests.fixtures.kafka import KafkaLogin
from tests.post_office.conftest import AGENCY_EVENTS_GROUP
from tests.post_office.helpers import VIETNAM, PostalTopic, PostOfficeClient, acceptance, new_item_id
from tests.post_office.test_personal_data import vault_of

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ENDED_AT = datetime(2025, 4, 2, 10, 0, tzinfo=VIETNAM)
NOTIFICATIONS = timedelta(days=7)  # the default retention of a last message
DEADLINE_S = 30


@pytest.fixture
async def producer(kafka_admin: KafkaLogin) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(**kafka_admin.options(), acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def _publish(producer: AIOKafkaProducer, *envelopes: Envelope[Any]) -> None:
    for envelope in envelopes:
        record = kafka_record(envelope)
        await producer.send_and_wait(AGENCY_EVENTS.name, record.value, key=record.key, headers=record.headers)


def _agency_fact(selector: Any, dossier_id: str, at: datetime = ENDED_AT) -> Envelope[Any]:
    """The agency's event for the dossier, with its own id (the sample's id is derived from the type)."""
    return sample_envelope(selector, dossier_id, time=at).model_copy(update={"id": uuid.uuid4()})


async def _accepted(api: PostOfficeClient, service_form: str) -> str:
    receipt = await api.ok("/v1/dossiers", acceptance(new_item_id(), service_form=service_form))
    return str(receipt["dossier_id"])


async def _holdings(database_url: str, dossier_id: str) -> list[Holding]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await vault_of(database_url).holding(conn, dossier_id)
    finally:
        await engine.dispose()


async def _held_until_set(database_url: str, dossier_id: str) -> Holding:
    async with asyncio.timeout(DEADLINE_S):
        while True:  # the post office's consumer of agency.events.v1 learns the fact
            (held,) = await _holdings(database_url, dossier_id)
            if held.held_until is not None:
                return held
            await asyncio.sleep(0.1)


async def _consumed(database_url: str, envelopes: Sequence[Envelope[Any]]) -> None:
    """Wait until the post office's consumer has applied these events (they are in its inbox)."""
    ids = {str(e.id) for e in envelopes}
    t = processed_event
    engine = make_engine(database_url)
    try:
        async with asyncio.timeout(DEADLINE_S):
            while True:
                async with engine.connect() as conn:
                    done = set(
                        (
                            await conn.execute(
                                select(t.c.event_id).where(
                                    t.c.consumer == AGENCY_EVENTS_GROUP, t.c.event_id.in_(ids)
                                )
                            )
                        ).scalars()
                    )
                if done == ids:
                    return
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


async def _erased_once(
    job: ErasureJob, postal_topic: PostalTopic, dossier_id: str, held_until: datetime
) -> None:
    early = await job.erase_due(now=held_until - timedelta(seconds=1))
    erased = await job.erase_due(now=held_until + timedelta(seconds=1))
    again = await job.erase_due(now=held_until + timedelta(seconds=2))

    assert dossier_id not in {e.dossier_id for e in early}
    assert [e.kinds for e in erased if e.dossier_id == dossier_id] == [("applicant",)]
    assert dossier_id not in {e.dossier_id for e in again}
    await postal_topic.wait_until(
        lambda: [e for e in postal_topic.of(dossier_id) if e.type == "postal.personal_data_erased"],
        lambda found: len(found) >= 1,
    )
    await postal_topic.settled()  # nothing more came: announced once
    (announced,) = [e for e in postal_topic.of(dossier_id) if e.type == "postal.personal_data_erased"]
    assert isinstance(announced.data, PersonalDataErased)
    assert (announced.data.reason, announced.data.kinds) == ("retention", ["applicant"])


async def test_a_send_dossier_result_ready_at_the_agency_ends_the_contact_and_the_job_erases_it_once(
    api: PostOfficeClient,
    producer: AIOKafkaProducer,
    database_url: str,
    post_office_app: FastAPI,
    postal_topic: PostalTopic,
) -> None:
    dossier_id = await _accepted(api, "SEND_DOSSIER")  # the citizen collects the result in person

    await _publish(producer, _agency_fact(ResultReady, dossier_id))

    held = await _held_until_set(database_url, dossier_id)
    assert held.purpose_ends == {"notifications": ENDED_AT + NOTIFICATIONS}
    assert held.held_until == ENDED_AT + NOTIFICATIONS
    await _erased_once(post_office_app.state.erasure_job, postal_topic, dossier_id, held.held_until)
    (tombstone,) = await _holdings(database_url, dossier_id)
    erased_at = held.held_until + timedelta(seconds=1)
    assert (tombstone.erased_at, tombstone.erasure_reason) == (erased_at, "retention")


async def test_a_refused_send_dossier_ends_the_contact_and_the_job_erases_it_once(
    api: PostOfficeClient,
    producer: AIOKafkaProducer,
    database_url: str,
    post_office_app: FastAPI,
    postal_topic: PostalTopic,
) -> None:
    dossier_id = await _accepted(api, "SEND_DOSSIER")

    await _publish(producer, _agency_fact(DossierRefused, dossier_id))

    held = await _held_until_set(database_url, dossier_id)
    assert held.held_until == ENDED_AT + NOTIFICATIONS
    await _erased_once(post_office_app.state.erasure_job, postal_topic, dossier_id, held.held_until)


async def test_a_withdrawn_send_and_receive_dossier_has_no_result_to_carry_and_the_job_erases_it_once(
    api: PostOfficeClient,
    producer: AIOKafkaProducer,
    database_url: str,
    post_office_app: FastAPI,
    postal_topic: PostalTopic,
) -> None:
    dossier_id = await _accepted(api, "SEND_AND_RECEIVE")

    await _publish(producer, _agency_fact(DossierWithdrawn, dossier_id))

    held = await _held_until_set(database_url, dossier_id)
    assert held.purpose_ends == {"notifications": ENDED_AT + NOTIFICATIONS, "result_delivery": ENDED_AT}
    await _erased_once(post_office_app.state.erasure_job, postal_topic, dossier_id, ENDED_AT + NOTIFICATIONS)


@pytest.mark.parametrize("selector", [ResultReady, DossierRefused], ids=["result_ready", "refused"])
async def test_a_result_or_refusal_the_post_carries_back_keeps_the_contact_until_its_delivery(
    api: PostOfficeClient, producer: AIOKafkaProducer, database_url: str, selector: Any
) -> None:
    dossier_id = await _accepted(api, "SEND_AND_RECEIVE")  # the refusal goes back like a result
    fact = _agency_fact(selector, dossier_id)

    await _publish(producer, fact)
    await _consumed(database_url, [fact])

    (held,) = await _holdings(database_url, dossier_id)
    assert held.purpose_ends == {"notifications": None, "result_delivery": None}
    assert held.held_until is None


async def test_a_replayed_or_later_agency_fact_keeps_the_first_end_date(
    api: PostOfficeClient, producer: AIOKafkaProducer, database_url: str
) -> None:
    dossier_id = await _accepted(api, "SEND_AND_RECEIVE")
    withdrawn = _agency_fact(DossierWithdrawn, dossier_id)
    await _publish(producer, withdrawn)
    first = await _held_until_set(database_url, dossier_id)

    later = _agency_fact(DossierClosed, dossier_id, ENDED_AT + timedelta(days=3))
    await _publish(producer, withdrawn.model_copy(update={"time": ENDED_AT + timedelta(days=1)}), later)
    await _consumed(database_url, [withdrawn, later])

    assert await _holdings(database_url, dossier_id) == [first]


async def test_an_invalid_record_goes_to_the_dead_letter_topic_with_its_reason_and_the_consumer_goes_on(
    api: PostOfficeClient, producer: AIOKafkaProducer, kafka_admin: KafkaLogin, database_url: str
) -> None:
    dossier_id = await _accepted(api, "SEND_DOSSIER")
    await producer.send_and_wait(AGENCY_EVENTS.name, b'{"not": "an envelope"}', key=dossier_id.encode())
    await _publish(producer, _agency_fact(DossierWithdrawn, dossier_id))

    held = await _held_until_set(database_url, dossier_id)  # the record after it was applied
    assert held.held_until == ENDED_AT + NOTIFICATIONS
    letters = await _dead_letters(kafka_admin, dossier_id.encode())
    assert [(dict(r.headers)["dlt.consumer"], r.value) for r in letters] == [
        (AGENCY_EVENTS_GROUP.encode(), b'{"not": "an envelope"}')
    ]
    assert dict(letters[0].headers)["dlt.reason"] != b""


async def _dead_letters(kafka: KafkaLogin, key: bytes) -> list[Any]:
    """The records of agency.events.v1.dlt under this key (read from the start: the key is unique)."""
    assert AGENCY_EVENTS.dead_letter is not None
    topic = AGENCY_EVENTS.dead_letter
    partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(partitions)
        found: list[Any] = []
        async with asyncio.timeout(DEADLINE_S):
            while not found:
                batches = await consumer.getmany(timeout_ms=200)
                found.extend(r for records in batches.values() for r in records if r.key == key)
        return found
    finally:
        await consumer.stop()
