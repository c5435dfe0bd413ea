"""Once the tracker consumes, its start-up heap is frozen and full garbage collections are rare.

A full collection walks every live object, the batches in flight included: on 200,000 events the
consumer's 70 full collections took 9.5 s of its 36.5 s of CPU (gc.callbacks in the bench, issue 19).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.tracker.app import FULL_COLLECTION_EVERY, build
from tests.fixtures.kafka import KafkaLogin
from tests.tracker.support import settings_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def default_collector() -> Iterator[None]:
    """CPython's own collector settings, whatever an earlier test's service set in this process."""
    before = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*before)


async def test_a_consuming_tracker_freezes_its_start_up_heap_and_collects_everything_a_tenth_as_often(
    default_collector: None, migrated_database: str, tracker_kafka: KafkaLogin
) -> None:
    tracker = build(settings_for(migrated_database, tracker_kafka))
    try:
        async with tracker.consuming():
            frozen = gc.get_freeze_count()
            full_every = gc.get_threshold()[2]
    finally:
        await tracker.dispose()

    assert frozen > 10_000, "the modules, validators and catalog loaded at start-up are out of reach"
    assert full_every == FULL_COLLECTION_EVERY == 100
