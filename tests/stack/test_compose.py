"""docker-compose.yml describes a stack that can run: it parses, every image is pinned, every file it
refers to exists, every command is a real entrypoint of the project, and each service's settings,
ports and health checks agree with the code, the Prometheus targets and the Grafana data sources.

No Docker engine is needed (CI has none): the checks read the file the way Compose does (YAML with
merge keys) and compare it with the repository.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.notifications.settings import NotificationsSettings
from services.shared.settings import SharedSettings
from services.stack.lag import CONSUMER_GROUPS
from services.stack.processes import BY_NAME
from services.stack.settings import env_var
from services.turnaround.settings import TurnaroundSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
APP_IMAGE = "dossier-post:0.1.0"

TOP_LEVEL = {"name", "services", "volumes", "networks", "configs", "secrets"}
SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose", "volumes",
    "depends_on", "healthcheck", "restart", "hostname", "user", "working_dir", "labels", "networks",
    "deploy", "logging", "configs", "secrets", "ulimits", "stop_grace_period", "pull_policy", "profiles",
}  # fmt: skip
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
DEPENDS_ON_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(us|ms|s|m|h))+$")


def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def app_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if name in BY_NAME}


def console_scripts() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    scripts: dict[str, str] = project["project"]["scripts"]
    return scripts


def commands(service: dict[str, Any]) -> Iterator[list[str]]:
    """Each program the service's command runs; `sh -c "a && b"` runs a and b."""
    command = service.get("command")
    if command is None:
        return
    argv = shlex.split(command) if isinstance(command, str) else [str(part) for part in command]
    if argv[:2] == ["sh", "-c"]:
        for part in re.split(r"&&|;|\|\|", argv[2]):
            yield shlex.split(part)
    else:
        yield argv


def runnable(module: str) -> bool:
    """`python -m module` runs something: a package with __main__, or a module with a main guard."""
    spec = importlib.util.find_spec(module)
    if spec is None:
        return False
    if spec.submodule_search_locations is not None:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    return spec.origin is not None and '__name__ == "__main__"' in Path(spec.origin).read_text()


def test_the_file_parses_into_known_compose_keys() -> None:
    document = compose()

    assert set(document) - TOP_LEVEL <= {k for k in document if k.startswith("x-")}
    for name, service in services().items():
        assert set(service) <= SERVICE_KEYS, f"{name}: unknown keys {set(service) - SERVICE_KEYS}"
        assert "image" in service or "build" in service, name
        check = service.get("healthcheck")
        if check is not None:
            assert set(check) <= HEALTHCHECK_KEYS, name
            assert check["test"][0] in ("CMD", "CMD-SHELL", "NONE"), name
            for key in ("interval", "timeout", "start_period"):
                if key in check:
                    assert DURATION.match(check[key]), f"{name}: {key} {check[key]!r}"
        for other, condition in (service.get("depends_on") or {}).items():
            assert other in services(), f"{name} depends on an unknown service {other}"
            assert condition["condition"] in DEPENDS_ON_CONDITIONS, name
        for port in service.get("ports", []):
            assert re.fullmatch(r"[0-9]+:[0-9]+", str(port)), f"{name}: port {port!r}"


def test_every_image_is_pinned_to_an_explicit_version() -> None:
    for name, service in services().items():
        image = service.get("image")
        if image is None:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} names no tag"
        assert tag not in ("latest", "stable", "main", ""), f"{name}: {image} is not pinned"
        assert re.search(r"[0-9]", tag), f"{name}: {image} tag holds no version"


def test_the_kafka_image_is_the_version_the_tests_and_the_local_run_use() -> None:
    pom = (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)

    assert version is not None
    assert services()["kafka"]["image"] == f"apache/kafka:{version.group(1)}"


