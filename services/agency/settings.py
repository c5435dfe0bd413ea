"""The agency service's settings: the shared ones plus AGENCY_* variables; the only reader of the env."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from services.shared.personal_data.settings import PersonalDataSettings


class AgencySettings(PersonalDataSettings):
    model_config = SettingsConfigDict(env_prefix="AGENCY_", extra="ignore", frozen=True)

    http_host: str = Field("127.0.0.1", description="Interface the HTTP API listens on.")
    http_port: int = Field(8002, description="Port of the HTTP API.")
    kafka_client_id: str = Field("agency", description="Kafka client id of the service's producer.")
    postal_group_id: str = Field(
        "agency.postal",
        description="Consumer group reading postal.events.v1 (which agency each dossier is addressed to).",
    )
    intake_group_id: str = Field(
        "agency.intake",
        description="Consumer group validating the agency systems' reports on agency.intake.v1.",
    )
    consumer_max_records: int = Field(500, ge=1, description="Most records a consumer applies in one batch.")
    publish_timeout_s: float = Field(
        5.0, gt=0, description="How long a request waits for Kafka's acknowledgement before answering 503."
    )
    closure_interval_s: float = Field(
        60.0,
        gt=0,
        description="How often the closure job looks for dossiers whose closure period ended without "
        "their supplement (Decree 118/2025 Art. 19(5)); each is closed once whatever the replicas.",
    )
    retry_after_s: int = Field(5, ge=1, description="Retry-After of a 503 answer, in seconds.")
    clock_skew_s: int = Field(
        120,
        ge=0,
        validation_alias=AliasChoices("DOSSIER_CLOCK_SKEW_SECONDS", "clock_skew_s"),
        description="How far ahead of the service's clock a report's occurrence time may lie (desks' "
        "clocks drift); a later one is refused with time_in_future.",
    )
