"""How every Kafka client of the project authenticates: PLAINTEXT (the default, no login) or SASL_SSL
with SCRAM-SHA-512 against the broker of `deploy/kafka/kafka.sh start-secure`.

One value, made once from the shared settings, gives the options of each kind of client: FastStream's
security object for make_broker, keyword options for aiokafka's producers, consumers and admin clients.
The password is read from KAFKA_PASSWORD_FILE or KAFKA_PASSWORD and stays a SecretStr: it appears in
no repr, log line or error message.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from faststream.security import BaseSecurity, SASLScram512
from pydantic import SecretStr

from services.shared.settings import SharedSettings


class KafkaSecurityError(ValueError):
    """The Kafka security settings are incomplete or name a file that cannot be read."""


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: Literal["PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    username: str = ""
    password: SecretStr = field(default=SecretStr(""), repr=False)
    ca_file: Path | None = None
    mechanism: Literal["SCRAM-SHA-512"] = "SCRAM-SHA-512"

    def __post_init__(self) -> None:
        if self.protocol == "SASL_SSL" and not (self.username and self.password.get_secret_value()):
            raise KafkaSecurityError(
                "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_USERNAME and KAFKA_PASSWORD_FILE "
                "(or KAFKA_PASSWORD)"
            )

    @property
    def secured(self) -> bool:
        return self.protocol == "SASL_SSL"

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the broker's certificate and host name against the CA file (or the system's CAs)."""
        try:
            return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except (OSError, ssl.SSLError) as error:
            raise KafkaSecurityError(f"KAFKA_CA_FILE {self.ca_file}: {error}") from error

    def faststream(self) -> BaseSecurity | None:
        """The `security` argument of FastStream's KafkaBroker."""
        if not self.secured:
            return None
        return SASLScram512(self.username, self.password.get_secret_value(), ssl_context=self.ssl_context())

    def client_options(self) -> dict[str, Any]:
        """Keyword options for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
        if not self.secured:
            return {}
        return {
            "security_protocol": "SASL_SSL",
            "ssl_context": self.ssl_context(),
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password.get_secret_value(),
        }


PLAINTEXT = KafkaSecurity()


def kafka_security_of(settings: SharedSettings) -> KafkaSecurity:
    """The clients' security from the shared settings; KafkaSecurityError when SASL_SSL lacks a login."""
    password = settings.kafka_password
    if settings.kafka_password_file is not None:
        try:
            password = SecretStr(settings.kafka_password_file.read_text(encoding="utf-8").strip())
        except OSError as error:
            raise KafkaSecurityError(
                f"KAFKA_PASSWORD_FILE {settings.kafka_password_file}: {error.strerror or error}"
            ) from error
    return KafkaSecurity(
        protocol=settings.kafka_security_protocol,
        username=settings.kafka_username,
        password=password,
        ca_file=settings.kafka_ca_file,
        mechanism=settings.kafka_sasl_mechanism,
    )


def kafka_security_from_env() -> KafkaSecurity:
    """For tools without settings of their own (dossier-kafka): the shared settings from the environment."""
    return kafka_security_of(SharedSettings())
