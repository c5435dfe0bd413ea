"""The cost of the security: the table shows the tracker's rate and the intake's single-scan p99 on the
secured broker (SASL_SSL, SCRAM-SHA-512, ACLs) beside the same run's figures without it, two rows each."""

from __future__ import annotations

from typing import Any

from bench import report

QUIET = {"load_before": [0.1, 0.1, 0.1], "others_cores": 0.0}


def _tracker(rate: float) -> dict[str, Any]:
    return {
        "events": 20_000,
        "rate": rate,
        "ratio": rate / 300_000,
        "ceiling_rate": 300_000.0,
        "replicas": 1,
        "store_ceiling": {"rate": 40_000.0},
        "store_ratio": rate / 40_000,
        "contention": QUIET,
    }


def _intake(p99: float) -> dict[str, Any]:
    return {
        "rate": 300.0,
        "duration_s": 10.0,
        "scan_ms": {"count": 3000, "p50": 4.0, "p95": 9.0, "p99": p99, "max": 40.0},
        "errors": 0,
        "batch_size": 1000,
        "batch_ms": {"count": 2, "p50": 150.0, "p95": 190.0, "p99": 200.0, "max": 210.0},
        "batch_errors": 0,
        "post_office_workers": 2,
        "contention": QUIET,
    }


def _results() -> dict[str, Any]:
    return {
        "benchmarks": {
            "tracker": _tracker(25_000.0),
            "intake": _intake(12.0),
            "security": {
                "protocol": "SASL_SSL",
                "tracker": {**_tracker(20_000.0), "steady_rate": 20_500.0},
                "intake": _intake(15.0),
            },
        }
    }


def _rows(starts: str) -> list[report.Row]:
    return [row for row in report.rows(_results()) if row.benchmark.startswith(starts)]


def test_the_trackers_rate_with_security_is_shown_beside_the_same_runs_rate_without() -> None:
    plain, secured = _rows("Tracker throughput, 20,000 events into PostgreSQL, one consumer process")

    assert "security" not in plain.benchmark and plain.measured.startswith("25,000 events/s")
    assert secured.benchmark.endswith("security on (SASL_SSL, SCRAM-SHA-512, ACLs)")
    assert secured.measured == "20,000 events/s (without: 25,000 events/s, -20.0 %)"
    # Judged by the same target: 20,000/s is exactly half the run's store ceiling of 40,000/s.
    assert secured.met is True


def test_the_intakes_p99_with_security_is_shown_beside_the_same_runs_p99_without() -> None:
    plain, secured = _rows("Intake: single scan at 300/s for 10 s on 2 workers")

    assert "security" not in plain.benchmark
    assert secured.benchmark == (
        "Intake: single scan at 300/s for 10 s on 2 workers, p50 / p99, "
        "security on (SASL_SSL, SCRAM-SHA-512, ACLs)"
    )
    assert secured.measured == "4.0 ms / 15.0 ms (max 40.0 ms, 0 errors; without: p99 12.0 ms, +25.0 %)"
    assert secured.met is True and secured.target == "p99 ≤ 50 ms"


def test_the_markdown_table_carries_both_pairs_of_rows() -> None:
    table = report.table(_results())

    assert table.count("security on (SASL_SSL, SCRAM-SHA-512, ACLs)") == 2
    assert "without: 25,000 events/s" in table and "without: p99 12.0 ms" in table


def test_a_run_without_the_secured_broker_has_no_security_rows() -> None:
    results = _results()
    del results["benchmarks"]["security"]

    assert not [row for row in report.rows(results) if "security on" in row.benchmark]