def test_the_app_image_is_built_from_the_dockerfile_of_a_pinned_base() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)

    assert base is not None and re.fullmatch(r"python:3\.11\.[0-9]+-slim-\w+", base.group(1))
    for name, service in services().items():
        if service.get("image") == APP_IMAGE or "build" in service:
            assert service.get("image") == APP_IMAGE, name
            assert service.get("build") in (".", {"context": "."}), name
    for source in re.findall(r"^COPY\s+(.+)\s+\S+$", dockerfile, re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), f"the Dockerfile copies {path}, which does not exist"
    ignored = (ROOT / ".dockerignore").read_text().split()
    for needed in ("contracts", "services", "deploy", "pyproject.toml", "README.md"):
        assert needed not in ignored, f".dockerignore drops {needed}, which the image needs"


def mounts(service: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(source, target, long form or {}) of each volume, short ("src:dst:ro") or long syntax."""
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            yield str(volume["source"]), str(volume["target"]), volume
        else:
            source, target, *_ = str(volume).split(":")
            yield source, target, {}


def test_every_file_the_stack_mounts_exists_and_every_named_volume_is_declared() -> None:
    declared = set(compose().get("volumes") or {})
    for name, service in services().items():
        for source, target, _ in mounts(service):
            volume = f"{source}:{target}"
            assert target.startswith("/"), f"{name}: {volume}"
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in declared, f"{name} uses volume {source}, not declared at the top level"


def test_every_service_command_is_a_real_entrypoint_of_the_project() -> None:
    scripts = console_scripts()
    checked = 0
    for name, service in services().items():
        if service.get("image") != APP_IMAGE:
            continue
        for argv in commands(service):
            checked += 1
            if argv[0] == "sh":  # a script of the repository, which the image holds (COPY deploy)
                assert (ROOT / argv[1]).is_file(), f"{name}: sh {argv[1]} runs nothing"
            elif argv[:2] == ["python", "-m"]:
                assert runnable(argv[2]), f"{name}: python -m {argv[2]} runs nothing"
            else:
                assert argv[0] in scripts, f"{name}: {argv[0]} is no console script of pyproject.toml"
                target, _, function = scripts[argv[0]].partition(":")
                assert callable(getattr(importlib.import_module(target), function)), argv[0]
    assert checked >= 6


def test_each_service_runs_its_own_module_and_the_tracker_a_mode_it_knows() -> None:
    for name, service in app_services().items():
        (argv,) = list(commands(service))
        spec = BY_NAME[name]
        assert argv == ["python", "-m", spec.module, *spec.args], name
    tracker_main = (ROOT / "services" / "tracker" / "__main__.py").read_text()
    mode = services()["tracker"]["command"][3]
    assert re.search(rf'choices=\[[^\]]*"{mode}"', tracker_main), f"the tracker has no mode {mode}"


def test_every_service_setting_in_the_environment_is_one_the_service_reads() -> None:
    for name, service in app_services().items():
        settings = BY_NAME[name].settings
        known = {env_var(settings, field) for field in settings.model_fields}
        known |= {env_var(SharedSettings, field) for field in SharedSettings.model_fields}
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name} sets {unknown}, which its settings do not read"
        spec = BY_NAME[name]
        assert service["environment"][env_var(settings, spec.host_field)] == "0.0.0.0", name


def test_ports_health_checks_and_prometheus_targets_agree() -> None:
    for name, service in app_services().items():
        spec = BY_NAME[name]
        port = int(service["environment"][env_var(spec.settings, spec.port_field)])
        targets = json.loads((ROOT / "deploy" / "prometheus" / "targets" / f"{name}.json").read_text())
        assert targets[0]["targets"] == [f"{name}:{port}"], name
        assert service["ports"] == [f"{port}:{port}"], name
        test = service["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], name
        ast.parse(test[3])  # the one-liner is valid Python
        assert f"http://127.0.0.1:{port}/ready" in test[3], name


def test_the_stack_starts_after_its_topics_and_schema_exist() -> None:
    for name, service in app_services().items():
        depends = service["depends_on"]
        assert depends["init"]["condition"] == "service_completed_successfully", name
        assert depends["kafka"]["condition"] == "service_healthy", name
        assert depends["postgres"]["condition"] == "service_healthy", name
    assert services()["init"]["restart"] == "no"


def test_grafana_and_prometheus_mount_the_provisioned_configuration() -> None:
    grafana, prometheus = services()["grafana"], services()["prometheus"]
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    assert mounts["/var/lib/grafana/dashboards"] == "./deploy/grafana/dashboards"
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/dashboards.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    sources = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/datasources.yml").read_text())
    by_uid = {source["uid"]: source for source in sources["datasources"]}
    assert by_uid["prometheus"]["url"] == "http://prometheus:9090"
    assert by_uid["postgres"]["url"] == "postgres:5432"
    assert "POSTGRES_PASSWORD" in grafana["environment"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


@pytest.mark.parametrize("variable", sorted(set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text()))))
def test_every_variable_the_file_reads_is_documented_under_deploy(variable: str) -> None:
    assert f"`{variable}`" in (ROOT / "deploy" / "README.md").read_text()


def test_the_turnaround_exports_the_lag_of_every_other_consumer_group_of_the_stack() -> None:
    """The pipeline dashboard's lag panels need every group; the ACL table lets the turnaround describe
    them (tests/integration/test_session_kafka_secured.py checks that on the real broker)."""
    own = TurnaroundSettings.model_fields["consumer_group"].default
    exported = json.loads(services()["turnaround"]["environment"][env_var(TurnaroundSettings, "lag_groups")])
    assert {group: tuple(topics) for group, topics in exported.items()} == {
        group: topics for group, topics in CONSUMER_GROUPS.items() if group != own
    }


def test_the_services_that_collect_a_contact_get_their_vault_keys_and_the_trackers_lookup_key() -> None:
    """Keys generated inside a container would die with it (every sealed contact unreadable), and a
    phone check made with another key than the tracker's would never match a citizen's lookup."""
    every = services()
    tracker_key = every["tracker"]["environment"]["TRACKER_LOOKUP_KEY"]
    for name in ("post_office", "agency"):
        environment = every[name]["environment"]
        assert environment["DOSSIER_LOOKUP_KEY"] == tracker_key, name
        assert environment["PERSONAL_DATA_KEYS"].startswith("${PERSONAL_DATA_KEYS:?"), name
        assert environment["PERSONAL_DATA_INDEX_KEY"].startswith("${PERSONAL_DATA_INDEX_KEY:?"), name


def test_the_notifications_service_reads_the_owners_contact_apis_and_mails_through_the_stacks_sink() -> None:
    """Its contact reads go to the post office's and the agency's published ports, its e-mails to the
    SMTP sink of the stack, which is up before it; its own sealing keys are required, never generated
    inside a container that would lose them."""
    every = services()
    environment = every["notifications"]["environment"]
    for owner, field in (("post_office", "post_office_url"), ("agency", "agency_url")):
        spec = BY_NAME[owner]
        port = every[owner]["environment"][env_var(spec.settings, spec.port_field)]
        assert environment[env_var(NotificationsSettings, field)] == f"http://{owner}:{port}", owner
    sink = environment[env_var(NotificationsSettings, "smtp_host")]
    assert sink in every and every["notifications"]["depends_on"][sink]["condition"] == "service_healthy"
    assert environment[env_var(NotificationsSettings, "smtp_port")] == "1025"  # Mailpit's SMTP port
    assert environment[env_var(NotificationsSettings, "contact_keys")].startswith(
        "${NOTIFICATIONS_CONTACT_KEYS:?"
    )
    # A provider left unset in the shell stays unset (a channel not configured), never an empty value
    # its settings would refuse.
    for field in ("esms_base_url", "zalo_base_url", "zalo_templates", "desk_emails"):
        assert environment[env_var(NotificationsSettings, field)] is None, field
