"""The local run's broker (scripts/local_kafka.sh, which scripts/run.sh starts): secured, with the
registry's topics created by the admin, and clients' settings that name where the credentials are but
hold no secret. Started on a data dir and ports of its own."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from contracts.topics import AGENCY_INTAKE, all_topics
from services.shared.kafka_security import KafkaSecurity, kafka_security_of
from services.shared.settings import SharedSettings
from services.stack.processes import SERVICES, kafka_login
from tests.fixtures.kafka import _free_port_pair

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "local_kafka.sh"
ACLS = ROOT / "deploy" / "kafka" / "acls.tsv"


@pytest.fixture(scope="module")
def local_kafka() -> Iterator[tuple[Path, dict[str, str], str]]:
    """The data dir, the settings of client.env, and what the start printed."""
    data = Path(tempfile.mkdtemp(prefix="dossier-local-kafka-"))
    port = _free_port_pair()
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT), "start", str(data), str(port)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        settings = {}
        for line in (data / "client.env").read_text().splitlines():
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                settings[name] = value
        yield data, settings, done.stdout + done.stderr
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(data)], check=False, timeout=120)
        shutil.rmtree(data, ignore_errors=True)


async def _produce(bootstrap: str, topic: str, **options: Any) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **options)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=str(uuid.uuid4()).encode())
    finally:
        await producer.stop()


def _security(settings: dict[str, str], principal: str) -> KafkaSecurity:
    directory = Path(settings["STACK_KAFKA_CREDENTIALS_DIR"])
    return kafka_security_of(SharedSettings.model_validate({**settings, **kafka_login(principal, directory)}))


def _password_file_modes(settings: dict[str, str]) -> dict[str, int]:
    modes = {}
    for spec in SERVICES:
        login = kafka_login(spec.principal, Path(settings["STACK_KAFKA_CREDENTIALS_DIR"]))
        modes[login["KAFKA_USERNAME"]] = Path(login["KAFKA_PASSWORD_FILE"]).stat().st_mode & 0o777
    return modes


async def test_the_local_runs_broker_refuses_an_anonymous_client(
    local_kafka: tuple[Path, dict[str, str], str],
) -> None:
    _, settings, _ = local_kafka
    bootstrap = settings["KAFKA_BOOTSTRAP_SERVERS"]
    assert settings["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    with pytest.raises(KafkaConnectionError):  # PLAINTEXT, no login
        await _produce(bootstrap, AGENCY_INTAKE.name)
    tls_only = {"security_protocol": "SSL", "ssl_context": _security(settings, "admin").ssl_context()}
    with pytest.raises(KafkaConnectionError):  # TLS, no login
        await _produce(bootstrap, AGENCY_INTAKE.name, **tls_only)
    # The simulator's agency systems, logged in, do publish their raw reports.
    await _produce(bootstrap, AGENCY_INTAKE.name, **_security(settings, "agency-systems").client_options())


async def test_the_admin_created_every_topic_and_each_service_logs_in_as_its_own_principal(
    local_kafka: tuple[Path, dict[str, str], str],
) -> None:
    data, settings, printed = local_kafka
    # Every service's principal has its password file (kafka.sh made one per row of acls.tsv).
    assert _password_file_modes(settings) == {spec.principal: 0o600 for spec in SERVICES}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings["KAFKA_BOOTSTRAP_SERVERS"], **_security(settings, "admin").client_options()
    )
    await consumer.start()
    try:
        topics = await asyncio.wait_for(consumer.topics(), 30)
    finally:
        await consumer.stop()
    assert {t.name for t in all_topics()} <= topics
    # Where the credentials are is said; no password is, neither printed nor in client.env.
    assert "Kafka is secured" in printed and "credentials/" in printed
    assert not _secrets_in(data, printed)


def _secrets_in(data: Path, printed: str) -> list[str]:
    env_text = (data / "client.env").read_text()
    secrets = [f.read_text().strip() for f in (data / "credentials").iterdir()]
    return [f"{s[:4]}…" for s in secrets if s in printed or s in env_text]


async def test_a_principal_added_to_the_acl_table_after_the_first_start_gets_its_login(
    local_kafka: tuple[Path, dict[str, str], str], tmp_path: Path
) -> None:
    """The SCRAM users are made when the data dir is formatted; a service added later (notifications
    was) must still be able to log in once the broker's ACLs are brought in line with the table."""
    data, settings, _ = local_kafka
    bootstrap = settings["KAFKA_BOOTSTRAP_SERVERS"]
    newcomer = f"newcomer-{uuid.uuid4().hex[:6]}"
    (data / "credentials" / newcomer).write_text(uuid.uuid4().hex + "\n")
    table = tmp_path / "acls.tsv"
    table.write_text(ACLS.read_text() + f"{newcomer}\ttopic\tliteral\t{AGENCY_INTAKE.name}\tWrite\n")
    with pytest.raises(Exception):  # noqa: B017 (no SCRAM credential: the broker refuses the login)
        await _produce(bootstrap, AGENCY_INTAKE.name, **_security(settings, newcomer).client_options())
    try:
        done = _kafka_sh("acls", str(data), str(table))
        assert done.returncode == 0 and f"SCRAM credentials made for {newcomer}" in done.stdout, done.stderr

        await _produce(bootstrap, AGENCY_INTAKE.name, **_security(settings, newcomer).client_options())
        again = _kafka_sh("acls", str(data), str(table))
        assert "SCRAM credentials made" not in again.stdout  # made once, never changed
    finally:
        _kafka_sh("acls", str(data))  # the deployed table again, for the other tests


def _kafka_sh(*args: str) -> subprocess.CompletedProcess[str]:
    script = ROOT / "deploy" / "kafka" / "kafka.sh"
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, timeout=300, check=False
    )
