"""docker-compose.yml runs the secured broker as deploy/kafka/kafka.sh start-secure does, and each
service logs in as its own principal with only its own password: checked without a Docker engine, by
reading the file, the broker's start script and the ACL table, and by running the secrets step's
script (openssl) into a temporary directory."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.shared.kafka_acls import ADMIN_PRINCIPAL, PRINCIPALS
from services.stack.processes import BY_NAME
from tests.stack.test_compose import ROOT, app_services, commands, compose, mounts, services

COMPOSE_DIR = ROOT / "deploy" / "kafka" / "compose"
ACLS = ROOT / "deploy" / "kafka" / "acls.tsv"


def broker_properties() -> dict[str, str]:
    """The server.properties deploy/kafka/compose/broker.sh writes (its heredoc), by key."""
    script = (COMPOSE_DIR / "broker.sh").read_text()
    body = re.search(r"<<PROPERTIES\n(.*?)\nPROPERTIES\n", script, re.DOTALL)
    assert body is not None
    return dict(line.split("=", 1) for line in body.group(1).splitlines() if "=" in line)


def own_secret_mount(service: dict[str, Any]) -> tuple[str, str]:
    """(subpath, target) of the service's one mount of the kafka-secrets volume."""
    [(target, subpath)] = [
        (target, long.get("volume", {}).get("subpath", ""))
        for source, target, long in mounts(service)
        if source == "kafka-secrets"
    ]
    return subpath, target


def test_every_service_logs_in_over_sasl_ssl_as_its_own_principal_with_only_its_own_password() -> None:
    seen = set()
    for name, service in app_services().items():
        env = service["environment"]
        principal = PRINCIPALS[name]
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["KAFKA_USERNAME"] == principal == BY_NAME[name].principal, name
        assert "KAFKA_PASSWORD" not in env, f"{name}: a password in the environment"
        subpath, target = own_secret_mount(service)
        assert subpath == principal, f"{name} mounts {subpath or 'every'} principal's secrets"
        assert env["KAFKA_PASSWORD_FILE"] == f"{target}/password", name
        assert env["KAFKA_CA_FILE"] == f"{target}/ca.pem", name
        seen.add(principal)
    assert len(seen) == len(app_services())


def test_topics_are_created_by_the_admin_and_the_services_start_after_the_acls() -> None:
    init = services()["init"]
    assert init["environment"]["KAFKA_USERNAME"] == ADMIN_PRINCIPAL
    assert init["environment"]["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert own_secret_mount(init)[0] == ADMIN_PRINCIPAL
    for name, service in app_services().items():
        assert service["depends_on"]["kafka-acls"]["condition"] == "service_completed_successfully", name
    acls = services()["kafka-acls"]
    [argv] = list(commands(acls))
    assert argv[:2] == ["sh", "/opt/dossier/kafka/compose/acls.sh"]
    assert argv[2] == "/opt/dossier/kafka/acls.tsv"  # the table of deploy/kafka, mounted read-only
    assert "./deploy/kafka:/opt/dossier/kafka:ro" in acls["volumes"]


def test_no_plaintext_listener_is_reachable_from_other_containers_and_no_acl_means_no_access() -> None:
    kafka = services()["kafka"]
    assert kafka["image"] == services()["kafka-acls"]["image"]
    assert not any(k.startswith("KAFKA_") for k in kafka.get("environment") or {}), "configured by broker.sh"
    assert "ports" not in kafka  # reached by the other containers only, on its SASL_SSL listener
    props = broker_properties()
    protocols = dict(p.split(":") for p in props["listener.security.protocol.map"].split(","))
    for listener in props["listeners"].split(","):
        name, _, address = listener.partition("://")
        if protocols[name] != "SASL_SSL":
            assert name == props["controller.listener.names"], listener
            assert address.startswith("127.0.0.1:"), f"{listener} is reachable from other containers"
    assert props["advertised.listeners"] == "SASL_SSL://kafka:9092"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:controller"
    assert props["auto.create.topics.enable"] == "false"
    # The SCRAM users are created when the data dir is formatted, as kafka.sh start-secure does.
    assert "kafka-storage.sh format" in (COMPOSE_DIR / "broker.sh").read_text()
    assert "--add-scram" in (COMPOSE_DIR / "broker.sh").read_text()


def test_the_secrets_live_in_a_volume_made_by_a_one_shot_step_never_in_the_repository() -> None:
    step = services()["kafka-secrets"]
    assert step["restart"] == "no"
    assert [(s, t) for s, t, _ in mounts(step)] == [("kafka-secrets", "/secrets")]
    assert "kafka-secrets" in compose()["volumes"]
    for name, service in services().items():
        for source, _, _ in mounts(service):
            assert "secret" not in source or not source.startswith((".", "/")), f"{name} binds {source}"
    assert services()["kafka"]["depends_on"]["kafka-secrets"]["condition"] == "service_completed_successfully"


@pytest.fixture
def generated(tmp_path: Path) -> tuple[Path, str]:
    uid = str(os.getuid())
    done = subprocess.run(
        ["sh", str(COMPOSE_DIR / "secrets.sh"), str(tmp_path / "secrets"), str(ACLS)],
        capture_output=True,
        text=True,
        env={**os.environ, "APP_UID": uid, "KAFKA_UID": uid},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path / "secrets", done.stdout + done.stderr


def _principals() -> set[str]:
    rows = [line.split("\t") for line in ACLS.read_text().splitlines() if not line.startswith("#")]
    return {row[0] for row in rows if len(row) == 5}


def test_the_secrets_step_makes_a_certificate_for_kafka_and_one_private_password_per_principal(
    generated: tuple[Path, str],
) -> None:
    secrets, printed = generated
    broker = secrets / "broker"
    verified = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(broker / "ca.pem"),
            "-verify_hostname",
            "kafka",
            str(broker / "broker.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert not list(secrets.rglob("*.key")), "the CA's key is never kept"
    passwords = {}
    for principal in _principals() | {ADMIN_PRINCIPAL}:
        own = secrets / principal
        assert sorted(p.name for p in own.iterdir() if p.name != "admin.properties") == ["ca.pem", "password"]
        assert (own / "password").stat().st_mode & 0o077 == 0, principal
        passwords[principal] = (own / "password").read_text().strip()
        assert passwords[principal] == (broker / principal).read_text().strip()
        assert passwords[principal] not in printed
    assert len(set(passwords.values())) == len(passwords)
    # A second `up` keeps what exists: the same passwords (the broker's SCRAM users were made with them).
    subprocess.run(
        ["sh", str(COMPOSE_DIR / "secrets.sh"), str(secrets), str(ACLS)],
        capture_output=True,
        env={**os.environ, "APP_UID": str(os.getuid()), "KAFKA_UID": str(os.getuid())},
        check=True,
        timeout=120,
    )
    assert all((secrets / p / "password").read_text().strip() == v for p, v in passwords.items())
