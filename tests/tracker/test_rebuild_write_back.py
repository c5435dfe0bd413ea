"""A rebuild keeps each lane's dossier views in memory between batches and writes a dossier's row when
its view leaves the cache or at the end (services.tracker.write_back): the same tables as the live
consumer, whatever the cache's size, and each row written about once instead of once per batch."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from contracts.enums import ErasureReason, ServiceForm, Stage
from contracts.envelope import Envelope
from contracts.events import Event
from services.shared.consuming import BatchProcessor, DeadLetter, RawRecord
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.tracker.adapters import repository
from services.tracker.adapters.tables import dossier as dossier_table
from services.tracker.app import agency_due_policy
from services.tracker.domain import DossierView, HistoryEntry
from services.tracker.handlers import PhoneDigest, Projector
from services.tracker.metrics import TrackerMetrics
from services.tracker.rebuild import Lane, rebuild
from services.tracker.write_back import WriteBackViews
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.postgres import create_database
from tests.tracker.journeys import journey, new_dossier
from tests.tracker.support import publish, records_of, settings_for
from tests.tracker.test_rebuild_processes import table_contents

pytestmark = pytest.mark.postgres

CONSUMER = "tracker-write-back"


def erasure_of(events: Sequence[Envelope[Event]], at: int) -> Envelope[Event]:
    """The applicant's contact erased by the post office, an hour after the dossier's event ``at``."""
    moment = events[at].time + timedelta(hours=1)
    other = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    erasure = other.envelope(
        "postal.personal_data_erased",
        moment,
        reason=ErasureReason.RETENTION,
        erased_at=moment,
        kinds=["applicant"],
    )
    return erasure.model_copy(update={"subject": events[0].subject})


def interleaved_log() -> list[Envelope[Event]]:
    """Seven dossiers' journeys dealt event by event (each dossier spans many batches): one arrives
    last-first (every event late, each batch refolds it), one has its contact erased after its
    acceptance and goes on, and one event is delivered twice."""
    journeys = [journey(new_dossier(form)) for form in itertools.islice(itertools.cycle(ServiceForm), 7)]
    journeys[1] = journeys[1][::-1]
    erased = journeys[2]
    journeys[2] = [*erased[:2], erasure_of(erased, 1), *erased[2:]]
    journeys[3] = [*journeys[3][:3], journeys[3][1], *journeys[3][3:]]
    dealt = itertools.zip_longest(*journeys)
    return [event for round_ in dealt for event in round_ if event is not None]


async def erased_dossiers(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                select(func.count())
                .select_from(dossier_table)
                .where(dossier_table.c.contact_erased_at.is_not(None))
            )
            return found or 0
    finally:
        await engine.dispose()


async def project(url: str, batches: Sequence[Sequence[RawRecord]], views: WriteBackViews | None) -> None:
    """The batches through the consumer's processor: the live Projector, or a rebuild lane's."""
    settings = settings_for(url)
    engine = repository.tune(make_engine(url))
    metrics = TrackerMetrics(CollectorRegistry())
    projector = Projector(
        due=agency_due_policy(settings),
        digest=PhoneDigest(settings.phone_digest_keys()),
        metrics=metrics,
        publish_stage_changes=False,
        views=views,
    )

    async def refuse(letters: Sequence[DeadLetter], _: str) -> None:
        raise AssertionError(f"every record is valid: {letters}")

    processor = BatchProcessor(
        consumer=CONSUMER, engine=engine, apply=projector, dead_letters=refuse, metrics=metrics.consumer
    )
    try:
        for batch in batches:
            await processor.process(batch)
        if views is not None:
            await Lane(processor, views, engine).write_back()
    finally:
        await engine.dispose()


async def test_a_rebuild_with_a_cache_smaller_than_the_dossiers_gives_the_live_consumers_tables(
    postgres_url: str,
) -> None:
    records = records_of(interleaved_log())
    batches = [records[start : start + 3] for start in range(0, len(records), 3)]
    targets = {
        name: await create_database(postgres_url, f"write_back_{name}") for name in ("live", "small", "large")
    }
    for url in targets.values():
        await migrate.upgrade_async(url)

    await project(targets["live"], batches, None)
    small = WriteBackViews(capacity=2)
    await project(targets["small"], batches, small)
    await project(targets["large"], batches, WriteBackViews(capacity=10_000))

    expected = await table_contents(targets["live"])
    assert len(expected["tracker_dossier"]) == 7, "nothing to compare"
    assert await erased_dossiers(targets["live"]) == 1
    assert len(small) <= 2, "the small cache evicted views"
    assert await table_contents(targets["small"]) == expected
    assert await table_contents(targets["large"]) == expected


@pytest.mark.kafka
@pytest.mark.usefixtures("fresh_log")
async def test_a_rebuild_writes_a_dossiers_row_fewer_times_than_the_batches_it_appears_in(
    kafka_admin: KafkaLogin, tracker_kafka: KafkaLogin, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dossiers = [new_dossier(ServiceForm.SEND_AND_RECEIVE) for _ in range(3)]
    await publish(kafka_admin, [event for dossier in dossiers for event in journey(dossier)])
    target = await create_database(postgres_url, "rebuild_writes")
    # Batches of three records: each journey (a dozen events) spans several of them.
    settings = settings_for(target, tracker_kafka, max_batch=3, consumers=1)
    batches: Counter[str] = Counter()
    writes: Counter[str] = Counter()
    insert_events, upsert_dossiers = repository.insert_events, repository.upsert_dossiers

    async def counted_events(conn: Any, entries: Sequence[HistoryEntry]) -> None:
        batches.update({entry.dossier_id for entry in entries})
        await insert_events(conn, entries)

    async def counted_rows(conn: Any, views: Sequence[DossierView]) -> None:
        writes.update(view.dossier_id for view in views)
        await upsert_dossiers(conn, views)

    monkeypatch.setattr(repository, "insert_events", counted_events)
    monkeypatch.setattr(repository, "upsert_dossiers", counted_rows)

    summary = await rebuild(settings, target)

    assert summary.dossiers is not None and summary.dossiers >= len(dossiers)
    for dossier in dossiers:
        assert batches[dossier.dossier_id] >= 3, "the journey spans several batches"
        assert writes[dossier.dossier_id] == 1, (dossier.dossier_id, batches[dossier.dossier_id])


def test_the_eldest_views_not_in_the_batch_leave_first() -> None:
    views = WriteBackViews(capacity=3)
    first, second, third, fourth = (DossierView(str(uuid.uuid4())) for _ in range(4))
    views.committed([first, second, third], [])
    views.committed([first], [])  # touched again: now the youngest

    assert views.evictions({fourth.dossier_id, second.dossier_id}) == [third.dossier_id]
    assert views.evictions({first.dossier_id}) == []
    assert [v.dossier_id for v in views.dirty([second.dossier_id])] == [second.dossier_id]
    views.committed([fourth], [second.dossier_id])
    assert views.split([second.dossier_id, fourth.dossier_id])[1] == [second.dossier_id]


def test_a_view_whose_journey_ended_leaves_before_an_elder_one_still_under_way() -> None:
    views = WriteBackViews(capacity=3)
    waiting, delivered, closed, newcomer = (DossierView(str(uuid.uuid4())) for _ in range(4))
    under_way = DossierView(waiting.dossier_id, stage=Stage.PROCESSING)
    views.committed([under_way], [])
    views.committed([replace(delivered, stage=Stage.DELIVERED), replace(closed, stage=Stage.CLOSED)], [])

    # The agency's answer for `waiting` is days away, yet the delivered dossier leaves first.
    assert views.evictions({newcomer.dossier_id}) == [delivered.dossier_id]
    assert views.evictions({newcomer.dossier_id, DossierView(str(uuid.uuid4())).dossier_id}) == [
        delivered.dossier_id,
        closed.dossier_id,
    ]
    # A batch holding an ended dossier keeps it; then the eldest under way goes.
    assert views.evictions({newcomer.dossier_id, delivered.dossier_id, closed.dossier_id}) == [
        waiting.dossier_id
    ]


def test_a_view_whose_journey_resumes_is_no_longer_first_to_leave() -> None:
    views = WriteBackViews(capacity=2)
    returned, other, newcomer = (DossierView(str(uuid.uuid4())) for _ in range(3))
    views.committed([replace(returned, stage=Stage.DELIVERED), replace(other, stage=Stage.PROCESSING)], [])
    # A late event moved it on again (the fold put it in its place): an ordinary view now.
    views.committed([replace(returned, stage=Stage.DELIVERY_FAILED)], [])

    assert views.evictions({newcomer.dossier_id}) == [other.dossier_id]
    # Evicted and written, it is forgotten as ended too.
    views.committed([replace(newcomer, stage=Stage.DELIVERED)], [other.dossier_id])
    assert views.evictions({DossierView(str(uuid.uuid4())).dossier_id}) == [newcomer.dossier_id]
