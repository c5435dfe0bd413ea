"""A retried acceptance or pickup is recognised whatever UTC offset its time is written in; other
details are still another use of the item id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel
from sqlalchemy import update

from services.post_office.adapters.tables import post_office_item
from services.post_office.commands import AcceptDossier
from services.post_office.fingerprints import legacy_fingerprint
from services.shared.db.engine import make_engine
from tests.post_office.helpers import PostOfficeClient, acceptance, new_item_id, pickup

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def in_utc(local: str) -> str:
    return datetime.fromisoformat(local).astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_an_acceptance_sent_again_with_its_time_in_utc_is_a_replay(api: PostOfficeClient) -> None:
    body = acceptance(new_item_id())
    first = await api.post("/v1/dossiers", body)

    again = await api.post("/v1/dossiers", body | {"accepted_at": in_utc(body["accepted_at"])})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() | {"replayed": True}


async def test_a_pickup_sent_again_with_its_time_in_utc_is_a_replay(api: PostOfficeClient) -> None:
    body = pickup(new_item_id("RR"))
    first = await api.post("/v1/pickups", body)

    again = await api.post("/v1/pickups", body | {"picked_up_at": in_utc(body["picked_up_at"])})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["replayed"] is True


async def test_an_acceptance_sent_again_with_other_details_is_still_refused(api: PostOfficeClient) -> None:
    body = acceptance(new_item_id())
    await api.ok("/v1/dossiers", body)

    other = await api.post("/v1/dossiers", body | {"postage_vnd": body["postage_vnd"] + 1000})

    assert (other.status_code, other.json()["reason"]) == (409, "item_already_used")


async def _as_recorded_by_the_previous_release(database_url: str, item_id: str, command: BaseModel) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(post_office_item)
                .where(post_office_item.c.item_id == item_id)
                .values(fingerprint=legacy_fingerprint(command))
            )
    finally:
        await engine.dispose()


async def test_an_acceptance_recorded_before_fingerprints_were_versioned_is_still_replayed(
    api: PostOfficeClient, database_url: str
) -> None:
    body = acceptance(new_item_id())
    await api.ok("/v1/dossiers", body)
    await _as_recorded_by_the_previous_release(
        database_url, body["item_id"], AcceptDossier.model_validate(body)
    )

    again = await api.post("/v1/dossiers", body | {"accepted_at": in_utc(body["accepted_at"])})
    other = await api.post("/v1/dossiers", body | {"postage_vnd": body["postage_vnd"] + 1000})

    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert (other.status_code, other.json()["reason"]) == (409, "item_already_used")
