"""What one online scan costs the database, counted against the real PostgreSQL.

Every round trip to PostgreSQL is latency a clerk's scanner waits for and CPU the post office spends
(issue 19: intake p99 at 300 scans/s). The count covers what the handler sends: the statements
(SQLAlchemy's ``before_cursor_execute``) and what asyncpg sends outside them (the pool's pre-ping, BEGIN,
COMMIT, seen by asyncpg's query logger on the pooled connections).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from services.post_office.scan_commands import TransitScan
from tests.post_office.helpers import OFFICE, PostOfficeClient, at, scan

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@contextmanager
def round_trips(engine: AsyncEngine) -> Iterator[list[str]]:
    """The first words of everything sent to PostgreSQL while the block runs, in order."""
    sent: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        sent.append(" ".join(sql.split()[:4]))

    def logged(record: Any) -> None:
        sent.append(" ".join(record.query.split()[:4]))

    watched: list[Any] = []

    def watch(dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        if not any(d is driver for d in watched):
            driver.add_query_logger(logged)
            watched.append(driver)

    pool = engine.sync_engine.pool
    # asyncpg logs simple-protocol queries only (the ping, BEGIN, COMMIT); prepared statements are
    # SQLAlchemy's and seen by its event: nothing is counted twice.
    event.listen(pool, "checkin", watch)
    event.listen(pool, "connect", watch)
    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)
        event.remove(pool, "connect", watch)
        event.remove(pool, "checkin", watch)
        for driver in watched:
            driver.remove_query_logger(logged)


async def test_a_transit_scan_costs_four_round_trips_to_postgresql_whether_or_not_the_item_changes(
    api: PostOfficeClient, post_office_app: FastAPI
) -> None:
    handlers = post_office_app.state.post_office.handlers
    engine: AsyncEngine = handlers._engine
    item_id = (await api.accepted_dossier())["item_id"]
    other_item_id = (await api.accepted_dossier())["item_id"]
    # The first takes the item in transit (its stage changes); the second changes nothing on the item.
    departed = TransitScan.model_validate(scan("IN_TRANSIT", item_id, at(14, 17)))
    arrived = TransitScan.model_validate(scan("IN_TRANSIT", item_id, at(14, 19), direction="ARRIVED"))
    warm_up = TransitScan.model_validate(scan("IN_TRANSIT", other_item_id, at(14, 17)))

    # One pooled connection, watched from its start: the measured scans get it back (as a used
    # connection, which a pre-ping would ping), whatever connections earlier tests left in the pool.
    await engine.dispose()
    counted: dict[str, list[str]] = {}
    with round_trips(engine) as sent:
        # Brings the connection back watched.
        await handlers.record_scan(OFFICE, warm_up)
        for name, measured in (("departed", departed), ("arrived", arrived)):
            sent.clear()
            await handlers.record_scan(OFFICE, measured)
            # asyncpg hands its log records to the event loop: let them arrive.
            await asyncio.sleep(0)
            counted[name] = list(sent)

    # BEGIN; the item, locked, with its delivery attempts and the scan id, one statement; the scan's row
    # with the item's row (its new stage, or only a new version of it), one statement; COMMIT.
    # No pre-ping: a connection lost since its last use fails the request with 503 database_unavailable
    # (retried by the scanner) instead of costing every scan a round trip.
    assert {name: len(sent) for name, sent in counted.items()} == {"departed": 4, "arrived": 4}, counted
    assert not any("SELECT 1" in sent for sent in counted.values()), counted


async def test_a_transit_scans_statements_go_to_asyncpg_directly_not_through_sqlalchemy_execution(
    api: PostOfficeClient, post_office_app: FastAPI
) -> None:
    # SQLAlchemy's execution of a statement (its cache lookup, parameter and row processing, a greenlet
    # hop each way) cost more CPU than asyncpg's own (issue 19): the scan's two statements are sent as
    # prepared statements on the driver's connection of the same transaction. Still four round trips.
    handlers = post_office_app.state.post_office.handlers
    engine: AsyncEngine = handlers._engine
    item_id = (await api.accepted_dossier())["item_id"]
    other_item_id = (await api.accepted_dossier())["item_id"]
    departed = TransitScan.model_validate(scan("IN_TRANSIT", item_id, at(14, 17)))
    # A fresh connection learns the statements' types once (asyncpg's introspection), then never again.
    warm_up = TransitScan.model_validate(scan("IN_TRANSIT", other_item_id, at(14, 17)))
    executed: list[str] = []

    def through_sqlalchemy(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        executed.append(" ".join(sql.split()[:4]))

    await engine.dispose()
    event.listen(engine.sync_engine, "before_cursor_execute", through_sqlalchemy)
    try:
        with round_trips(engine) as sent:
            await handlers.record_scan(OFFICE, warm_up)
            sent.clear()
            executed.clear()
            await handlers.record_scan(OFFICE, departed)
            await asyncio.sleep(0)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", through_sqlalchemy)

    assert executed == [], executed
    assert len(sent) == 4, sent
