"""How a rebuild splits the event topics' partitions between processes and, inside each, between lanes:
every partition is replayed once, and partition p of every topic (the same dossiers) by one lane."""

from __future__ import annotations

import re

import pytest

from services.tracker.rebuild import RebuildRefusedError, Share, common_partition_count, lanes_of


@pytest.mark.parametrize("processes", range(1, 13))
@pytest.mark.parametrize("lanes", [1, 2, 3, 4, 6, 12])
def test_every_partition_is_replayed_by_exactly_one_lane_of_one_process(processes: int, lanes: int) -> None:
    owners: dict[int, tuple[int, int]] = {}
    for index in range(processes):
        for lane, partitions in enumerate(lanes_of(Share(index, processes).partitions(12), lanes)):
            assert partitions, "no lane is started without partitions"
            for partition in partitions:
                assert partition not in owners, f"partition {partition} replayed twice"
                owners[partition] = (index, lane)
    assert sorted(owners) == list(range(12))


def test_each_process_keeps_as_many_lanes_busy_as_it_has_partitions() -> None:
    # Process 0 of 2 owns the even partitions: split by p % lanes, one of its two lanes would get them all.
    assert lanes_of(Share(0, 2).partitions(12), 2) == [[0, 4, 8], [2, 6, 10]]
    assert lanes_of(Share(1, 5).partitions(12), 2) == [[1, 11], [6]]


def test_one_process_splits_its_lanes_as_the_rebuild_always_did() -> None:
    assert lanes_of(Share(0, 1).partitions(12), 3) == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]


@pytest.mark.parametrize(("given", "expected"), [("0/1", Share(0, 1)), ("3/4", Share(3, 4))])
def test_a_share_is_read_from_its_command_line_form(given: str, expected: Share) -> None:
    assert Share.parse(given) == expected
    assert str(expected) == given


@pytest.mark.parametrize("given", ["4/4", "-1/2", "1/0", "1", "a/b", "1/2/3"])
def test_a_share_outside_its_count_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="share"):
        Share.parse(given)


def test_topics_with_different_partition_counts_cannot_be_split_by_partition() -> None:
    with pytest.raises(
        RebuildRefusedError, match=re.escape("postal.events.v1 has 12, agency.events.v1 has 6")
    ):
        common_partition_count({"postal.events.v1": 12, "agency.events.v1": 6})
    assert common_partition_count({"postal.events.v1": 12, "agency.events.v1": 12}) == 12
