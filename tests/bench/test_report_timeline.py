"""The intake benchmark's per-second timeline: a stall shows as the seconds it happened in.

Pure bucketing, no services: each request counts in the second it was scheduled to be sent (open-loop,
so a slow answer is charged to the second that suffered it, not to the second it finally came back in).
"""

from __future__ import annotations

from bench import report


def test_each_request_counts_in_the_second_it_was_scheduled_and_a_stalled_second_stands_out() -> None:
    # Three seconds at 100/s: every request takes 10 ms except those sent during second 1, which
    # wait 150 ms behind a stall.
    offsets = [n / 100 for n in range(300)]
    latencies = [150.0 if 1.0 <= t < 2.0 else 10.0 for t in offsets]

    timeline = report.per_second(offsets, latencies)

    assert [s["second"] for s in timeline] == [0, 1, 2]
    assert [s["count"] for s in timeline] == [100, 100, 100]
    assert [s["p99"] for s in timeline] == [10.0, 150.0, 10.0]
    assert timeline[1]["p50"] == 150.0
    assert timeline[1]["max"] == 150.0


def test_a_second_in_which_nothing_was_answered_is_kept_with_a_count_of_zero() -> None:
    # Requests whose answers never came (connection errors) have no latency; their second must
    # still appear, or the timeline would close the gap and hide when it happened.
    timeline = report.per_second([0.1, 0.5, 2.2], [5.0, 7.0, 9.0])

    assert [(s["second"], s["count"]) for s in timeline] == [(0, 2), (1, 0), (2, 1)]
    assert timeline[0]["max"] == 7.0


def test_the_timeline_prints_one_line_per_second_with_its_wall_clock_time() -> None:
    # The wall-clock time of each second is what lines a slow second up with a GC pause or a
    # checkpoint in another process's log.
    timeline = report.per_second([0.0, 1.0], [3.0, 120.0])

    lines = report.timeline_lines(timeline, started_at=1_800_000_000.0)

    assert len(lines) == 2
    assert "08:00:00" in lines[0] and "08:00:01" in lines[1]
    assert "120" in lines[1]
