"""A local Prometheus running the deployed configuration and rules (deploy/prometheus), with its
file_sd targets rewritten to where the local run (or a test) serves each job."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from services.shared.launcher import ManagedProcess
from services.stack.processes import ROOT, SERVICES

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
JOBS = tuple(spec.name for spec in SERVICES)
"""A scrape job per service, named as the service (deploy/prometheus/prometheus.yml)."""


def write_config(work: Path, targets: Mapping[str, str], *, listen: str, interval: str | None = None) -> Path:
    """prometheus.yml, rules/ and targets/ under ``work``; ``targets`` maps each job to host:port."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work / "rules", ignore_errors=True)
    shutil.copytree(PROMETHEUS_DIR / "rules", work / "rules")
    (work / "targets").mkdir(exist_ok=True)
    for job in JOBS:
        entries = [{"targets": [targets[job]], "labels": {"service": job}}] if job in targets else []
        (work / "targets" / f"{job}.json").write_text(json.dumps(entries, indent=1) + "\n")
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    if interval is not None:
        config["global"].update(
            scrape_interval=interval, scrape_timeout=interval, evaluation_interval=interval
        )
    for job in config["scrape_configs"]:
        if job["job_name"] == "prometheus":
            job["static_configs"] = [{"targets": [listen]}]
    path = work / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prometheus_process(
    binary: str, work: Path, *, host: str, port: int, log_path: Path, retention: str = "15d"
) -> ManagedProcess:
    return ManagedProcess(
        "prometheus",
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--storage.tsdb.retention.time={retention}",
            f"--web.listen-address={host}:{port}",
        ],
        log_path=log_path,
        ready_url=f"http://{host}:{port}/-/ready",
    )
