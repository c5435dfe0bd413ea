"""The rebuild's rows of the benchmark table: one per process count, the cost per event at each log size,
and the projection to one national year from the measured curve."""

from __future__ import annotations

from typing import Any

import pytest

from bench import report

QUIET = {"load_before": [0.1, 0.1, 0.1], "others_cores": 0.0}


def run(events: int, seconds: float, processes: int = 1, cpu_seconds: float | None = None) -> dict[str, Any]:
    cpu = seconds * 0.9 if cpu_seconds is None else cpu_seconds
    return {
        "events": events,
        "processes": processes,
        "seconds": seconds,
        "rate": events / seconds,
        "cpu_seconds": cpu,
        "wall_us_per_event": seconds / events * 1e6,
        "cpu_us_per_event": cpu / events * 1e6,
        "peak_rss": 200 * 2**20,
        "largest_rss": 200 * 2**20,
        "contention": QUIET,
    }


def test_the_sizes_are_a_quarter_a_half_and_all_of_the_full_size() -> None:
    assert report.rebuild_sizes(1_000_000) == [250_000, 500_000, 1_000_000]
    assert report.rebuild_sizes(20_000) == [5_000, 10_000, 20_000]


def test_a_national_year_is_projected_from_the_fitted_curve_and_each_process_counts_speed_up() -> None:
    # 2 s of start-up and 150 µs an event, exactly.
    sizes = [run(n, 2 + 150e-6 * n) for n in (250_000, 500_000, 1_000_000)]
    projection = report.rebuild_projection(sizes, {1: sizes[-1], 2: run(1_000_000, 76.0, 2)})

    assert projection["fixed_seconds"] == pytest.approx(2.0)
    assert projection["marginal_us_per_event"] == pytest.approx(150.0)
    one = (2 + 150e-6 * 300_000_000) / 3600
    assert projection["hours"] == {
        "1 process": pytest.approx(one, abs=0.01),
        "2 processes": pytest.approx(one / 2, abs=0.01),
    }


def test_the_table_shows_each_process_count_the_cost_per_event_by_size_and_the_projection() -> None:
    sizes = [run(250_000, 40.0), run(500_000, 80.0), run(1_000_000, 200.0)]
    benches = {
        "rebuild": sizes[-1],
        "rebuild_sizes": sizes,
        "rebuild_2_processes": run(1_000_000, 100.0, 2),
        "rebuild_projection": report.rebuild_projection(sizes, {1: sizes[-1]}),
    }

    rows = {row.benchmark: row for row in report.rows({"benchmarks": benches})}

    one = rows["Rebuild: 1,000,000 events replayed into an empty projection"]
    assert one.measured == "200 s (5,000 events/s)" and one.target == "≤ 60 s per 1,000,000"
    assert one.met is False
    two = rows["Rebuild: 1,000,000 events replayed into an empty projection, 2 processes"]
    assert "×2.00 of one process" in two.measured and two.met is False
    flat = rows["Rebuild cost per event as the log grows (one process), wall / CPU"]
    assert flat.measured.startswith("250,000: 160 / 144 µs; 500,000: 160 / 144 µs; 1,000,000: 200 / 180 µs")
    assert flat.met is False, "200 µs at a million is 25 % above 160 µs at a quarter of it"
    projected = rows["Rebuild of one national year (300,000,000 events), projected"]
    assert projected.measured.startswith("1 process") and projected.met is None


def test_results_from_before_the_process_counts_keep_their_one_rebuild_row() -> None:
    old = {"events": 1_000_000, "seconds": 162.0, "rate": 6192.0, "cpu_seconds": 150.0, "contention": QUIET}

    rows = [row for row in report.rows({"benchmarks": {"rebuild": old}}) if "Rebuild" in row.benchmark]

    assert [row.measured for row in rows] == ["162 s (6,192 events/s)"]
