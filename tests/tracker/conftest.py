"""Fixtures of the tracker's tests: a tracker wired to a fresh migrated PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.shared.consuming import dead_letter_topic
from services.tracker.app import Tracker, build
from services.tracker.consumers import TOPICS
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.tracker.support import forget_earlier_events, settings_for


@pytest.fixture
async def tracker(migrated_database: str) -> AsyncIterator[Tracker]:
    """A tracker on its own database, not consuming (tests feed its processor directly)."""
    built = build(settings_for(migrated_database), consume=False)
    try:
        yield built
    finally:
        await built.dispose()


@pytest.fixture
async def live_tracker(
    migrated_database: str, kafka_admin: KafkaLogin, tracker_kafka: KafkaLogin
) -> AsyncIterator[Tracker]:
    """A tracker on its own database and consumer group, consuming from the session's broker."""
    settings = settings_for(migrated_database, tracker_kafka)
    await start_group_at_end(kafka_admin, settings.consumer_group, TOPICS)
    built = build(settings)
    try:
        async with built.consuming():
            yield built
    finally:
        await built.dispose()


@pytest.fixture
async def fresh_log(kafka_admin: KafkaLogin) -> None:
    """For a test that rebuilds from the log: the tracker's topics start at their current end, so the
    rebuild replays this test's events, whatever the session published before."""
    await forget_earlier_events(kafka_admin, TOPICS)


@pytest.fixture
async def fresh_dead_letters(kafka_admin: KafkaLogin) -> None:
    """For a test that lists dead letters: the tracker's dead-letter topics start at their current end, so
    the listing reads this test's letters, not every one the session's earlier tests left."""
    await forget_earlier_events(kafka_admin, [dead_letter_topic(topic.name) for topic in TOPICS])
