"""Settings of the local-run supervisor (env prefix STACK_), and how a settings field maps to its
environment variable (used to configure the services it starts and to document every setting)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shared.settings import SharedSettings


class StackSettings(SharedSettings):
    model_config = SettingsConfigDict(env_prefix="STACK_", extra="ignore", frozen=True)

    work_dir: Path = Field(
        Path(".work"),
        description="Local-run state: logs/, auth_secret, lookup_key, offices.yaml, prometheus/, simulator/, "
        "the messages the notifications service sent (mail/*.eml, sms/*.json, zalo/*.json) and the local "
        "providers' secrets (sinks/) (kept between runs; delete it to start afresh).",
    )
    host: str = Field("127.0.0.1", description="Interface every service of the local run listens on.")
    post_office_port: int = Field(8001, ge=1, le=65535, description="Port of the post office API.")
    agency_port: int = Field(8002, ge=1, le=65535, description="Port of the agency API.")
    tracker_port: int = Field(8003, ge=1, le=65535, description="Port of the tracker API.")
    turnaround_port: int = Field(8004, ge=1, le=65535, description="Port of the turnaround API.")
    notifications_port: int = Field(
        8005, ge=1, le=65535, description="Port of the notifications service (/metrics, /receipts/…)."
    )
    smtp_sink_port: int = Field(
        2525,
        ge=1,
        le=65535,
        description="Port of the local SMTP server that keeps every e-mail as <work_dir>/mail/*.eml.",
    )
    provider_sink_port: int = Field(
        8006,
        ge=1,
        le=65535,
        description="Port of the local eSMS and Zalo ZNS, which keep every SMS and Zalo message as "
        "<work_dir>/sms/*.json and <work_dir>/zalo/*.json and report each one delivered.",
    )
    prometheus: bool = Field(
        True, description="Start a local Prometheus (Debian's /usr/bin/prometheus) with the deployed rules."
    )
    prometheus_port: int = Field(9090, ge=1, le=65535, description="Port of the local Prometheus.")
    simulate: bool = Field(True, description="Run the traffic simulator once the services are ready.")
    ready_timeout_s: float = Field(90.0, gt=0, description="How long a service may take to answer /ready.")
    kafka_credentials_dir: Path | None = Field(
        None,
        description="With KAFKA_SECURITY_PROTOCOL=SASL_SSL: the directory of the broker's password files, "
        "one per principal (`kafka.sh start-secure` writes <data-dir>/credentials/); each service logs "
        "in as its own principal (deploy/kafka/acls.tsv), the simulator's agency systems as "
        "agency-systems and the local run's lag watch as admin. scripts/run.sh sets it.",
    )
    stop_timeout_s: float = Field(
        20.0, gt=0, description="How long a service may take to stop after SIGTERM before it is killed."
    )


def env_var(settings: type[BaseSettings], field: str) -> str:
    """The environment variable that sets ``field`` of ``settings`` (its alias, else prefix + name)."""
    info = settings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    if isinstance(alias, str):
        return alias
    prefix = settings.model_config.get("env_prefix") or ""
    return f"{prefix}{field}".upper()
