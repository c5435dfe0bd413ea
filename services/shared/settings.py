"""Settings every service shares. Each service subclasses them with its own env prefix for the rest;
these keep their conventional names (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, DOSSIER_AUTH_SECRET) so one
environment configures the whole stack."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shared.db.default_url import DEFAULT_URL
from services.shared.legal_rules import LegalRules, load_legal_rules


class SharedSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL"),
        description="How clients reach Kafka: `PLAINTEXT` (no TLS, no login) or `SASL_SSL` (TLS and a SCRAM "
        "login as KAFKA_USERNAME; the broker of `deploy/kafka/kafka.sh start-secure`).",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512",
        validation_alias=AliasChoices("KAFKA_SASL_MECHANISM"),
        description="SASL mechanism of the SASL_SSL login.",
    )
    kafka_username: str = Field(
        "",
        validation_alias=AliasChoices("KAFKA_USERNAME"),
        description="The service's Kafka principal (one per service: post-office, agency, tracker, "
        "turnaround; deploy/kafka/acls.tsv says what each may do). Required with SASL_SSL.",
    )
    kafka_password: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("KAFKA_PASSWORD"),
        description="The principal's password; prefer KAFKA_PASSWORD_FILE. One of the two is required with "
        "SASL_SSL.",
    )
    kafka_password_file: Path | None = Field(
        None,
        validation_alias=AliasChoices("KAFKA_PASSWORD_FILE"),
        description="A file holding the principal's password (surrounding whitespace ignored), e.g. "
        "`<data-dir>/credentials/<principal>` of the secured broker; wins over KAFKA_PASSWORD.",
    )
    kafka_ca_file: Path | None = Field(
        None,
        validation_alias=AliasChoices("KAFKA_CA_FILE"),
        description="PEM file of the CA that signed the broker's certificate (`<data-dir>/tls/ca.pem` of the "
        "secured broker); unset: the system's trusted CAs.",
    )
    database_url: str = Field(DEFAULT_URL, validation_alias=AliasChoices("DATABASE_URL"))
    auth_secret: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("DOSSIER_AUTH_SECRET"),
        description="HS256 key signing bearer credentials; at least 32 bytes; the same for every service.",
    )
    log_level: str = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    calendar_cutoff_hour: int | Literal["none"] | None = Field(
        None,
        validation_alias=AliasChoices("DOSSIER_CUTOFF_HOUR"),
        description="A deployment's own forwarding cut-off (a province's hour, 0-23), for every day: filings "
        "at or after it count from the next working day; `none` for no cut-off. Unset or empty: the hour of "
        "the rules in force on the filing day (deploy/rules: 15:00 under Decree 61/2018 and 118/2025).",
    )

    @field_validator("calendar_cutoff_hour", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


def legal_rules_of(settings: SharedSettings) -> LegalRules:
    """The legal rules (deploy/rules, validated: a malformed file stops the start) with the deployment's
    own cut-off hour, if it sets one."""
    rules = load_legal_rules()
    hour = settings.calendar_cutoff_hour
    if hour is None:
        return rules
    return rules.with_cutoff(None if hour == "none" else time(hour))
