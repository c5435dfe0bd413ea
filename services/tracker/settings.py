"""Settings of the tracker: the shared ones plus TRACKER_* for its own. The only reader of the environment."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.shared.settings import SharedSettings

MIN_LOOKUP_KEY_BYTES = 16


class TrackerSettings(SharedSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKER_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(8003, ge=1, le=65535, description="Port the HTTP API listens on.")
    consumer_group: str = Field(
        "tracker",
        min_length=1,
        max_length=64,
        description="Kafka consumer group, also the consumer's name in the processed_event inbox.",
    )
    group_instance_id: str | None = Field(
        None,
        description="Static group membership (KIP-345), e.g. the pod name of a StatefulSet: a restarted "
        "replica gets its partitions back at once instead of after a rebalance.",
    )
    session_timeout_ms: int = Field(
        10_000, ge=6_000, description="Consumer session timeout (the broker's minimum is 6 s)."
    )
    max_batch: int = Field(500, ge=1, le=10_000, description="Most records applied in one transaction.")
    batch_timeout_ms: int = Field(50, ge=1, description="How long the consumer waits to fill a batch.")
    outbox_batch: int = Field(500, ge=1, le=10_000, description="Most stage changes published per round.")
    outbox_idle_s: float = Field(
        0.5, gt=0, description="How often the outbox is polled when no commit woke the relay."
    )
    publish_timeout_s: float = Field(5.0, gt=0, description="How long a publication waits for Kafka's ack.")
    kafka_client_id: str = Field("tracker", description="Kafka client id.")
    lookup_key: SecretStr = Field(
        SecretStr(""),
        description="Key of the HMAC that stores the last four digits of the applicant's phone for the "
        "public lookup; empty: DOSSIER_AUTH_SECRET. Changing it makes stored digests unusable until a "
        "rebuild.",
    )
    public_lookup_failures: int = Field(
        10, ge=1, description="Failed public lookups allowed per reference (and per client) in a window."
    )
    public_lookup_window_s: float = Field(900.0, gt=0, description="The window of that limit, in seconds.")
    credential_cache_s: float = Field(
        5.0, ge=0, description="How long a credential's registry state is cached; revocation delay."
    )
    office_directory: str | None = Field(
        None,
        description="YAML file mapping post office and agency codes to names for the lookups; default: "
        "services/tracker/offices.yaml.",
    )
    fault_exit_after_commit: int | None = Field(
        None,
        ge=1,
        description="TESTS ONLY: exit the process (os._exit) after this many batches were committed to the "
        "database and before their offsets are committed to Kafka.",
    )

    def phone_digest_key(self) -> bytes:
        key = self.lookup_key.get_secret_value() or self.auth_secret.get_secret_value()
        if len(key.encode()) < MIN_LOOKUP_KEY_BYTES:
            raise ValueError(
                f"TRACKER_LOOKUP_KEY (or DOSSIER_AUTH_SECRET) must be at least {MIN_LOOKUP_KEY_BYTES} bytes"
            )
        return key.encode()
