"""deploy/prometheus and deploy/grafana: promtool validates the configuration and rules and runs their
unit tests; the committed dashboards are what the generator produces."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"


def promtool(*args: str) -> str:
    tool = shutil.which("promtool")
    if tool is None:  # scripts/setup.sh installs Debian's prometheus; CI must not skip these
        pytest.fail("promtool is not installed (scripts/setup.sh installs the prometheus package)")
    done = subprocess.run(
        [tool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


def test_promtool_accepts_the_prometheus_configuration() -> None:
    out = promtool("check", "config", "prometheus.yml")
    assert "3 rule files found" in out


def test_promtool_accepts_every_rule_file() -> None:
    promtool(
        "check",
        "rules",
        *sorted(str(p.relative_to(PROMETHEUS)) for p in (PROMETHEUS / "rules").glob("*.yml")),
    )


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    tests = sorted(str(p.relative_to(PROMETHEUS)) for p in (PROMETHEUS / "tests").glob("*.yml"))
    assert tests
    promtool("test", "rules", *tests)


def test_every_alert_has_a_unit_test_and_a_severity() -> None:
    alerts = {
        rule["alert"]: rule
        for path in (PROMETHEUS / "rules").glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    tested = {
        case["alertname"]
        for path in (PROMETHEUS / "tests").glob("*.yml")
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert set(alerts) == tested
    assert {rule["labels"]["severity"] for rule in alerts.values()} <= {"page", "ticket"}


def test_every_service_is_scraped_from_its_targets_file() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    expected = {
        "post_office": 8001,
        "agency": 8002,
        "tracker": 8003,
        "turnaround": 8004,
        "notifications": 8005,
    }
    for job, port in expected.items():
        (targets_file,) = jobs[job]["file_sd_configs"][0]["files"]
        targets = json.loads((PROMETHEUS / targets_file).read_text())
        assert targets[0]["targets"] == [f"{job}:{port}"]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dossier_dashboards", GRAFANA / "dashboards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_committed_dashboards_are_what_the_generator_produces() -> None:
    rendered: dict[str, str] = _generator().render()
    committed = {p.name: p.read_text(encoding="utf-8") for p in (GRAFANA / "dashboards").glob("*.json")}
    assert set(committed) == set(rendered), "run: python deploy/grafana/dashboards.py"
    drifted = [name for name, text in rendered.items() if committed[name] != text]
    assert not drifted, f"regenerate with python deploy/grafana/dashboards.py: {drifted}"


def test_dashboards_use_only_the_provisioned_data_sources() -> None:
    provisioned = {
        ds["uid"]
        for ds in yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "datasources.yml").read_text())[
            "datasources"
        ]
    }
    for path in (GRAFANA / "dashboards").glob("*.json"):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] in provisioned, f"{path.name}: {panel['title']}"
