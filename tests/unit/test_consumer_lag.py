"""The one definition of consumer lag, partition by partition (services/shared/consumer_lag)."""

from __future__ import annotations

import pytest

from services.shared.consumer_lag import partition_lag


@pytest.mark.parametrize(
    ("end", "committed", "log_start", "lag"),
    [
        (10, 4, 0, 6),  # committed: the end minus the commit
        (10, 10, 0, 0),  # caught up
        (10, None, 0, 10),  # never committed, nothing deleted: the whole log
        (10, None, 7, 3),  # never committed: from the log start, the records before it are gone
        (10, -1, 7, 3),  # the broker's "no commit" (-1) is the same
        (10, 2, 7, 3),  # a commit older than the log start: the consumer resets to the log start
        (0, None, 0, 0),  # an empty partition
    ],
)
def test_lag_of_a_partition_counts_from_the_commit_or_the_log_start(
    end: int, committed: int | None, log_start: int, lag: int
) -> None:
    assert partition_lag(end, committed, log_start) == lag
