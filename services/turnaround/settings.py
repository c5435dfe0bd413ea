"""Settings of the turnaround service (env prefix TURNAROUND_); the only reader of the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.shared.http_settings import HttpServiceSettings
from services.turnaround.quality.periods import PeriodKind


class TurnaroundSettings(HttpServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TURNAROUND_", extra="ignore", frozen=True)

    http_host: str = "0.0.0.0"
    http_port: int = 8004
    consumer_group: str = Field("turnaround", description="Kafka consumer group of the clock projector.")
    tick_interval_s: float = Field(60.0, gt=0, description="How often open clocks are scanned for alerts.")
    relay_interval_s: float = Field(1.0, gt=0, description="How often the alert outbox is checked.")
    snapshot_interval_s: float = Field(5.0, gt=0, description="How often store-derived metrics are re-read.")
    lag_interval_s: float = Field(15.0, gt=0, description="How often consumer lag is measured.")
    credential_cache_s: float = Field(
        5.0, ge=0, description="How long a credential's registry state is cached; revocation delay."
    )
    lag_groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Other consumer groups to export lag for, as JSON: {group: [topic, ...]}.",
    )
    objectives_file: Path | None = Field(
        None,
        description="The quality objectives file (YAML, validated at start); unset: the repository's "
        "deploy/quality/objectives.yaml.",
    )
    objectives_refresh_s: float = Field(
        60.0, gt=0, description="How often the quality objectives' metrics are re-read from the database."
    )
    # The quality reports' schedule (services/turnaround/quality/report_schedule.py).
    quality_report_interval_s: float = Field(
        3600.0, gt=0, description="How often ended periods are checked for reports not yet generated."
    )
    quality_report_periods: list[PeriodKind] = Field(
        default_factory=lambda: list(PeriodKind),
        description="The period kinds whose reports are generated once a period ends (empty: none).",
    )
    quality_report_provinces: list[str] | None = Field(
        None,
        description="The provinces whose reports are generated beside the national one; unset: every "
        "province of the province table.",
    )
