"""The applicant's contact stays in the post office: the acceptance publishes version 2 (who holds the
contact and the public lookup's phone check, no personal data) and seals the contact in the post office's
vault in the same transaction; staff read it back on an audited endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import PersonalDataHolder
from contracts.events import DeliveryFailedV2, DossierAcceptedV2
from contracts.values import dossier_id_for_item
from services.post_office.adapters.tables import personal_data_tables
from services.shared.db.engine import make_engine
from services.shared.kafka_security import PLAINTEXT
from services.shared.personal_data.vault import Held, Vault
from tests.fixtures.kafka import KafkaLogin
from tests.post_office.conftest import settings_for
from tests.post_office.helpers import (
    OFFICE,
    SCAN_PATHS,
    PostalTopic,
    PostOfficeClient,
    acceptance,
    at,
    new_item_id,
    online,
    scan,
)

pytestmark = [pytest.mark.kafka]

ERASED_AT = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
PERSONAL = ("Nguyễn Văn An", "0912345678", "0912 345 678", "12 Phố Tràng Tiền", "001085012345")


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


# The vault and the phone check need the settings' keys only: a login to a port where nothing listens.
NO_KAFKA = KafkaLogin(bootstrap="127.0.0.1:9", security=PLAINTEXT, env_vars=())


def vault_of(database_url: str) -> Vault:
    settings = settings_for(database_url, NO_KAFKA)
    return Vault(personal_data_tables, settings.keyring(), settings.blind_index())


async def test_an_acceptance_publishes_no_personal_data_and_vaults_the_contact(
    api: PostOfficeClient, postal_topic: PostalTopic, database_url: str, engine: AsyncEngine
) -> None:
    item_id = new_item_id()
    receipt = await api.ok("/v1/dossiers", acceptance(item_id))
    dossier_id = dossier_id_for_item(item_id)

    (envelope,) = await postal_topic.wait_for(dossier_id, 1)
    raw = postal_topic.record_of(receipt["event_id"]).value.decode()
    assert [value for value in PERSONAL if value in raw] == []
    assert isinstance(envelope.data, DossierAcceptedV2)
    assert envelope.data.held_by is PersonalDataHolder.POST_OFFICE
    digest = settings_for(database_url, NO_KAFKA).phone_check()
    assert digest.matches(dossier_id, "5678", envelope.data.phone_check)

    vault = vault_of(database_url)
    async with engine.connect() as conn:
        held = await vault.read(conn, dossier_id, "applicant")
        found = await vault.find_by_phone(conn, "0912345678")
    assert isinstance(held, Held)
    assert held.data["name"] == "Nguyễn Văn An" and held.data["phone"] == "0912345678"
    assert held.purposes == ("notifications", "result_delivery")
    assert dossier_id in {h.dossier_id for h in found}


async def test_staff_read_the_contact_for_a_purpose_and_every_read_is_audited(
    api: PostOfficeClient, database_url: str, engine: AsyncEngine
) -> None:
    item_id = new_item_id()
    await api.ok("/v1/dossiers", acceptance(item_id))
    dossier_id = dossier_id_for_item(item_id)
    path = f"/v1/dossiers/{item_id}/contact"
    http, tokens = api.http, api.tokens

    clerk = await http.get(path, params={"purpose": "result_delivery"}, headers=_bearer(tokens.clerk))
    operator = await http.get(path, params={"purpose": "notifications"}, headers=_bearer(tokens.operator))
    other_office = await http.get(
        path, params={"purpose": "result_delivery"}, headers=_bearer(tokens.other_clerk)
    )
    agency = await http.get(path, params={"purpose": "result_delivery"}, headers=_bearer(tokens.agency))
    no_purpose = await http.get(path, headers=_bearer(tokens.clerk))
    other_purpose = await http.get(path, params={"purpose": "dispute"}, headers=_bearer(tokens.clerk))
    unknown = await http.get(
        f"/v1/dossiers/{new_item_id()}/contact",
        params={"purpose": "result_delivery"},
        headers=_bearer(tokens.operator),
    )

    assert clerk.status_code == 200, clerk.text
    body = clerk.json()
    assert body["erased"] is False and body["dossier_id"] == dossier_id
    assert body["contact"]["name"] == "Nguyễn Văn An" and body["contact"]["phone"] == "0912345678"
    assert operator.status_code == 200
    assert (other_office.status_code, other_office.json()["reason"]) == (403, "wrong_post_office")
    assert (agency.status_code, agency.json()["reason"]) == (403, "role_not_allowed")
    assert (no_purpose.status_code, no_purpose.json()["reason"]) == (422, "invalid_request")
    assert (other_purpose.status_code, other_purpose.json()["reason"]) == (403, "purpose_not_allowed")
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "unknown_item")

    reads = await http.get(
        "/v1/audit/personal-data-reads", params={"dossier": item_id}, headers=_bearer(tokens.operator)
    )
    by_clerk = await http.get(
        "/v1/audit/personal-data-reads", params={"dossier": item_id}, headers=_bearer(tokens.clerk)
    )
    assert reads.status_code == 200, reads.text
    listed = [(r["purpose"], r["reader"], r["role"]) for r in reads.json()["reads"]]
    assert listed == [
        ("notifications", "operator-1", "operator"),
        ("result_delivery", "clerk-1", "post_office"),
    ]
    assert all(
        r["dossier_id"] == dossier_id and r["read_at"].endswith("+07:00") for r in reads.json()["reads"]
    )
    assert (by_clerk.status_code, by_clerk.json()["reason"]) == (403, "role_not_allowed")


async def test_the_notifications_service_reads_a_contact_for_notifications_only_audited_under_its_subject(
    api: PostOfficeClient,
) -> None:
    item_id = new_item_id()
    await api.ok("/v1/dossiers", acceptance(item_id))
    path = f"/v1/dossiers/{item_id}/contact"
    http, tokens = api.http, api.tokens

    read = await http.get(path, params={"purpose": "notifications"}, headers=_bearer(tokens.notifier))
    other_purpose = await http.get(
        path, params={"purpose": "result_delivery"}, headers=_bearer(tokens.notifier)
    )
    audit = await http.get(
        "/v1/audit/personal-data-reads", params={"dossier": item_id}, headers=_bearer(tokens.notifier)
    )

    assert read.status_code == 200, read.text
    assert read.json()["contact"]["phone"] == "0912345678"
    assert (other_purpose.status_code, other_purpose.json()["reason"]) == (403, "role_not_allowed")
    assert (audit.status_code, audit.json()["reason"]) == (403, "role_not_allowed")
    reads = await http.get(
        "/v1/audit/personal-data-reads", params={"dossier": item_id}, headers=_bearer(tokens.operator)
    )
    assert [(r["purpose"], r["reader"], r["role"]) for r in reads.json()["reads"]] == [
        ("notifications", "notifier-1", "notifier")
    ], "the refused read is not recorded; the allowed one is, under the service's subject"


async def test_an_erased_contact_reads_as_erased_and_the_read_is_still_audited(
    api: PostOfficeClient, database_url: str, engine: AsyncEngine
) -> None:
    item_id = new_item_id()
    await api.ok("/v1/dossiers", acceptance(item_id))
    dossier_id = dossier_id_for_item(item_id)
    async with engine.begin() as conn:
        assert await vault_of(database_url).erase(conn, dossier_id, "the applicant's request", ERASED_AT) == 1

    answer = await api.http.get(
        f"/v1/dossiers/{item_id}/contact",
        params={"purpose": "result_delivery"},
        headers=_bearer(api.tokens.clerk),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "dossier_id": dossier_id,
        "purpose": "result_delivery",
        "erased": True,
        "erased_at": "2026-03-20T09:00:00+07:00",
        "reason": "the applicant's request",
        "contact": None,
    }
    reads = await api.http.get(
        "/v1/audit/personal-data-reads", params={"dossier": dossier_id}, headers=_bearer(api.tokens.operator)
    )
    assert [r["purpose"] for r in reads.json()["reads"]] == ["result_delivery"]


async def test_a_contact_under_an_unknown_key_is_a_clear_problem_for_that_dossier_only(
    api: PostOfficeClient, database_url: str, engine: AsyncEngine
) -> None:
    broken, fine = new_item_id(), new_item_id()
    await api.ok("/v1/dossiers", acceptance(broken))
    await api.ok("/v1/dossiers", acceptance(fine))
    table = personal_data_tables.records
    async with engine.begin() as conn:
        await conn.execute(
            update(table).where(table.c.dossier_id == dossier_id_for_item(broken)).values(kid="k-lost")
        )

    def read(item_id: str) -> Any:
        return api.http.get(
            f"/v1/dossiers/{item_id}/contact",
            params={"purpose": "result_delivery"},
            headers=_bearer(api.tokens.clerk),
        )

    refused, answered = await read(broken), await read(fine)
    assert (refused.status_code, refused.json()["reason"]) == (409, "personal_data_key_unavailable")
    assert "k-lost" in refused.json()["detail"] and "Nguyễn" not in refused.text
    assert answered.status_code == 200


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_couriers_note_on_a_failed_attempt_stays_in_the_vault_online_and_in_batches(
    api: PostOfficeClient, postal_topic: PostalTopic, database_url: str, engine: AsyncEngine
) -> None:
    result = await api.picked_up_result()
    item_id, dossier_id = result["result_item_id"], result["dossier_id"]
    note = "Gọi 0987 654 321 trước; nhà bà Lê Thị Hoa, cổng sau"
    await api.ok(SCAN_PATHS["OUT_FOR_DELIVERY"], online(scan("OUT_FOR_DELIVERY", item_id, at(25, 8))))
    failed = await api.ok(
        SCAN_PATHS["DELIVERY_FAILED"],
        online(scan("DELIVERY_FAILED", item_id, at(25, 10), reason="OTHER", note=note)),
    )
    await api.ok(
        "/v1/scans/batches",
        {
            "post_office_code": OFFICE,
            "device_id": "scanner-01",
            "scans": [
                scan("OUT_FOR_DELIVERY", item_id, at(26, 8)),
                scan("DELIVERY_FAILED", item_id, at(26, 10), reason="OTHER", note=note + " (2)"),
            ],
        },
    )

    events = await postal_topic.wait_for(dossier_id, 5)
    notes = [e for e in events if e.type == "postal.delivery_failed"]
    assert [type(e.data) for e in notes] == [DeliveryFailedV2, DeliveryFailedV2]
    assert all(isinstance(e.data, DeliveryFailedV2) and e.data.note_held for e in notes)
    raw = postal_topic.record_of(failed["event_id"]).value.decode()
    assert "0987" not in raw and "Lê Thị Hoa" not in raw
    vault = vault_of(database_url)
    async with engine.connect() as conn:
        held = await vault.read_all(conn, dossier_id)
    kept = sorted(r.data["note"] for r in held if isinstance(r, Held) and r.kind.startswith("delivery_note:"))
    assert kept == [note, note + " (2)"]


async def test_the_read_audit_is_append_only_in_the_database(
    api: PostOfficeClient, engine: AsyncEngine
) -> None:
    item_id = new_item_id()
    await api.ok("/v1/dossiers", acceptance(item_id))
    read = await api.http.get(
        f"/v1/dossiers/{item_id}/contact",
        params={"purpose": "notifications"},
        headers=_bearer(api.tokens.clerk),
    )
    assert read.status_code == 200
    reads = personal_data_tables.reads
    mine = reads.c.dossier_id == dossier_id_for_item(item_id)
    for statement in (update(reads).where(mine).values(reader="someone-else"), delete(reads).where(mine)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(statement)
