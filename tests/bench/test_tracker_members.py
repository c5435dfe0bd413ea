"""The scaling curve's processes keep each dossier's two partitions with one group member."""

import pytest

from bench.tracker import members_per_process
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS
from services.tracker.settings import TrackerSettings


@pytest.mark.parametrize("replicas", [1, 2, 3, 4, 6, 12])
def test_the_whole_group_divides_the_partitions_of_both_topics(replicas: int) -> None:
    members = members_per_process(replicas)
    assert POSTAL_EVENTS.partitions % (replicas * members) == 0
    assert AGENCY_EVENTS.partitions % (replicas * members) == 0
    TrackerSettings(consumers=members)  # a count the tracker itself accepts


def test_two_processes_keep_the_default_two_members_and_four_processes_get_three() -> None:
    assert members_per_process(2) == TrackerSettings.model_fields["consumers"].default == 2
    assert members_per_process(4) == 3
