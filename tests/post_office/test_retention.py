"""Retention at the post office: the delivery scan stores when each purpose of the contact ends, and the
erasure job erases the contact once every purpose has ended, once, announcing it on postal.events.v1."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

import pytest
from fastapi import FastAPI

from contracts.events import PersonalDataErased
from services.shared.db.engine import make_engine
from services.shared.personal_data.erasure import ErasureJob
from tests.post_office.helpers import (
    SCAN_PATHS,
    PostalTopic,
    PostOfficeClient,
    acceptance,
    at,
    handover,
    new_item_id,
    online,
    pickup,
    scan,
)
from tests.post_office.test_personal_data import vault_of

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

DISPUTE_WINDOW = timedelta(days=92)  # the default: Law on Post 2010 Art. 39 (1 month + 2 months)


class Delivered(NamedTuple):
    item_id: str
    dossier_id: str
    at: datetime


async def _delivered(api: PostOfficeClient) -> Delivered:
    receipt = await api.ok("/v1/dossiers", acceptance(new_item_id(), service_form="SEND_AND_RECEIVE"))
    await api.ok("/v1/handovers", handover([receipt["item_id"]]))
    result_item = new_item_id("RR")
    await api.ok("/v1/pickups", pickup(result_item, dossier_item_id=receipt["item_id"]))
    await api.ok(SCAN_PATHS["OUT_FOR_DELIVERY"], online(scan("OUT_FOR_DELIVERY", result_item, at(25, 8))))
    await api.ok(SCAN_PATHS["DELIVERED"], online(scan("DELIVERED", result_item, at(25, 10))))
    return Delivered(receipt["item_id"], receipt["dossier_id"], datetime.fromisoformat(at(25, 10)))


async def test_the_delivery_scan_stores_until_when_the_contact_is_held(
    api: PostOfficeClient, database_url: str
) -> None:
    dossier_id, delivered_at = (await _delivered(api))[1:]
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            (held,) = await vault_of(database_url).holding(conn, dossier_id)
    finally:
        await engine.dispose()

    assert held.kind == "applicant"
    assert held.purpose_ends == {
        "dispute": delivered_at + DISPUTE_WINDOW,
        "notifications": delivered_at + timedelta(days=7),
        "result_delivery": delivered_at,
    }
    assert held.held_until == delivered_at + DISPUTE_WINDOW


async def test_the_erasure_job_erases_the_expired_contact_once_and_announces_it_once(
    api: PostOfficeClient, post_office_app: FastAPI, postal_topic: PostalTopic
) -> None:
    item_id, dossier_id, delivered_at = await _delivered(api)
    other_id = (await _delivered(api)).dossier_id  # delivered the same day: also due, erased by the same run
    kept = await api.ok("/v1/dossiers", acceptance(new_item_id()))  # not delivered: held
    job: ErasureJob = post_office_app.state.erasure_job

    erased = await job.erase_due(now=delivered_at + DISPUTE_WINDOW + timedelta(seconds=1))
    again = await job.erase_due(now=delivered_at + DISPUTE_WINDOW + timedelta(seconds=2))

    assert {dossier_id, other_id} <= {e.dossier_id for e in erased}
    assert kept["dossier_id"] not in {e.dossier_id for e in erased}
    assert again == []
    await postal_topic.wait_until(
        lambda: [e for e in postal_topic.of(dossier_id) if e.type == "postal.personal_data_erased"],
        lambda found: len(found) >= 1,
    )
    await postal_topic.settled()  # nothing more came: announced once
    (announced,) = [e for e in postal_topic.of(dossier_id) if e.type == "postal.personal_data_erased"]
    assert isinstance(announced.data, PersonalDataErased)
    assert (announced.data.reason, announced.data.kinds) == ("retention", ["applicant"])
    assert announced.source.startswith("/post-offices/")
    contact = await api.http.get(
        f"/v1/dossiers/{item_id}/contact",
        params={"purpose": "notifications"},
        headers={"Authorization": f"Bearer {api.tokens.operator}"},
    )
    assert contact.status_code == 200 and contact.json()["erased"] is True
    assert contact.json()["reason"] == "retention"
