"""The benchmark command keeps working: a small tracker run against the session's broker and PostgreSQL.

Only that it runs end to end and reports, and that the store ceiling writes the same rows as the
tracker; the figures of so small a run mean nothing (bench/run.sh measures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.kafka import KafkaLogin

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def test_the_tracker_benchmark_runs_end_to_end_and_writes_its_results_beside_both_ceilings(
    kafka_admin: KafkaLogin, postgres_url: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--bootstrap-servers",
            kafka_admin.bootstrap,
            "--database-url",
            postgres_url,
            "--only",
            "tracker",
            "--events",
            "2000",
            "--tracker-replicas",
            "1",
            "--work-dir",
            str(tmp_path / "work"),
            "--results-dir",
            str(tmp_path / "results"),
        ],
        cwd=ROOT,
        # The secured session broker's login, in the shared KAFKA_* settings the bench reads.
        env={**os.environ, **kafka_admin.env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Tracker throughput, 2,000 events" in done.stdout
    (written,) = (tmp_path / "results").glob("*.json")
    results = json.loads(written.read_text())
    tracker = results["benchmarks"]["tracker"]
    assert tracker["events"] == 2000
    assert tracker["rate"] > 0 and tracker["ceiling_rate"] > 0
    assert tracker["peak_rss"] > 0
    # The store ceiling wrote exactly the rows the tracker wrote: its ratio compares the same work.
    store = tracker["store_ceiling"]
    assert store["rate"] > 0
    assert tracker["stored_events"] == 2000
    assert (store["events"], store["inbox_rows"], store["dossiers"]) == (
        tracker["stored_events"],
        tracker["inbox_rows"],
        tracker["dossiers"],
    )
    assert tracker["store_ratio"] > 0
    assert "store ceiling" in done.stdout
    assert not (tmp_path / "results" / "latest.md").exists(), "a partial run is not the latest table"


def test_the_rebuild_benchmark_replays_each_size_and_each_process_count_and_projects_a_year(
    kafka_admin: KafkaLogin, postgres_url: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--bootstrap-servers",
            kafka_admin.bootstrap,
            "--database-url",
            postgres_url,
            "--only",
            "rebuild",
            "--rebuild-events",
            "2000",
            "--rebuild-processes",
            "1,2",
            "--work-dir",
            str(tmp_path / "work"),
            "--results-dir",
            str(tmp_path / "results"),
        ],
        cwd=ROOT,
        # The secured session broker's login, in the shared KAFKA_* settings the bench reads.
        env={**os.environ, **kafka_admin.env()},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (written,) = (tmp_path / "results").glob("*.json")
    benches = json.loads(written.read_text())["benchmarks"]
    sizes = benches["rebuild_sizes"]
    # The session's broker may hold other tests' events: each size replays them too.
    assert [s["processes"] for s in sizes] == [1, 1, 1]
    assert sizes[0]["events"] < sizes[1]["events"] < sizes[2]["events"] == benches["rebuild"]["events"]
    assert all(s["wall_us_per_event"] > 0 and s["cpu_us_per_event"] > 0 for s in sizes)
    shared = benches["rebuild_2_processes"]
    assert shared["processes"] == 2 and shared["events"] == benches["rebuild"]["events"]
    assert shared["cpu_seconds"] > 0 and shared["largest_rss"] > 0
    assert set(benches["rebuild_projection"]["hours"]) == {"1 process", "2 processes"}
    assert "Rebuild of one national year (300,000,000 events), projected" in done.stdout
