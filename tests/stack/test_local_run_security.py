"""The local run on the secured broker, without a broker: each service's own Kafka login, the
simulator's and the lag watch's, and what the start prints (where the credentials are, never a
password)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest

from services.shared.kafka_security import PLAINTEXT
from services.simulator.settings import SimulatorSettings
from services.stack.lag import CONSUMER_GROUPS
from services.stack.processes import ADMIN, ROOT, SERVICES, SIMULATED_AGENCY_SYSTEMS, service_process
from services.stack.settings import StackSettings, env_var
from services.stack.supervisor import Supervisor
from services.turnaround.settings import TurnaroundSettings

ACLS = ROOT / "deploy" / "kafka" / "acls.tsv"


def _principals() -> set[str]:
    rows = [line.split("\t") for line in ACLS.read_text().splitlines() if line and not line.startswith("#")]
    return {row[0] for row in rows if len(row) == 5}


def _credentials(tmp_path: Path) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir()
    for principal in [*_principals(), ADMIN]:
        (directory / principal).write_text(f"secret-{principal}-{uuid.uuid4().hex}\n")
    return directory


def _supervisor(tmp_path: Path, *, secured: bool) -> Supervisor:
    values: dict[str, object] = {"work_dir": tmp_path}
    if secured:
        (tmp_path / "ca.pem").write_text("")
        values.update(
            KAFKA_SECURITY_PROTOCOL="SASL_SSL",
            KAFKA_CA_FILE=str(tmp_path / "ca.pem"),
            kafka_credentials_dir=_credentials(tmp_path),
        )
    return Supervisor(
        settings=StackSettings.model_validate(values),
        simulator=SimulatorSettings(),
        simulate=False,
        prometheus=False,
        out=io.StringIO(),
    )


def test_every_service_and_the_simulator_log_in_as_principals_of_the_acl_table() -> None:
    principals = _principals()
    assert {spec.principal for spec in SERVICES} <= principals
    assert SIMULATED_AGENCY_SYSTEMS in principals
    assert len({spec.principal for spec in SERVICES}) == len(SERVICES)  # one principal per service


def test_each_child_gets_its_own_principal_and_password_file_never_the_password(tmp_path: Path) -> None:
    credentials = _credentials(tmp_path)
    for spec in SERVICES:
        child = service_process(
            spec, host="127.0.0.1", port=18001, env={}, log_dir=tmp_path, kafka_credentials=credentials
        )
        assert child.env["KAFKA_USERNAME"] == spec.principal
        assert child.env["KAFKA_PASSWORD_FILE"] == str(credentials / spec.principal)
        assert "KAFKA_PASSWORD" not in child.env


def test_the_simulators_agency_systems_and_the_lag_watch_log_in_on_the_secured_broker(tmp_path: Path) -> None:
    supervisor = _supervisor(tmp_path, secured=True)

    assert supervisor.endpoints.kafka_security.username == SIMULATED_AGENCY_SYSTEMS
    assert supervisor.kafka_security(ADMIN).username == ADMIN
    assert supervisor.kafka_security(ADMIN).protocol == "SASL_SSL"
    # The turnaround's principal may describe the other services' groups (deploy/kafka/acls.tsv): it
    # exports every group's lag for the pipeline dashboard.
    env = supervisor._service_env("x" * 48)
    assert set(json.loads(env[env_var(TurnaroundSettings, "lag_groups")])) == set(CONSUMER_GROUPS) - {
        TurnaroundSettings.model_fields["consumer_group"].default
    }


def test_on_plaintext_nothing_logs_in(tmp_path: Path) -> None:
    supervisor = _supervisor(tmp_path, secured=False)

    assert supervisor.kafka_credentials is None
    assert supervisor.endpoints.kafka_security == PLAINTEXT


@pytest.mark.parametrize("secured", [True, False])
def test_the_printed_text_says_how_kafka_is_secured_and_where_the_credentials_are(
    tmp_path: Path, secured: bool
) -> None:
    supervisor = _supervisor(tmp_path, secured=secured)

    text = "\n".join(supervisor.kafka_security_lines())

    if not secured:
        assert "PLAINTEXT" in text
        return
    assert "SASL_SSL" in text and "SCRAM-SHA-512" in text
    assert str(tmp_path / "credentials") in text
    for spec in SERVICES:
        assert f"{spec.name} as {spec.principal}" in text
    for password_file in (tmp_path / "credentials").iterdir():
        assert password_file.read_text().strip() not in text
