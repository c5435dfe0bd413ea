"""The tracker on SQLite, the embedded database of the local run: projection, outbox relay and lookups."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.enums import ServiceForm
from contracts.envelope import Envelope
from contracts.samples import SAMPLE_APPLICANT
from services.shared.auth import Role
from services.shared.db import migrate
from services.tracker.adapters.outbox import OutboxRelay
from services.tracker.app import Tracker, build
from services.tracker.domain import fold
from services.tracker.handlers import to_entry
from tests.tracker.journeys import journey, new_dossier
from tests.tracker.support import credential, records_of, settings_for


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[Envelope[Any]] = []

    async def publish_many(self, envelopes: Sequence[Envelope[Any]]) -> None:
        self.published.extend(envelopes)


@pytest.fixture
async def local_tracker(tmp_path: Path) -> AsyncIterator[Tracker]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dossier.db'}"
    await migrate.upgrade_async(url)
    built = build(settings_for(url), consume=False, clock=lambda: datetime(2025, 3, 20, tzinfo=UTC))
    yield built
    await built.dispose()


async def test_the_local_run_projects_publishes_and_answers_lookups_on_sqlite(local_tracker: Tracker) -> None:
    dossiers = [new_dossier(form) for form in ServiceForm]
    journeys = {d.dossier_id: journey(d) for d in dossiers}
    late = journeys[dossiers[1].dossier_id]
    early = [e for events in journeys.values() for e in events if e.id != late[0].id]
    await local_tracker.processor.process(records_of(early))
    await local_tracker.processor.process(records_of([late[0]], 100))  # the acceptance arrives last

    publisher = RecordingPublisher()
    relay = OutboxRelay(local_tracker.engine, publisher, local_tracker.metrics)  # type: ignore[arg-type]
    while await relay.drain_once():
        pass
    assert {e.subject for e in publisher.published} == set(journeys)
    assert local_tracker.registry.get_sample_value("tracker_outbox_backlog") == 0

    token = await credential(local_tracker.engine, Role.OPERATOR)
    transport = httpx.ASGITransport(app=local_tracker.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://tracker") as client:
        for dossier in dossiers:
            detail = (
                await client.get(
                    f"/dossiers/{dossier.dossier_id}", headers={"Authorization": f"Bearer {token}"}
                )
            ).json()
            view = fold(
                dossier.dossier_id, [to_entry(e, local_tracker.digest) for e in journeys[dossier.dossier_id]]
            )
            assert detail["stage"] == (view.stage.value if view.stage else None)
            assert detail["anomaly_count"] == 0 and len(detail["history"]) == len(
                journeys[dossier.dossier_id]
            )
        page = (
            await client.get("/dossiers", params={"limit": 2}, headers={"Authorization": f"Bearer {token}"})
        ).json()
        rest = (
            await client.get(
                "/dossiers",
                params={"limit": 2, "cursor": page["next_cursor"]},
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
        assert {i["dossier_id"] for i in page["items"] + rest["items"]} == set(journeys)
        public = await client.get(
            f"/public/dossiers/{dossiers[0].item_id}", params={"phone_last4": SAMPLE_APPLICANT.phone[-4:]}
        )
        assert public.status_code == 200 and public.json()["stage"] == "RESULT_READY"
