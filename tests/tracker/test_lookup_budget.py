"""Budgets of failed public lookups, held in the database: per client, and per dossier (all its references
share one) or, for a reference that leads to no dossier, per reference. Two replicas and a restarted one
see the same budgets; a flood of other keys frees no blocked key; a blocked key stays blocked until its
window ends; expired budgets are deleted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from contracts.enums import ServiceForm
from contracts.samples import SAMPLE_APPLICANT
from contracts.values import make_s10
from services.shared.db import migrate
from services.tracker.adapters.tables import lookup_budget
from services.tracker.app import Tracker, build
from tests.tracker.journeys import Dossier, journey, new_dossier
from tests.tracker.support import records_of, settings_for

pytestmark = pytest.mark.postgres

ALLOWED = 3
WINDOW_S = 600
RIGHT = SAMPLE_APPLICANT.phone[-4:]
WRONG = "0000" if RIGHT != "0000" else "1111"


class Clock:
    """The wall clock of the replicas, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 20, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def replica(migrated_database: str, clock: Clock) -> Callable[[], Any]:
    """Starts tracker API replicas on the test's one database (each its own engine and process state)."""

    @asynccontextmanager
    async def started(**overrides: Any) -> AsyncIterator[Tracker]:
        settings = settings_for(
            migrated_database,
            public_lookup_failures=ALLOWED,
            public_lookup_window_s=WINDOW_S,
            **overrides,
        )
        built = build(settings, consume=False, clock=clock)
        try:
            yield built
        finally:
            await built.dispose()

    return started


def unique_client() -> str:
    """An address no other test uses (documentation range, uuid-derived)."""
    n = uuid.uuid4().int
    return f"2001:db8:{n % 65536:x}:{(n >> 16) % 65536:x}::{(n >> 32) % 65536:x}"


