"""Full garbage collections of the post office's heap are rare once it is serving.

A full collection walks every object allocated since start-up that is still alive, the objects of every
request in flight included: at 300 scans/s it ran every 2 s and, once a backlog had formed, took up to
285 ms (gc.callbacks in the bench's post office, issue 19), a pause every request in flight waited out,
which grew the backlog further.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest
from fastapi import FastAPI

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def test_once_serving_the_post_office_runs_a_full_collection_at_most_once_per_100_middle_ones(
    post_office_app: FastAPI,
) -> None:
    collections = {1: 0, 2: 0}

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] in collections:
            collections[info["generation"]] += 1

    survivors: list[dict[str, int]] = []
    # As a few seconds into serving: the first full collection since start-up has run (its size, not
    # start-up's heap, now decides when the next one is due).
    gc.collect()
    gc.callbacks.append(count)
    try:
        # Requests' objects: most die young, some live long enough to reach the old generation.
        while collections[1] < 200:
            survivors.append({"n": len(survivors)})
            cycle: list[Any] = []
            cycle.append(cycle)
    finally:
        gc.callbacks.remove(count)

    assert collections[2] <= 2, collections
