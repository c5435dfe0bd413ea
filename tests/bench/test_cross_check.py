"""The cross-check reads vegeta's results as they are: latencies and statuses, second by second, and how
late vegeta itself sent against its schedule; its targets are the intake's transit scans, each unique."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from bench import cross_check, report

START = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _result(
    seq: int, rate: float, latency_ms: float, code: int = 201, late_ms: float = 0.0
) -> dict[str, object]:
    sent = START + timedelta(seconds=seq / rate, milliseconds=late_ms)
    return {"seq": seq, "code": code, "timestamp": sent.isoformat(), "latency": int(latency_ms * 1e6)}


def test_the_summary_keeps_each_latency_in_the_second_it_was_sent_and_counts_errors() -> None:
    rate = 10.0
    results = [_result(n, rate, 5.0) for n in range(20)]
    results[13] = _result(13, rate, 400.0)  # second 1
    results[4] = _result(4, rate, 0.0, code=0)  # a connection error: vegeta's code 0

    found = cross_check.summarise(results, rate)

    assert found["scan_ms"]["count"] == 20 and found["scan_ms"]["max"] == 400.0
    by_second = {s["second"]: s for s in found["scan_per_second"]}
    assert by_second[1]["max"] == 400.0 and by_second[0]["max"] == 5.0
    assert found["errors"] == 1 and found["scan_statuses"] == {"201": 19, "0": 1}
    assert found["scan_started_at"] == START.timestamp()
    assert found["send_lag_ms"] == 0.0


def test_the_send_lag_is_how_late_the_latest_request_left_against_the_schedule() -> None:
    rate = 100.0
    results = [_result(n, rate, 3.0) for n in range(50)]
    results[30] = _result(30, rate, 3.0, late_ms=25.0)

    assert cross_check.summarise(results, rate)["send_lag_ms"] == 25.0


def test_each_target_is_a_transit_scan_of_the_items_in_turn_with_its_own_scan_id() -> None:
    lines = cross_check.targets(8000, "tok", ["EB000000001VN", "EB000000002VN"], 5).splitlines()

    bodies = [json.loads(base64.b64decode(json.loads(line)["body"])) for line in lines]
    assert [b["item_id"] for b in bodies] == ["EB000000001VN", "EB000000002VN"] * 2 + ["EB000000001VN"]
    assert len({b["scan_id"] for b in bodies}) == 5
    first = json.loads(lines[0])
    assert first["url"] == "http://127.0.0.1:8000/v1/scans/in-transit"
    assert first["header"]["Authorization"] == ["Bearer tok"]


def test_the_table_names_the_generator_and_its_send_lag_and_judges_the_intake_target() -> None:
    run = {
        **cross_check.summarise([_result(n, 10.0, 30.0) for n in range(10)], 10.0),
        "duration_s": 1.0,
        "generator": "vegeta v12.13.0",
        "post_office_workers": 2,
        "contention": {},
    }
    (row,) = [r for r in report.rows({"benchmarks": {"crosscheck": run}}) if "cross-check" in r.benchmark]

    assert (
        row.benchmark
        == "Intake cross-check (vegeta v12.13.0): single scan at 10/s for 1 s on 2 workers, p50 / p99"
    )
    assert row.measured.endswith("0 errors, sent at most 0.0 ms late)")
    assert row.met is True
