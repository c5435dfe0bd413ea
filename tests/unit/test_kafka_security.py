"""The Kafka login every client uses comes from the shared settings: a password from a file or the
environment, never shown, and a SASL_SSL setting without a login stops the start with a clear message."""

from __future__ import annotations

import ssl
import uuid
from pathlib import Path

import pytest

from services.shared.kafka_security import PLAINTEXT, KafkaSecurityError, kafka_security_of
from services.shared.settings import SharedSettings


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> SharedSettings:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_USERNAME", "KAFKA_PASSWORD", "KAFKA_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return SharedSettings()


def test_plaintext_is_the_default_and_adds_no_client_option(monkeypatch: pytest.MonkeyPatch) -> None:
    security = kafka_security_of(_settings(monkeypatch))
    assert security == PLAINTEXT
    assert security.client_options() == {}
    assert security.faststream() is None


def test_sasl_ssl_logs_in_with_the_password_file_and_verifies_the_broker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = uuid.uuid4().hex
    (tmp_path / "tracker").write_text(secret + "\n", encoding="utf-8")
    settings = _settings(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_USERNAME="tracker",
        KAFKA_PASSWORD="not-this-one",
        KAFKA_PASSWORD_FILE=str(tmp_path / "tracker"),
    )
    options = kafka_security_of(settings).client_options()
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "tracker",
        "sasl_plain_password": secret,
    }
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_the_password_is_in_no_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = uuid.uuid4().hex
    settings = _settings(
        monkeypatch, KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_USERNAME="agency", KAFKA_PASSWORD=secret
    )
    security = kafka_security_of(settings)
    assert secret not in repr(security) + str(security) + repr(settings)
    assert security.password.get_secret_value() == secret


def test_sasl_ssl_without_a_password_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_USERNAME="agency")
    with pytest.raises(KafkaSecurityError, match="needs KAFKA_USERNAME and KAFKA_PASSWORD_FILE"):
        kafka_security_of(settings)


def test_an_unreadable_password_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    settings = _settings(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_USERNAME="agency",
        KAFKA_PASSWORD_FILE=str(missing),
    )
    with pytest.raises(KafkaSecurityError, match=f"KAFKA_PASSWORD_FILE {missing}"):
        kafka_security_of(settings)


def test_a_missing_ca_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = _settings(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_USERNAME="agency",
        KAFKA_PASSWORD="x",
        KAFKA_CA_FILE=str(tmp_path / "ca.pem"),
    )
    with pytest.raises(KafkaSecurityError, match="KAFKA_CA_FILE"):
        kafka_security_of(settings).client_options()
