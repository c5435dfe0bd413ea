"""Two requests about the same item, the second waiting for the first's lock on it, against PostgreSQL.

The second must decide on what the first recorded: the first's scan (the same scan sent twice at once, by
a retrying scanner, is a duplicate, not a conflict) and the first's delivery attempt. Under READ COMMITTED
a statement that waits for a row lock still reads the other tables as they were when it began, so how the
post office reads an item's scans and attempts after locking it is what these tests watch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from contracts.envelope import Envelope
from services.post_office.adapters.repository import transaction
from services.post_office.domain import AttemptOutcome
from services.post_office.handlers import PostOfficeHandlers, Publisher
from services.post_office.scan_commands import AnyScan, DeliveryFailedScan, OutForDeliveryScan, TransitScan
from services.shared.db.engine import make_engine
from tests.post_office.helpers import OFFICE, PostOfficeClient, at, scan

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

T = TypeVar("T")
DEADLINE_S = 30.0


class HeldPublisher:
    """Publishes through the real publisher, but holds the first publication (and its request's
    transaction, with the item's lock) until released."""

    def __init__(self, real: Publisher) -> None:
        self._real = real
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self._held_one = False

    async def publish_many(self, envelopes: Sequence[Envelope[Any]]) -> None:
        if not self._held_one:
            self._held_one = True
            self.holding.set()
            await self.release.wait()
        await self._real.publish_many(envelopes)


@asynccontextmanager
async def first_publication_held(handlers: PostOfficeHandlers) -> AsyncIterator[HeldPublisher]:
    real = handlers._publisher
    held = HeldPublisher(real)
    handlers._publisher = held
    try:
        yield held
    finally:
        held.release.set()
        handlers._publisher = real


async def within_deadline(work: Awaitable[T], what: str) -> T:
    try:
        return await asyncio.wait_for(work, DEADLINE_S)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {DEADLINE_S:.0f} s") from None


async def until_a_request_waits_for_a_lock(database_url: str) -> None:
    """Until a session of this database waits for a lock (the second request, on the item's row)."""
    engine = make_engine(database_url)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE_S
        while True:
            async with engine.connect() as conn:
                waiting = (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                ).scalar_one()
            if waiting:
                return
            assert loop.time() < deadline, f"no request waited for a lock within {DEADLINE_S:.0f} s"
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def second_waiting_for_first(
    handlers: PostOfficeHandlers, database_url: str, first: AnyScan, second: AnyScan
) -> tuple[Any, Any]:
    """Record `first`, hold it before its commit, record `second` (which waits for the item's lock),
    then let the first commit; both answers."""
    async with first_publication_held(handlers) as held:
        first_task = asyncio.create_task(handlers.record_scan(OFFICE, first))
        await within_deadline(held.holding.wait(), "the first scan reaching its publication")
        second_task = asyncio.create_task(handlers.record_scan(OFFICE, second))
        await until_a_request_waits_for_a_lock(database_url)
        held.release.set()
        first_answer = await within_deadline(first_task, "the first scan's answer")
        second_answer = await within_deadline(second_task, "the second scan's answer")
    return first_answer, second_answer


async def test_the_same_transit_scan_sent_while_its_first_sending_holds_the_item_answers_duplicate(
    api: PostOfficeClient, post_office_app: FastAPI, database_url: str
) -> None:
    handlers: PostOfficeHandlers = post_office_app.state.post_office.handlers
    receipt = await api.accepted_dossier()
    departed = TransitScan.model_validate(scan("IN_TRANSIT", receipt["item_id"], at(14, 17)))
    await handlers.record_scan(OFFICE, departed)
    # Already in transit: recording this scan changes nothing on the item itself, only adds the scan.
    arrived = TransitScan.model_validate(
        scan("IN_TRANSIT", receipt["item_id"], at(14, 19), direction="ARRIVED")
    )

    first, again = await second_waiting_for_first(handlers, database_url, arrived, arrived)

    assert first.status == "accepted"
    assert (again.status, again.event_id) == ("duplicate", first.event_id)


async def test_a_failed_delivery_scanned_while_its_attempt_is_being_recorded_ends_that_attempt(
    api: PostOfficeClient, post_office_app: FastAPI, database_url: str
) -> None:
    handlers: PostOfficeHandlers = post_office_app.state.post_office.handlers
    result_item_id = (await api.picked_up_result())["result_item_id"]
    out = OutForDeliveryScan.model_validate(scan("OUT_FOR_DELIVERY", result_item_id, at(25, 8)))
    failed = DeliveryFailedScan.model_validate(scan("DELIVERY_FAILED", result_item_id, at(25, 11)))

    taken_out, failure = await second_waiting_for_first(handlers, database_url, out, failed)

    assert (taken_out.status, failure.status) == ("accepted", "accepted")
    async with transaction(handlers._engine, datetime.now(UTC)) as repo:
        item = await repo.item(result_item_id)
    assert item is not None
    (attempt,) = item.attempts
    assert attempt.outcome is AttemptOutcome.FAILED
