"""Postal and agency events travel on two topics, so a consumer catching up (after a crash, a rebalance or a
replay) may apply a dossier's postal events before its agency events, although they happened after them.
services/turnaround/domain.py promises clocks "independent of that interleaving, of redelivery and of
replays"; these tests apply one dossier's events in journey order and postal-topic-first, and compare."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import ServiceForm
from contracts.envelope import Envelope
from contracts.events import Event
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.turnaround.adapters import repository
from services.turnaround.app import load_rules
from services.turnaround.handlers import ClockProjector
from services.turnaround.metrics import CLOCK_FINISHED, JOURNEY
from services.turnaround.settings import TurnaroundSettings
from tests.fixtures.postgres import create_database
from tests.reliability.workload import workload

pytestmark = [pytest.mark.postgres]


@pytest.fixture
async def two_databases(postgres_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    urls = [await create_database(postgres_url, "order") for _ in range(2)]
    for url in urls:
        await migrate.upgrade_async(url)
    engines = (make_engine(urls[0]), make_engine(urls[1]))
    try:
        yield engines
    finally:
        for engine in engines:
            await engine.dispose()


async def _tallies_after(engine: AsyncEngine, batches: Sequence[Sequence[Envelope[Event]]]) -> list[Any]:
    latest = max(e.time for batch in batches for e in batch)
    projector = ClockProjector(load_rules(TurnaroundSettings()), lambda: latest)
    for batch in batches:
        async with engine.begin() as conn:
            await projector(conn, batch)
    async with engine.connect() as conn:
        return sorted(await repository.read_tallies(conn))


def _delivered_journey(form: ServiceForm) -> list[Envelope[Event]]:
    # A fixed seed and moment: the same journeys on every run, whatever today's date.
    for dossier in workload(20_261_206, 400, now=datetime(2026, 6, 1, 12, tzinfo=UTC)).dossiers:
        if dossier.form is form and dossier.events[-1].type == "postal.result_delivered":
            return dossier.events
    raise AssertionError("the workload has no delivered dossier of this form")


async def _in_order_and_postal_first(
    engines: tuple[AsyncEngine, AsyncEngine], form: ServiceForm, metric: str
) -> tuple[list[Any], list[Any]]:
    events = _delivered_journey(form)
    postal = [e for e in events if e.type.startswith("postal.")]
    agency = [e for e in events if e.type.startswith("agency.")]
    in_order = await _tallies_after(engines[0], [events])
    postal_first = await _tallies_after(engines[1], [postal, agency])

    def of(tallies: list[Any]) -> list[Any]:
        return [t for t in tallies if t[0].metric == metric]

    assert of(in_order), f"the journey in order has {metric} tallies"
    return of(in_order), of(postal_first)


@pytest.mark.parametrize("form", [ServiceForm.RECEIVE_RESULT, ServiceForm.SEND_AND_RECEIVE])
async def test_a_journey_is_counted_once_whether_its_postal_or_its_agency_events_are_applied_first(
    two_databases: tuple[AsyncEngine, AsyncEngine], form: ServiceForm
) -> None:
    in_order, postal_first = await _in_order_and_postal_first(two_databases, form, JOURNEY)
    assert postal_first == in_order


async def test_a_finished_clock_is_classified_the_same_whichever_topic_is_read_first(
    two_databases: tuple[AsyncEngine, AsyncEngine],
) -> None:
    in_order, postal_first = await _in_order_and_postal_first(
        two_databases, ServiceForm.RECEIVE_RESULT, CLOCK_FINISHED
    )
    assert postal_first == in_order
