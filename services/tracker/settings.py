"""Settings of the tracker: the shared ones plus TRACKER_* for its own. The only reader of the environment."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from contracts.topics import POSTAL_EVENTS
from services.shared.cursors import derive_key
from services.shared.key_files import ensure_key_file, may_generate
from services.shared.personal_data.settings import PhoneCheckSettings

MIN_LOOKUP_KEY_BYTES = 16


class TrackerSettings(PhoneCheckSettings):
    # The key of the phone checks is shared with the producers, which make the checks the tracker matches
    # (PhoneCheckSettings). The tracker keeps documenting it under its earlier name, which deployments set.
    lookup_key: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("TRACKER_LOOKUP_KEY", "DOSSIER_LOOKUP_KEY", "lookup_key"),
        description="The key of the public lookup's phone checks (DOSSIER_LOOKUP_KEY of the post office and "
        "the agency, which make the checks; the same value), at least 16 bytes, never the signing secret. "
        "Required in production. Empty: the key kept in DOSSIER_LOOKUP_KEY_FILE, generated there once.",
    )

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
    consumers: int = Field(
        2,
        ge=1,
        le=12,
        description="Members of the consumer group in this process, each with its share of the partitions; "
        "while one waits for PostgreSQL, another decodes and folds its batch. A divisor of the topics' 12 "
        "partitions, so that a dossier's postal and agency partitions go to the same member.",
    )

    @field_validator("consumers")
    @classmethod
    def _divides_the_partitions(cls, value: int) -> int:
        # The round-robin assignor deals agency.events.v1's partitions, then postal.events.v1's, to the
        # members in turn: partition p of both topics (the same dossiers) reaches the same member only when
        # the member count divides the partition count. Two members folding one dossier at once would
        # overwrite each other's row.
        if POSTAL_EVENTS.partitions % value:
            raise ValueError(f"must divide the {POSTAL_EVENTS.partitions} partitions of the event topics")
        return value

    session_timeout_ms: int = Field(
        10_000, ge=6_000, description="Consumer session timeout (the broker's minimum is 6 s)."
    )
    # 2,000 rather than 500 projects a backlog about 15 % faster (bench/): fewer commits and offset
    # commits, and a dossier's row is written once per batch however many of its events it holds.
    max_batch: int = Field(
        2000,
        ge=1,
        le=10_000,
        description="Most records applied in one transaction: a backlog or replay goes this many at a "
        "time; live traffic fills a batch only with what arrived within batch_timeout_ms.",
    )
    batch_timeout_ms: int = Field(50, ge=1, description="How long the consumer waits to fill a batch.")
    # aiokafka prefetches up to this much of every assigned partition (default 1 MiB): in a catch-up that
    # was 12 MiB of records per group member held as Python objects, most of the tracker's memory
    # (issue 19). A quarter of it still holds several batches ahead of the member.
    # Peak RSS under a backlog (bench/micro/memory.py, 100k events, 2 members): 192 MiB at 256 KiB, 167
    # at 128 KiB, 149 at 64 KiB, but smaller fetches cost 10-40 % more CPU per event (smaller batches),
    # so the default stays. What is held is live objects, not the allocator's: malloc_trim, a fixed
    # mmap threshold or PYTHONMALLOC=malloc changed the peak by 3 MiB at most.
    fetch_partition_bytes: int = Field(
        262_144,
        ge=16_384,
        description="Most bytes fetched ahead from one partition (Kafka still returns a larger record).",
    )
    # A rebuild keeps each lane's dossier views in memory between batches (services/tracker/write_back.py):
    # about 2 KiB a view. Enough for the dossiers under way at any point of the log is enough; beyond
    # it, a dossier waiting longest (after the ended ones, which leave first) is written and read again
    # when its next event comes. A bigger cache is not free: the whole heap gets slower to walk. In the
    # bench's 1M-event log (~5,200 dossiers under way per lane at most) 20,000 views cost 110 µs of CPU
    # per event and grew with the log (79 → 96 → 110 at 250k, 500k, 1M), 8,000 cost 81 and stayed flat
    # (94, 95, 81), same machine and load (bench/run.sh --only rebuild, 2026-12-06). Size it by the
    # traffic under way: national traffic has far more dossiers open at once than the bench.
    rebuild_cache_views: int = Field(
        8_000,
        ge=1,
        description="Dossier views a rebuild keeps in memory per lane between batches (about 2 KiB each).",
    )
    outbox_batch: int = Field(2000, ge=1, le=10_000, description="Most stage changes published per round.")
    outbox_idle_s: float = Field(
        0.5, gt=0, description="How often the outbox is polled when no commit woke the relay."
    )
    publish_timeout_s: float = Field(5.0, gt=0, description="How long a publication waits for Kafka's ack.")
    kafka_client_id: str = Field("tracker", description="Kafka client id.")
    lookup_previous_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Earlier lookup keys, as a JSON list, tried in order after lookup_key when a phone is "
        "checked, so the digests stored under them keep matching after the key changes. A rebuild "
        "digests every dossier again with lookup_key; after one, the list can be emptied.",
    )
    cursor_key: SecretStr = Field(
        SecretStr(""),
        description="Key of the HMAC that signs the staff lists' page cursors; every replica needs the same "
        "one. Empty: derived from DOSSIER_AUTH_SECRET (HMAC of it with a fixed purpose label), which every "
        "replica already shares. Changing it refuses the cursors handed out before (400 invalid_cursor; "
        "clients start again from the first page).",
    )
    public_lookup_failures: int = Field(
        10,
        ge=1,
        description="Failed public lookups allowed per client and per dossier (all its references together; "
        "an unknown reference on its own) in one window, counted in the database across replicas.",
    )
    public_lookup_window_s: float = Field(
        900.0,
        gt=0,
        description="The fixed window of that limit, in seconds: a used-up budget is refused (429) until its "
        "window ends.",
    )
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

    def cursor_signing_key(self) -> bytes:
        own = self.cursor_key.get_secret_value()
        if own:
            if len(own.encode()) < MIN_LOOKUP_KEY_BYTES:
                raise ValueError(f"TRACKER_CURSOR_KEY must be at least {MIN_LOOKUP_KEY_BYTES} bytes")
            return own.encode()
        return derive_key(self.auth_secret.get_secret_value().encode(), "tracker.cursor.v1")

    def phone_digest_keys(self) -> list[bytes]:
        """The key new digests are made with, then the earlier ones a stored digest may have been made
        with, in the order they are tried."""
        current = self.lookup_key.get_secret_value() or ensure_key_file(
            self.lookup_key_file,
            setting="TRACKER_LOOKUP_KEY_FILE",
            generate_missing=may_generate(
                self.lookup_key_file, explicit="lookup_key_file" in self.model_fields_set
            ),
        )
        keys = [current, *(key.get_secret_value() for key in self.lookup_previous_keys)]
        for key in keys:
            if len(key.encode()) < MIN_LOOKUP_KEY_BYTES:
                raise ValueError(
                    "DOSSIER_LOOKUP_KEY or TRACKER_LOOKUP_KEY (and each of TRACKER_LOOKUP_PREVIOUS_KEYS) "
                    f"must be at least {MIN_LOOKUP_KEY_BYTES} bytes"
                )
        return [key.encode() for key in keys]
