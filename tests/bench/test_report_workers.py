"""The intake rows say how many worker processes the post office ran on, so two results are never
compared without it; results from before the option ran on one."""

from __future__ import annotations

from typing import Any

from bench import report


def _intake(workers: int | None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "rate": 300.0,
        "duration_s": 60.0,
        "scan_ms": {"count": 10, "p50": 5.0, "p95": 9.0, "p99": 12.0, "max": 20.0},
        "errors": 0,
        "batch_size": 1000,
        "batch_ms": {"count": 2, "p50": 150.0, "p95": 190.0, "p99": 200.0, "max": 210.0},
        "batch_errors": 0,
        "contention": {},
    }
    if workers is not None:
        found["post_office_workers"] = workers
    return found


def _labels(benches: dict[str, Any]) -> list[str]:
    return [
        row.benchmark for row in report.rows({"benchmarks": benches}) if row.benchmark.startswith("Intake")
    ]


def test_each_intake_row_names_the_post_offices_workers() -> None:
    labels = _labels({"intake": _intake(2), "intake_high": {**_intake(3), "rate": 600.0}})

    assert labels == [
        "Intake: single scan at 300/s for 60 s on 2 workers, p50 / p99",
        "Intake: 1,000-scan batch upload (2 of them) on 2 workers, p50 / p99",
        "Intake: single scan at 600/s for 60 s on 3 workers, p50 / p99",
    ]


def test_a_result_from_before_the_option_ran_on_one_worker() -> None:
    assert (
        _labels({"intake": _intake(None)})[0]
        == "Intake: single scan at 300/s for 60 s on 1 worker, p50 / p99"
    )
