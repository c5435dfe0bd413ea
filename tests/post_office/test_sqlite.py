"""The local run keeps the post office's state in SQLite: the same journey works there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.post_office.app import create_app
from services.shared.db import migrate
from tests.fixtures.kafka import KafkaLogin
from tests.post_office.conftest import issue_tokens, settings_for
from tests.post_office.helpers import (
    OFFICE,
    PostalTopic,
    PostOfficeClient,
    acceptance,
    at,
    handover,
    new_item_id,
    pickup,
    returning,
    scan,
)

pytestmark = [pytest.mark.kafka]


@pytest.fixture(scope="module")
async def sqlite_api(
    tmp_path_factory: pytest.TempPathFactory, post_office_kafka: KafkaLogin
) -> AsyncIterator[PostOfficeClient]:
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('post-office')) / 'dossier.db'}"
    await migrate.upgrade_async(url)
    tokens = await issue_tokens(url)
    app = create_app(settings_for(url, post_office_kafka))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://post-office.test") as http:
            yield PostOfficeClient(http, tokens)


async def test_a_whole_journey_ending_in_a_return_to_the_agency_runs_on_sqlite(
    sqlite_api: PostOfficeClient, postal_topic: PostalTopic
) -> None:
    api = sqlite_api
    dossier_item, result_item = new_item_id(), new_item_id("RR")
    receipt = await api.ok("/v1/dossiers", acceptance(dossier_item))
    await api.ok("/v1/handovers", handover([dossier_item]))
    await api.ok("/v1/pickups", pickup(result_item, dossier_item_id=dossier_item))
    scans = [
        scan("OUT_FOR_DELIVERY", result_item, at(25, 8)),
        scan("DELIVERY_FAILED", result_item, at(25, 10)),
        scan("OUT_FOR_DELIVERY", result_item, at(27, 8)),
        scan("DELIVERY_FAILED", result_item, at(27, 10)),
    ]
    uploaded = await api.ok("/v1/scans/batches", {"post_office_code": OFFICE, "scans": scans})
    again = await api.ok("/v1/scans/batches", {"post_office_code": OFFICE, "scans": scans})

    returned = await api.post("/v1/returns", returning(result_item))

    assert uploaded["accepted"] == 4
    assert again["duplicates"] == 4
    assert returned.status_code == 201, returned.text
    events = await postal_topic.wait_for(receipt["dossier_id"], 8)
    assert events[-1].type == "postal.result_returned_to_agency"
