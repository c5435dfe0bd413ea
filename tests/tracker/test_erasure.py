"""An erasure event (postal.personal_data_erased / agency.personal_data_erased) makes the tracker drop the
dossier's phone check: its public lookup then answers as for an unknown dossier, a later event does not
bring the check back, and the staff detail says when the contact was erased."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from contracts.enums import ErasureReason, ServiceForm
from contracts.envelope import Envelope
from contracts.events import Event
from contracts.samples import SAMPLE_APPLICANT
from services.shared.auth import Role
from services.shared.db.engine import make_engine
from services.tracker.app import build
from tests.tracker.journeys import journey, new_dossier
from tests.tracker.support import credential, records_of, settings_for

LAST4 = SAMPLE_APPLICANT.phone[-4:]

pytestmark = pytest.mark.postgres


def _erased(
    events: list[Envelope[Event]], dossier_id: str, event_type: str, kinds: list[str]
) -> Envelope[Event]:
    last = events[-1]
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    erasure = dossier.envelope(
        event_type,
        last.time + timedelta(days=1),
        reason=ErasureReason.RETENTION,
        erased_at=last.time + timedelta(days=1),
        kinds=kinds,
    )
    return erasure.model_copy(update={"subject": dossier_id})


@pytest.mark.parametrize(
    ("form", "event_type"),
    [
        (ServiceForm.SEND_AND_RECEIVE, "postal.personal_data_erased"),
        (ServiceForm.RECEIVE_RESULT, "agency.personal_data_erased"),
    ],
)
async def test_after_erasure_the_lookup_answers_as_for_an_unknown_dossier_and_the_detail_says_erased(
    migrated_database: str, form: ServiceForm, event_type: str
) -> None:
    settings = settings_for(migrated_database)
    dossier = new_dossier(form)
    events = journey(dossier)
    ref = dossier.item_id if form is not ServiceForm.RECEIVE_RESULT else dossier.agency_dossier_code
    unknown = new_dossier(form)
    unknown_ref = unknown.item_id if form is not ServiceForm.RECEIVE_RESULT else unknown.agency_dossier_code
    erasure = _erased(events, dossier.dossier_id, event_type, ["applicant"])
    engine = make_engine(migrated_database)
    operator = await credential(engine, Role.OPERATOR)
    tracker = build(settings, consume=False)
    try:
        await tracker.processor.process(records_of(events[:-1]))
        transport = httpx.ASGITransport(app=tracker.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://tracker") as client:
            before = await client.get(f"/public/dossiers/{ref}", params={"phone_last4": LAST4})
            await tracker.processor.process(records_of([erasure], first_offset=len(events)))
            await tracker.processor.process(records_of([erasure], first_offset=len(events) + 1))  # again
            await tracker.processor.process(records_of(events[-1:], first_offset=len(events) + 2))  # later
            after = await client.get(f"/public/dossiers/{ref}", params={"phone_last4": LAST4})
            never = await client.get(f"/public/dossiers/{unknown_ref}", params={"phone_last4": LAST4})
            detail = await client.get(
                f"/dossiers/{dossier.dossier_id}", headers={"Authorization": f"Bearer {operator}"}
            )
        async with engine.connect() as conn:
            digests = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM tracker_event"
                        " WHERE dossier_id = :d AND phone_digest IS NOT NULL"
                    ),
                    {"d": dossier.dossier_id},
                )
            ).scalar_one()
    finally:
        await tracker.dispose()
        await engine.dispose()
    assert before.status_code == 200, before.text
    assert (after.status_code, after.json()) == (never.status_code, never.json())
    assert after.status_code == 404
    assert detail.status_code == 200, detail.text
    assert detail.json()["contact_erased_at"] == erasure.data.model_dump(mode="json")["erased_at"]
    assert digests == 0
    # The erasure is no step of the journey: the history shows none.
    assert event_type not in [h["type"] for h in detail.json()["history"]]


async def test_an_erasure_of_a_delivery_note_only_keeps_the_phone_check(migrated_database: str) -> None:
    settings = settings_for(migrated_database)
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    tracker = build(settings, consume=False)
    try:
        await tracker.processor.process(records_of(events))
        note = _erased(
            events,
            dossier.dossier_id,
            "postal.personal_data_erased",
            [f"delivery_note:{dossier.result_item_id}:1"],
        )
        await tracker.processor.process(records_of([note], first_offset=len(events)))
        transport = httpx.ASGITransport(app=tracker.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://tracker") as client:
            answer = await client.get(f"/public/dossiers/{dossier.item_id}", params={"phone_last4": LAST4})
    finally:
        await tracker.dispose()
    assert answer.status_code == 200, answer.text
