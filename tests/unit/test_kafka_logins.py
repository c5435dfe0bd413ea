"""The test fixture's logins (tests/fixtures/kafka.py) give a service the same login whichever way the
test hands it over: raw client options, settings, or a process environment. On the session's own broker
each principal logs in with its credentials file; on an external broker (KAFKA_BOOTSTRAP_SERVERS) every
login is the one the KAFKA_* settings name."""

from __future__ import annotations

import uuid
from pathlib import Path

import certifi
import pytest

from services.shared.kafka_security import kafka_security_from_env, kafka_security_of
from services.tracker.settings import TrackerSettings
from tests.fixtures.kafka import KafkaBroker, kafka_env_of

SECRET = "tracker-tests-signing-secret-0123456789"


def _secured_data_dir(root: Path, principal: str) -> str:
    password = uuid.uuid4().hex
    (root / "credentials").mkdir()
    (root / "credentials" / principal).write_text(password + "\n", encoding="utf-8")
    (root / "tls").mkdir()
    # Any CA bundle will do: nothing connects, the client options only load it.
    (root / "tls" / "ca.pem").write_bytes(Path(certifi.where()).read_bytes())
    return password


def test_a_principals_login_on_the_session_broker_is_the_same_as_options_settings_and_environment(
    tmp_path: Path,
) -> None:
    password = _secured_data_dir(tmp_path, "tracker")
    login = KafkaBroker("127.0.0.1:21000", tmp_path, 21000).for_service("tracker")

    assert login.security.username == "tracker" and login.security.secured
    assert login.security.password.get_secret_value() == password
    assert login.options()["sasl_plain_username"] == "tracker"
    assert login.options()["bootstrap_servers"] == "127.0.0.1:21000"
    settings = TrackerSettings(**login.settings(), DOSSIER_AUTH_SECRET=SECRET)
    assert kafka_security_of(settings) == login.security
    assert kafka_env_of(settings) == login.env()
    assert password not in str(login.env()), "the environment names the password file, not the password"


def test_on_an_external_broker_every_login_is_the_one_of_the_kafka_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    password = uuid.uuid4().hex
    (tmp_path / "operator").write_text(password, encoding="utf-8")
    for name, value in {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_USERNAME": "ops",
        "KAFKA_PASSWORD_FILE": str(tmp_path / "operator"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KAFKA_PASSWORD", raising=False)
    monkeypatch.delenv("KAFKA_CA_FILE", raising=False)
    broker = KafkaBroker("kafka.example:9093", None, None)

    for login in (broker.admin, broker.for_service("post_office")):
        assert login.security == kafka_security_from_env()
        assert login.env() == {
            "KAFKA_BOOTSTRAP_SERVERS": "kafka.example:9093",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_USERNAME": "ops",
            "KAFKA_PASSWORD_FILE": str(tmp_path / "operator"),
        }
