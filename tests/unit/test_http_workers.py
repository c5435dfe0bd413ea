"""What serve_workers hands to each worker process: the same uvicorn options as one process has, and
metrics that a scrape of any worker sums over all of them (services.shared.worker_metrics)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from services.agency.settings import AgencySettings
from services.shared.http_server import GuardedHttpToolsProtocol, WorkerConfig, server_config
from services.shared.worker_metrics import (
    MULTIPROC_DIR,
    exposition_registry,
    forget_dead_workers,
    shared_metrics_dir,
)


def test_a_worker_gets_every_option_one_process_has() -> None:
    settings = AgencySettings(
        forwarded_allow_ips="10.0.0.7", header_timeout_s=3.5, max_header_bytes=8192, keep_alive_s=7
    )
    one = server_config(object(), settings, host="127.0.0.1", port=8123)

    # As uvicorn's supervisor carries it into a spawned worker.
    worker = pickle.loads(
        pickle.dumps(WorkerConfig("a.module:make", settings, host="127.0.0.1", port=8123, workers=3))
    )

    assert isinstance(worker, WorkerConfig)
    assert (worker.app, worker.factory, worker.workers) == ("a.module:make", True, 3)
    assert issubclass(worker.http, GuardedHttpToolsProtocol)  # type: ignore[arg-type]
    assert (worker.http.header_timeout_s, worker.http.max_header_bytes) == (3.5, 8192)  # type: ignore[union-attr]
    for option in (
        "host",
        "port",
        "timeout_keep_alive",
        "proxy_headers",
        "forwarded_allow_ips",
        "access_log",
    ):
        assert getattr(worker, option) == getattr(one, option), option
    assert worker.log_config is None


def test_the_workers_directory_is_fresh_and_gone_after_the_service_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MULTIPROC_DIR, raising=False)
    with shared_metrics_dir("post_office") as path:
        assert os.environ[MULTIPROC_DIR] == str(path)
        assert list(path.iterdir()) == []
    assert not path.exists()
    assert MULTIPROC_DIR not in os.environ


def test_one_process_serves_its_own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_DIR, raising=False)
    registry = CollectorRegistry()
    assert exposition_registry(registry) is registry


# A worker in a process of its own (prometheus_client picks file-backed values at import): sets the
# in-process gauge of FastStream's kind to 3 and exits, or stays alive until its stdin closes.
WORKER = """
import sys
from prometheus_client import CollectorRegistry, Gauge
g = Gauge("in_process", "d", ["handler"], registry=CollectorRegistry(), multiprocess_mode="livesum")
g.labels("h").set(3)
if sys.argv[1] == "stay":
    print("ready", flush=True)
    sys.stdin.read()
"""


def _exposed_gauge() -> float:
    registry = exposition_registry(CollectorRegistry())
    return sum(s.value for m in registry.collect() for s in m.samples if s.name == "in_process")


def test_a_dead_workers_in_process_gauge_is_dropped_and_a_live_ones_summed(tmp_path: Path) -> None:
    env = {**os.environ, MULTIPROC_DIR: str(tmp_path)}
    subprocess.run([sys.executable, "-c", WORKER, "exit"], env=env, check=True)
    alive = subprocess.Popen(
        [sys.executable, "-c", WORKER, "stay"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert alive.stdout is not None and alive.stdout.readline() == b"ready\n"
        os.environ[MULTIPROC_DIR] = str(tmp_path)
        try:
            assert _exposed_gauge() == 3  # the exited worker's 3 is forgotten, the live one's counted
            forget_dead_workers(tmp_path)
            assert len(list(tmp_path.glob("gauge_livesum_*.db"))) == 1
        finally:
            del os.environ[MULTIPROC_DIR]
    finally:
        assert alive.stdin is not None
        alive.stdin.close()
        alive.wait(30)
