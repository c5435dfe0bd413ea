"""The citizen's contact and delivery address of a registration for return by post stay in the agency:
the registration publishes version 2 (who holds them and the public lookup's phone check), and both are
sealed in the agency's vault in the transaction that records the dossier. An agency system that still
publishes a version 1 registration on agency.intake.v1 is taken in the same way: vaulted, republished
as version 2. Real broker, real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.enums import FilingChannel, PersonalDataHolder
from contracts.envelope import Envelope, decode
from contracts.events import DossierRegisteredForReturn, DossierRegisteredForReturnV2
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_APPLICANT
from contracts.sources import agency_source
from contracts.topics import AGENCY_EVENTS, AGENCY_INTAKE
from contracts.values import dossier_id_for_agency_code
from services.agency.adapters.tables import personal_data_tables
from services.agency.settings import AgencySettings
from services.shared.calendar import VN_TZ
from services.shared.db.engine import make_engine
from services.shared.personal_data.vault import Held, Vault
from tests.agency.conftest import (
    AGENCY,
    THREE_DAYS,
    Tokens,
    TopicReader,
    bearer,
    new_agency_dossier_code,
    send,
    wait_for_status,
)
from tests.fixtures.kafka import KafkaLogin

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

PERSONAL = (
    SAMPLE_APPLICANT.name,
    SAMPLE_APPLICANT.phone,
    "0912345678",
    SAMPLE_ADDRESS.line,
    str(SAMPLE_APPLICANT.id_number),
)


async def _vaulted(settings: AgencySettings, dossier_id: str) -> dict[str, Held]:
    vault = Vault(personal_data_tables, settings.keyring(), settings.blind_index())
    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            records = await vault.read_all(conn, dossier_id)
    finally:
        await engine.dispose()
    return {r.kind: r for r in records if isinstance(r, Held)}


def _check_v2(record: object, settings: AgencySettings, dossier_id: str) -> None:
    raw = record.value.decode()  # type: ignore[attr-defined]
    assert [value for value in PERSONAL if value in raw] == []
    event = decode(record.value, record.key).data  # type: ignore[attr-defined]
    assert isinstance(event, DossierRegisteredForReturnV2)
    assert event.held_by is PersonalDataHolder.AGENCY
    assert settings.phone_check().matches(dossier_id, SAMPLE_APPLICANT.phone[-4:], event.phone_check)


async def test_a_registration_publishes_no_personal_data_and_vaults_contact_and_address(
    client: httpx.AsyncClient, tokens: Tokens, kafka_admin: KafkaLogin, agency_settings: AgencySettings
) -> None:
    code = new_agency_dossier_code()
    dossier_id = dossier_id_for_agency_code(code)
    registration = {
        "agency_dossier_code": code,
        "procedure_code": THREE_DAYS,
        "filing_channel": "IN_PERSON",
        "filed_at": "2026-03-02T09:00:00+07:00",
        "applicant": SAMPLE_APPLICANT.model_dump(),
        "delivery_address": SAMPLE_ADDRESS.model_dump(),
    }
    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        registered = await client.post("/dossiers", json=registration, headers=bearer(tokens.officer))
        (record,) = await events.read({dossier_id.encode()}, at_least=1)

    assert registered.status_code == 201, registered.text
    _check_v2(record, agency_settings, dossier_id)
    held = await _vaulted(agency_settings, dossier_id)
    assert held["applicant"].data["name"] == SAMPLE_APPLICANT.name
    assert held["delivery_address"].data["line"] == SAMPLE_ADDRESS.line
    assert held["delivery_address"].purposes == ("result_delivery",)


async def test_a_version_1_registration_from_an_agency_system_is_vaulted_and_republished_as_version_2(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    tokens: Tokens,
    kafka_admin: KafkaLogin,
    agency_settings: AgencySettings,
) -> None:
    code = new_agency_dossier_code()
    dossier_id = dossier_id_for_agency_code(code)
    v1 = DossierRegisteredForReturn(
        agency_code=AGENCY,
        officer_id="desk-system-1",
        agency_dossier_code=code,
        procedure_code=THREE_DAYS,
        filing_channel=FilingChannel.ONLINE,
        filed_at=datetime(2026, 3, 2, 9, 0, tzinfo=VN_TZ),
        applicant=SAMPLE_APPLICANT,
        delivery_address=SAMPLE_ADDRESS,
    )
    message = Envelope.new(
        v1,
        subject=dossier_id,
        source=agency_source(AGENCY),
        time=datetime(2026, 3, 2, 9, 5, tzinfo=VN_TZ),
        id=uuid.uuid4(),
    )
    async with TopicReader(kafka_admin, AGENCY_EVENTS) as events:
        await send(producer, AGENCY_INTAKE, [message])
        await wait_for_status(client, code, tokens.officer, "FILED")
        (record,) = await events.read({dossier_id.encode()}, at_least=1)

    _check_v2(record, agency_settings, dossier_id)
    assert decode(record.value, record.key).id == message.id
    held = await _vaulted(agency_settings, dossier_id)
    assert held["applicant"].data["phone"] == "0912345678"
    assert held["delivery_address"].data["line"] == SAMPLE_ADDRESS.line


async def test_officers_of_the_agency_and_operators_read_the_contact_back_and_each_read_is_audited(
    client: httpx.AsyncClient, tokens: Tokens, agency_settings: AgencySettings
) -> None:
    code = new_agency_dossier_code()
    dossier_id = dossier_id_for_agency_code(code)
    registration = {
        "agency_dossier_code": code,
        "procedure_code": THREE_DAYS,
        "filing_channel": "ONLINE",
        "filed_at": "2026-03-02T09:00:00+07:00",
        "applicant": SAMPLE_APPLICANT.model_dump(),
        "delivery_address": SAMPLE_ADDRESS.model_dump(),
    }
    registered = await client.post("/dossiers", json=registration, headers=bearer(tokens.officer))
    assert registered.status_code == 201, registered.text
    path = f"/dossiers/{code}/contact"

    officer = await client.get(path, params={"purpose": "result_delivery"}, headers=bearer(tokens.officer))
    operator = await client.get(path, params={"purpose": "notifications"}, headers=bearer(tokens.operator))
    other = await client.get(
        path, params={"purpose": "result_delivery"}, headers=bearer(tokens.other_officer)
    )
    clerk = await client.get(path, params={"purpose": "result_delivery"}, headers=bearer(tokens.clerk))
    no_purpose = await client.get(path, headers=bearer(tokens.officer))

    assert officer.status_code == 200, officer.text
    assert officer.json()["erased"] is False
    assert officer.json()["contact"]["name"] == SAMPLE_APPLICANT.name
    assert officer.json()["delivery_address"]["line"] == SAMPLE_ADDRESS.line
    # For notifications the delivery address is not needed, and not given.
    assert operator.status_code == 200 and operator.json()["delivery_address"] is None
    assert (other.status_code, other.json()["reason"]) == (403, "another_agency")
    assert (clerk.status_code, clerk.json()["reason"]) == (403, "not_an_agency")
    assert (no_purpose.status_code, no_purpose.json()["reason"]) == (422, "invalid_request")

    audit = await client.get(
        "/audit/personal-data-reads", params={"dossier": code}, headers=bearer(tokens.operator)
    )
    refused = await client.get("/audit/personal-data-reads", headers=bearer(tokens.officer))
    assert audit.status_code == 200, audit.text
    assert [(r["purpose"], r["reader"], r["dossier_id"]) for r in audit.json()["reads"]] == [
        ("notifications", "ops-1", dossier_id),
        ("result_delivery", "officer-0003", dossier_id),
    ]
    assert (refused.status_code, refused.json()["reason"]) == (403, "role_not_allowed")

    vault = Vault(personal_data_tables, agency_settings.keyring(), agency_settings.blind_index())
    engine = make_engine(agency_settings.database_url)
    try:
        async with engine.begin() as conn:
            await vault.erase(conn, dossier_id, "the applicant's request", datetime.now(VN_TZ))
    finally:
        await engine.dispose()
    erased = await client.get(path, params={"purpose": "result_delivery"}, headers=bearer(tokens.officer))
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"] is True and erased.json()["reason"] == "the applicant's request"
    assert erased.json()["contact"] is None and erased.json()["delivery_address"] is None


async def test_the_notifications_service_reads_a_contact_for_notifications_only_audited_under_its_subject(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    code = new_agency_dossier_code()
    registration = {
        "agency_dossier_code": code,
        "procedure_code": THREE_DAYS,
        "filing_channel": "ONLINE",
        "filed_at": "2026-03-02T09:00:00+07:00",
        "applicant": SAMPLE_APPLICANT.model_dump(),
        "delivery_address": SAMPLE_ADDRESS.model_dump(),
    }
    registered = await client.post("/dossiers", json=registration, headers=bearer(tokens.officer))
    assert registered.status_code == 201, registered.text
    path = f"/dossiers/{code}/contact"

    read = await client.get(path, params={"purpose": "notifications"}, headers=bearer(tokens.notifier))
    other_purpose = await client.get(
        path, params={"purpose": "result_delivery"}, headers=bearer(tokens.notifier)
    )
    record = await client.get(f"/dossiers/{code}", headers=bearer(tokens.notifier))

    assert read.status_code == 200, read.text
    assert read.json()["contact"]["name"] == SAMPLE_APPLICANT.name
    assert read.json()["delivery_address"] is None
    assert (other_purpose.status_code, other_purpose.json()["reason"]) == (403, "role_not_allowed")
    assert (record.status_code, record.json()["reason"]) == (403, "not_an_agency")
    audit = await client.get(
        "/audit/personal-data-reads", params={"dossier": code}, headers=bearer(tokens.operator)
    )
    assert [(r["purpose"], r["reader"], r["role"]) for r in audit.json()["reads"]] == [
        ("notifications", "notifications", "notifier")
    ], "the refused read is not recorded; the allowed one is, under the service's subject"
