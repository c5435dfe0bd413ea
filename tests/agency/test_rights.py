"""A person's access and erasure requests at the agency (operators only), audited: the registrations it
vaulted are found by phone or ID number, erased with agency.personal_data_erased, and each request is
appended to the audit table with the number only as its keyed HMAC."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contracts.envelope import decode
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_APPLICANT
from contracts.topics import AGENCY_EVENTS
from contracts.values import dossier_id_for_agency_code
from services.agency.adapters.tables import personal_data_tables
from services.agency.settings import AgencySettings
from services.shared.db.engine import make_engine
from tests.agency.conftest import THREE_DAYS, Tokens, TopicReader, bearer, new_agency_dossier_code
from tests.fixtures.kafka import KafkaLogin

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ACCESS = "/personal-data/access-requests"
ERASURE = "/personal-data/erasure-requests"


def a_person() -> dict[str, str]:
    return {"phone": f"09{uuid.uuid4().int % 10**8:08d}", "id_number": f"0{uuid.uuid4().int % 10**11:011d}"}


async def _registered(client: httpx.AsyncClient, tokens: Tokens, person: dict[str, str]) -> tuple[str, str]:
    code = new_agency_dossier_code()
    registration = {
        "agency_dossier_code": code,
        "procedure_code": THREE_DAYS,
        "filing_channel": "IN_PERSON",
        "filed_at": "2026-03-02T09:00:00+07:00",
        "applicant": {**SAMPLE_APPLICANT.model_dump(), **person},
        "delivery_address": SAMPLE_ADDRESS.model_dump(),
    }
    answer = await client.post("/dossiers", json=registration, headers=bearer(tokens.officer))
    assert answer.status_code == 201, answer.text
    return code, dossier_id_for_agency_code(code)


async def _audit(settings: AgencySettings, request_id: int) -> Any:
    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            t = personal_data_tables.requests
            return (await conn.execute(select(t).where(t.c.id == request_id))).one()
    finally:
        await engine.dispose()


async def test_access_by_phone_then_erasure_by_id_number_with_its_events_and_audit(
    client: httpx.AsyncClient, tokens: Tokens, kafka_admin: KafkaLogin, agency_settings: AgencySettings
) -> None:
    person = a_person()
    code, dossier_id = await _registered(client, tokens, person)

    access = await client.post(ACCESS, json={"phone": person["phone"]}, headers=bearer(tokens.operator))
    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        erasure = await client.post(
            ERASURE, json={"id_number": person["id_number"]}, headers=bearer(tokens.operator)
        )
        records = await events.read({dossier_id.encode()}, at_least=1)

    assert access.status_code == 200, access.text
    held = {r["kind"]: r for r in access.json()["records"]}
    assert set(held) == {"applicant", "delivery_address"}
    assert held["delivery_address"]["purposes"] == ["result_delivery"]
    assert {r["service"] for r in held.values()} == {"agency"}
    assert SAMPLE_ADDRESS.line not in access.text and SAMPLE_APPLICANT.name not in access.text
    assert erasure.status_code == 200, erasure.text
    (erased,) = erasure.json()["erased"]
    assert (erased["dossier_id"], erased["kinds"]) == (dossier_id, ["applicant", "delivery_address"])
    (event,) = [decode(r.value, r.key) for r in records]
    assert (event.type, event.data.model_dump()["reason"]) == ("agency.personal_data_erased", "request")
    assert event.data.model_dump()["officer_id"] == "ops-1"
    row = await _audit(agency_settings, erasure.json()["request_id"])
    assert (row.kind, row.by, row.requester) == ("erasure", "id_number", "ops-1")
    assert person["id_number"] not in row.subject and len(json.loads(row.erased)) == 2
    contact = await client.get(
        f"/dossiers/{code}/contact",
        params={"purpose": "notifications"},
        headers=bearer(tokens.operator),
    )
    assert contact.status_code == 200, contact.text
    assert contact.json()["erased"] is True


@pytest.mark.parametrize("path", [ACCESS, ERASURE])
async def test_an_officer_is_refused(client: httpx.AsyncClient, tokens: Tokens, path: str) -> None:
    answer = await client.post(path, json={"phone": "0912345678"}, headers=bearer(tokens.officer))

    assert answer.status_code == 403
    assert answer.json()["reason"] == "role_not_allowed"


@pytest.mark.parametrize(
    "body", [{}, {"phone": "0912"}, {"phone": "0912345678", "dossier": str(uuid.uuid4())}]
)
async def test_bad_input_is_refused_with_a_reason(
    client: httpx.AsyncClient, tokens: Tokens, body: dict[str, str]
) -> None:
    answer = await client.post(ERASURE, json=body, headers=bearer(tokens.operator))

    assert answer.status_code == 422, answer.text
    assert answer.json()["reason"] == "invalid_request"


async def test_operators_list_the_requests_without_the_numbers_that_named_the_person(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    person = a_person()
    _, dossier_id = await _registered(client, tokens, person)
    operator = bearer(tokens.operator)
    access = await client.post(ACCESS, json={"id_number": person["id_number"]}, headers=operator)
    assert access.status_code == 200, access.text

    listed = await client.get("/audit/personal-data-requests", headers=operator)

    assert listed.status_code == 200, listed.text
    (entry,) = [e for e in listed.json()["requests"] if e["request_id"] == access.json()["request_id"]]
    assert (entry["kind"], entry["by"], entry["erased"]) == ("access", "id_number", [])
    assert {f["kind"] for f in entry["found"]} == {"applicant", "delivery_address"}
    assert {f["dossier_id"] for f in entry["found"]} == {dossier_id}
    assert person["phone"] not in listed.text and person["id_number"] not in listed.text
    officer = await client.get("/audit/personal-data-requests", headers=bearer(tokens.officer))
    assert (officer.status_code, officer.json()["reason"]) == (403, "role_not_allowed")
