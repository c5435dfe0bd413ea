"""Settings of the post office service: the shared ones plus POST_OFFICE_* for its own."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.shared.personal_data.settings import PersonalDataSettings


class PostOfficeSettings(PersonalDataSettings):
    model_config = SettingsConfigDict(env_prefix="POST_OFFICE_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(8001, ge=1, le=65535, description="Port the HTTP API listens on.")
    publish_timeout_s: float = Field(
        5.0, gt=0, description="How long a request waits for Kafka's acknowledgement before answering 503."
    )
    retry_after_s: int = Field(5, ge=1, description="Retry-After (seconds) of a 503 answer.")
    clock_skew_s: int = Field(
        300, ge=0, description="How far in the future an act's time may lie (device clocks drift)."
    )
    credential_cache_s: float = Field(
        5.0, ge=0, description="How long a credential's registry state is cached; revocation delay."
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="uvicorn worker processes serving the API on one listening socket: one process uses "
        "one core at most (see Running the post office on several workers, above). Metrics are summed "
        "over the workers.",
    )
    kafka_client_id: str = Field("post-office", description="Kafka client id of the producer.")
    agency_events_group_id: str = Field(
        "post-office.agency-events",
        pattern=r"^post-office",
        description="Consumer group reading agency.events.v1 (when a dossier ends at the agency, so its "
        "contact's purposes end). Within the `post-office` prefix the service's Kafka principal may use; "
        "every worker process is one member of it.",
    )
