"""The table judges each figure by issue 19's targets: the tracker in one process by its rate and its share
of the store ceiling, a rebuild of a million events by 60 s, every service's peak RSS by 150 MiB."""

from __future__ import annotations

from typing import Any

from bench import report

QUIET = {"load_before": [0.1, 0.1, 0.1], "others_cores": 0.0}


def _tracker(rate: float, store_rate: float | None, replicas: int = 1) -> dict[str, Any]:
    found: dict[str, Any] = {
        "events": 500_000,
        "rate": rate,
        "ratio": rate / 300_000,
        "ceiling_rate": 300_000.0,
        "replicas": replicas,
        "contention": QUIET,
    }
    if store_rate is not None:
        found["store_ceiling"] = {"rate": store_rate}
        found["store_ratio"] = rate / store_rate
    return found


def _row(benches: dict[str, Any], starts: str) -> report.Row:
    (row,) = [row for row in report.rows({"benchmarks": benches}) if row.benchmark.startswith(starts)]
    return row


def test_one_tracker_process_meets_its_target_only_with_the_rate_and_half_the_store_ceiling() -> None:
    name = "Tracker throughput, 500,000 events into PostgreSQL, one consumer process"
    assert _row({"tracker": _tracker(20_000, 40_000)}, name).met is True
    assert _row({"tracker": _tracker(19_999, 30_000)}, name).met is False, "below 20,000 events/s"
    assert _row({"tracker": _tracker(20_000, 40_001)}, name).met is False, "below half the store ceiling"
    assert _row({"tracker": _tracker(20_000, None)}, name).met is True, "results from before the ceiling"
    assert _row({"tracker": _tracker(20_000, 40_000)}, name).target == (
        "≥ 20,000 events/s and ≥ 50 % of the store ceiling"
    )


def test_several_tracker_processes_are_the_scaling_curve_without_a_target() -> None:
    row = _row({"tracker_2_processes": _tracker(30_000, 40_000, replicas=2)}, "Tracker")
    assert (row.target, row.met) == ("—", None)


def _rebuild(seconds: float, events: int = 1_000_000) -> dict[str, Any]:
    return {"events": events, "seconds": seconds, "rate": events / seconds, "contention": QUIET}


def test_a_rebuild_meets_its_target_within_60_seconds_per_million_events() -> None:
    assert _row({"rebuild": _rebuild(60.0)}, "Rebuild").met is True
    assert _row({"rebuild": _rebuild(60.5)}, "Rebuild").met is False
    assert _row({"rebuild": _rebuild(15.0, events=250_000)}, "Rebuild").met is True, "scaled to a million"
    assert _row({"rebuild": _rebuild(15.5, events=250_000)}, "Rebuild").met is False


def test_peak_rss_is_met_only_when_every_service_stays_within_150_mib() -> None:
    def rows(**sizes: int) -> report.Row:
        (row,) = [
            r for r in report.rows({"benchmarks": {}, "peak_rss": sizes}) if r.benchmark.startswith("Peak")
        ]
        return row

    assert rows(tracker=150 * 2**20, post_office=100 * 2**20).met is True
    assert rows(tracker=150 * 2**20 + 1, post_office=100 * 2**20).met is False
    assert rows(tracker=150 * 2**20).target == "each ≤ 150 MiB"
