"""The applicant's contact stays in the post office: the acceptance publishes version 2 (who holds the
contact and the public lookup's phone check, no personal data) and seals the contact in the post office's
vault in the same transaction; staff read it back on an audited endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import PersonalDataHolder
from contracts.events import DossierAcceptedV2
from contracts.values import dossier_id_for_item
from services.post_office.adapters.tables import personal_data_tables
from services.shared.db.engine import make_engine
from services.shared.personal_data.vault import Held, Vault
from tests.post_office.conftest import settings_for
from tests.post_office.helpers import PostalTopic, PostOfficeClient, acceptance, new_item_id

pytestmark = [pytest.mark.kafka]

PERSONAL = ("Nguyễn Văn An", "0912345678", "0912 345 678", "12 Phố Tràng Tiền", "001085012345")


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


def vault_of(database_url: str) -> Vault:
    settings = settings_for(database_url, "127.0.0.1:9")
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
    digest = settings_for(database_url, "127.0.0.1:9").phone_check()
    assert digest.matches(dossier_id, "5678", envelope.data.phone_check)

    vault = vault_of(database_url)
    async with engine.connect() as conn:
        held = await vault.read(conn, dossier_id, "applicant")
        found = await vault.find_by_phone(conn, "0912345678")
    assert isinstance(held, Held)
    assert held.data["name"] == "Nguyễn Văn An" and held.data["phone"] == "0912345678"
    assert held.purposes == ("notifications", "result_delivery")
    assert dossier_id in {h.dossier_id for h in found}