async def lookup(tracker: Tracker, reference: str, last4: str, client: str | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=tracker.api, client=(client or unique_client(), 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://tracker") as http:
        return await http.get(f"/public/dossiers/{reference}", params={"phone_last4": last4})


async def delivered(tracker: Tracker) -> Dossier:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    await tracker.processor.process(records_of(journey(dossier)))
    return dossier


def unknown_reference() -> str:
    return make_s10("EZ", uuid.uuid4().int % 100_000_000)


def statuses(answers: list[httpx.Response]) -> list[int]:
    return [answer.status_code for answer in answers]


async def test_a_second_replica_sees_the_failures_the_first_one_counted(replica: Any) -> None:
    async with replica() as first, replica() as second:
        dossier = await delivered(first)
        for _ in range(ALLOWED):
            assert (await lookup(first, dossier.item_id, WRONG)).status_code == 404

        refused = await lookup(second, dossier.item_id, RIGHT)

    assert refused.status_code == 429
    assert refused.json()["reason"] == "too_many_failed_lookups"
    assert 0 < int(refused.headers["retry-after"]) <= WINDOW_S


async def test_a_restarted_replica_keeps_the_budgets(replica: Any) -> None:
    client = unique_client()
    async with replica() as before:
        dossier = await delivered(before)
        for _ in range(ALLOWED):
            await lookup(before, unknown_reference(), WRONG, client)

    async with replica() as after:
        refused = await lookup(after, dossier.item_id, RIGHT, client)

    assert refused.status_code == 429


async def test_concurrent_failed_lookups_on_two_replicas_get_no_more_than_the_budget(replica: Any) -> None:
    async with replica() as first, replica() as second:
        dossier = await delivered(first)
        answers = await asyncio.gather(
            *(lookup((first, second)[n % 2], dossier.item_id, WRONG) for n in range(4 * ALLOWED))
        )

    assert sorted(statuses(list(answers))) == [404] * ALLOWED + [429] * (3 * ALLOWED)


async def test_every_reference_of_a_dossier_draws_on_one_budget(replica: Any) -> None:
    async with replica() as tracker:
        dossier = await delivered(tracker)
        references = [dossier.item_id, dossier.agency_dossier_code, dossier.result_item_id]
        failed = [await lookup(tracker, references[n % 3], WRONG) for n in range(ALLOWED)]

        refused = [await lookup(tracker, reference, RIGHT) for reference in references]

    assert statuses(failed) == [404] * ALLOWED
    assert statuses(refused) == [429] * 3


async def test_a_flood_of_other_keys_does_not_free_a_blocked_dossier(replica: Any, clock: Clock) -> None:
    async with replica() as tracker:
        dossier = await delivered(tracker)
        for _ in range(ALLOWED):
            await lookup(tracker, dossier.item_id, WRONG)

        # Distinct clients guessing distinct unknown references: every one a new budget row.
        flood = await asyncio.gather(*(lookup(tracker, unknown_reference(), WRONG) for _ in range(400)))
        clock.advance(WINDOW_S - 1)
        still = await lookup(tracker, dossier.item_id, RIGHT)

    assert set(statuses(list(flood))) == {404}
    assert still.status_code == 429
    assert int(still.headers["retry-after"]) == 1


async def test_a_blocked_dossier_answers_again_when_its_window_ends(replica: Any, clock: Clock) -> None:
    async with replica() as tracker:
        dossier = await delivered(tracker)
        for _ in range(ALLOWED):
            await lookup(tracker, dossier.item_id, WRONG)
        blocked = [await lookup(tracker, dossier.item_id, RIGHT) for _ in range(5)]
        clock.advance(WINDOW_S)

        found = await lookup(tracker, dossier.item_id, RIGHT)

    assert statuses(blocked) == [429] * 5
    assert found.status_code == 200 and found.json()["stage"] == "DELIVERED"


async def test_successful_and_refused_lookups_spend_no_budget(replica: Any) -> None:
    client = unique_client()
    async with replica() as tracker:
        dossier = await delivered(tracker)
        other = await delivered(tracker)
        found = [await lookup(tracker, dossier.item_id, RIGHT, client) for _ in range(2 * ALLOWED)]
        for _ in range(ALLOWED):
            await lookup(tracker, unknown_reference(), WRONG, client)
        # This client is blocked now; its refused attempts must not use up the other dossier's budget.
        refused = [await lookup(tracker, other.item_id, WRONG, client) for _ in range(2 * ALLOWED)]

        elsewhere = await lookup(tracker, other.item_id, RIGHT)

    assert statuses(found) == [200] * 2 * ALLOWED
    assert statuses(refused) == [429] * 2 * ALLOWED
    assert elsewhere.status_code == 200


async def test_an_unknown_reference_has_a_budget_of_its_own_and_so_has_each_client(replica: Any) -> None:
    guessed = unknown_reference()
    client = unique_client()
    async with replica() as tracker:
        for _ in range(ALLOWED):
            await lookup(tracker, guessed, WRONG)  # a new client each time
        same_reference = await lookup(tracker, guessed, WRONG)
        other_reference = await lookup(tracker, unknown_reference(), WRONG)
        for _ in range(ALLOWED):
            await lookup(tracker, unknown_reference(), WRONG, client)
        same_client = await lookup(tracker, unknown_reference(), WRONG, client)

        limited = tracker.registry.get_sample_value(
            "tracker_public_lookups_total", {"outcome": "rate_limited"}
        )

    assert same_reference.status_code == 429
    assert other_reference.status_code == 404
    assert same_client.status_code == 429
    assert limited == 2


async def test_budgets_whose_window_ended_are_deleted(replica: Any, clock: Clock) -> None:
    async with replica() as tracker:
        await asyncio.gather(*(lookup(tracker, unknown_reference(), WRONG) for _ in range(50)))
        async with tracker.engine.connect() as conn:
            before = await conn.scalar(select(func.count()).select_from(lookup_budget))
        clock.advance(WINDOW_S + 1)

        await lookup(tracker, unknown_reference(), WRONG)

        async with tracker.engine.connect() as conn:
            after = await conn.scalar(select(func.count()).select_from(lookup_budget))

    assert before == 100  # a client and a reference each
    assert after == 2


async def test_the_budget_holds_on_sqlite_across_a_restart(tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dossier.db'}"
    await migrate.upgrade_async(url)
    settings = settings_for(url, public_lookup_failures=ALLOWED, public_lookup_window_s=WINDOW_S)
    first = build(settings, consume=False, clock=clock)
    try:
        dossier = await delivered(first)
        failed = [await lookup(first, dossier.item_id, WRONG) for _ in range(ALLOWED)]
    finally:
        await first.dispose()
    second = build(settings, consume=False, clock=clock)
    try:
        refused = await lookup(second, dossier.item_id, RIGHT)
        clock.advance(WINDOW_S)
        found = await lookup(second, dossier.item_id, RIGHT)
    finally:
        await second.dispose()

    assert statuses(failed) == [404] * ALLOWED
    assert refused.status_code == 429 and found.status_code == 200
