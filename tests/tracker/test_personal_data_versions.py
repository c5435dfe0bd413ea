"""The tracker reads both versions of the events that start a dossier: version 1 (the applicant's contact
in the event, still on the topics until their retention ends) through the upcaster, version 2 (only who
holds the contact and the phone check) as published now. Either way the public lookup answers with the
phone's last four digits, and the tracker's tables keep none of the contact."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from contracts.enums import PersonalDataHolder, ServiceForm
from contracts.envelope import Envelope
from contracts.events import DossierAcceptedV2, DossierRegisteredForReturnV2, Event
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_APPLICANT
from services.shared.db.engine import make_engine
from services.shared.personal_data.phone_check import PhoneDigest
from services.tracker.app import build
from tests.tracker.journeys import Dossier, journey, new_dossier
from tests.tracker.support import records_of, settings_for

LAST4 = SAMPLE_APPLICANT.phone[-4:]
PERSONAL = (
    SAMPLE_APPLICANT.name,
    SAMPLE_ADDRESS.line,
    str(SAMPLE_APPLICANT.id_number),
    SAMPLE_APPLICANT.phone,
)


def _as_version_2(
    dossier: Dossier, events: list[Envelope[Event]], digest: PhoneDigest
) -> list[Envelope[Event]]:
    """The journey as the producers publish it now: its first event in version 2."""
    first = events[0]
    data = first.data
    accepted = first.type == "postal.dossier_accepted"
    model: type[Event] = DossierAcceptedV2 if accepted else DossierRegisteredForReturnV2
    exclude = {"type", "version", "applicant", "delivery_address"}
    holder = PersonalDataHolder.POST_OFFICE if model is DossierAcceptedV2 else PersonalDataHolder.AGENCY
    v2 = model(
        **data.model_dump(exclude=exclude),
        held_by=holder,
        phone_check=digest.of_phone(dossier.dossier_id, SAMPLE_APPLICANT.phone),
    )
    return [first.model_copy(update={"data": v2, "schemaversion": 2, "dataschema": None}), *events[1:]]


@pytest.mark.postgres
@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("form", [ServiceForm.SEND_AND_RECEIVE, ServiceForm.RECEIVE_RESULT])
async def test_the_public_lookup_answers_for_either_version_and_no_contact_is_stored(
    migrated_database: str, version: int, form: ServiceForm
) -> None:
    settings = settings_for(migrated_database)
    dossier = new_dossier(form)
    events = journey(dossier)
    if version == 2:
        events = _as_version_2(dossier, events, PhoneDigest(settings.phone_digest_keys()[:1]))
        assert events[0].schemaversion == 2
    tracker = build(settings, consume=False)
    try:
        await tracker.processor.process(records_of(events))
        transport = httpx.ASGITransport(app=tracker.api)
        ref = dossier.item_id if form is not ServiceForm.RECEIVE_RESULT else dossier.agency_dossier_code
        async with httpx.AsyncClient(transport=transport, base_url="http://tracker") as client:
            right = await client.get(f"/public/dossiers/{ref}", params={"phone_last4": LAST4})
            wrong = await client.get(f"/public/dossiers/{ref}", params={"phone_last4": "0000"})
    finally:
        await tracker.dispose()
    assert right.status_code == 200, right.text
    assert wrong.status_code == 404
    engine = make_engine(migrated_database)
    try:
        async with engine.connect() as conn:
            history = (
                await conn.execute(
                    text("SELECT version, data::text FROM tracker_event WHERE dossier_id = :d"),
                    {"d": dossier.dossier_id},
                )
            ).all()
    finally:
        await engine.dispose()
    stored = " ".join(row.data for row in history)
    assert history and not [value for value in PERSONAL if value in stored]
    assert "phone_check" not in stored
