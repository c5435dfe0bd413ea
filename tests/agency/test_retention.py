"""Retention at the agency: a registration's contact and delivery address are held until the result is
delivered (learned from postal.events.v1) plus the dispute window, or until the dossier ends without a
result to carry; the erasure job then erases them once and announces agency.personal_data_erased."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from contracts.envelope import decode
from contracts.events import AgencyPersonalDataErased, ResultDelivered
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_APPLICANT, sample_envelope
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from contracts.values import dossier_id_for_agency_code
from services.agency.adapters.tables import personal_data_tables
from services.agency.settings import AgencySettings
from services.shared.calendar import VN_TZ
from services.shared.db.engine import make_engine
from services.shared.personal_data.erasure import ErasureJob
from services.shared.personal_data.vault import Holding, Vault
from tests.agency.conftest import (
    THREE_DAYS,
    Tokens,
    TopicReader,
    bearer,
    new_agency_dossier_code,
    send,
)
from tests.fixtures.kafka import KafkaLogin

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

DELIVERED_AT = datetime(2026, 3, 20, 10, 0, tzinfo=VN_TZ)
DISPUTE_WINDOW = timedelta(days=92)


async def _holdings(settings: AgencySettings, dossier_id: str) -> list[Holding]:
    vault = Vault(personal_data_tables, settings.keyring(), settings.blind_index())
    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return await vault.holding(conn, dossier_id)
    finally:
        await engine.dispose()


async def _registered(client: httpx.AsyncClient, tokens: Tokens) -> tuple[str, str]:
    code = new_agency_dossier_code()
    registration = {
        "agency_dossier_code": code,
        "procedure_code": THREE_DAYS,
        "filing_channel": "IN_PERSON",
        "filed_at": "2026-03-02T09:00:00+07:00",
        "applicant": SAMPLE_APPLICANT.model_dump(),
        "delivery_address": SAMPLE_ADDRESS.model_dump(),
    }
    answer = await client.post("/dossiers", json=registration, headers=bearer(tokens.officer))
    assert answer.status_code == 201, answer.text
    return code, dossier_id_for_agency_code(code)


async def test_a_delivery_learned_from_the_post_ends_the_purposes_and_the_job_erases_once(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    agency_settings: AgencySettings,
    agency_app: FastAPI,
) -> None:
    _, dossier_id = await _registered(client, tokens)
    delivered = sample_envelope(ResultDelivered, dossier_id).model_copy(update={"time": DELIVERED_AT})
    await send(producer, POSTAL_EVENTS, [delivered])
    async with asyncio.timeout(30):
        while True:  # the agency's postal consumer learns the delivery
            held = await _holdings(agency_settings, dossier_id)
            if held and all(h.held_until is not None for h in held):
                break
            await asyncio.sleep(0.1)
    assert {h.kind: h.held_until for h in held} == {
        "applicant": DELIVERED_AT + DISPUTE_WINDOW,
        "delivery_address": DELIVERED_AT + DISPUTE_WINDOW,
    }
    job: ErasureJob = agency_app.state.erasure_job

    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        early = await job.erase_due(now=DELIVERED_AT + DISPUTE_WINDOW - timedelta(seconds=1))
        erased = await job.erase_due(now=DELIVERED_AT + DISPUTE_WINDOW + timedelta(seconds=1))
        again = await job.erase_due(now=DELIVERED_AT + DISPUTE_WINDOW + timedelta(seconds=2))
        records = await events.read({dossier_id.encode()}, at_least=1)

    assert dossier_id not in {e.dossier_id for e in early}
    assert dossier_id in {e.dossier_id for e in erased} and again == []
    (announced,) = [decode(r.value, r.key) for r in records]
    assert isinstance(announced.data, AgencyPersonalDataErased)
    assert (announced.data.reason, announced.data.kinds) == ("retention", ["applicant", "delivery_address"])
    assert announced.data.agency_code == "000.00.01.H22"
    assert all(h.erased_at is not None for h in await _holdings(agency_settings, dossier_id))


async def test_a_withdrawn_dossier_has_no_result_to_carry_its_records_end_with_it(
    client: httpx.AsyncClient, tokens: Tokens, agency_settings: AgencySettings
) -> None:
    code, dossier_id = await _registered(client, tokens)

    withdrawn = await client.post(
        f"/dossiers/{code}/withdrawn", json={"reason": "no longer needed"}, headers=bearer(tokens.officer)
    )

    assert withdrawn.status_code in (200, 201), withdrawn.text
    held = {h.kind: h for h in await _holdings(agency_settings, dossier_id)}
    assert held["delivery_address"].purpose_ends["result_delivery"] is not None
    applicant = held["applicant"]
    ended = applicant.purpose_ends["result_delivery"]
    assert applicant.held_until is not None and ended is not None
    assert applicant.held_until - ended == timedelta(days=7)  # the notifications' retention
