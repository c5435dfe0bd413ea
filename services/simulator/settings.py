"""Settings of the traffic simulator (env prefix SIM_); the only reader of its environment.

It also reads the shared settings: DATABASE_URL and DOSSIER_AUTH_SECRET (to issue its credentials when
run on its own), KAFKA_BOOTSTRAP_SERVERS (agency systems' reports) and DOSSIER_CUTOFF_HOUR (the legal due
dates agency systems compute must be the agency service's).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.shared.settings import SharedSettings


class SimulatorSettings(SharedSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_", extra="ignore", frozen=True)

    dossiers: int = Field(200, ge=1, le=100_000, description="Dossiers one run of the simulator starts.")
    seed: int | None = Field(None, description="Seed of the random choices; empty: a new day every run.")
    concurrency: int = Field(8, ge=1, le=256, description="HTTP requests the simulator keeps in flight.")
    history_working_days: int = Field(
        15, ge=2, le=60, description="How many working days back the oldest simulated acceptance lies."
    )
    agency_systems: bool = Field(
        True,
        description="Agencies marked as connected report through their provincial one-stop system on "
        "agency.intake.v1 (with the acts' own past times); false: every agency reports at the desk (HTTP).",
    )
    request_timeout_s: float = Field(15.0, gt=0, description="Timeout of one HTTP request.")
    propagation_timeout_s: float = Field(
        60.0, gt=0, description="How long an agency waits to learn of a handover from the post's events."
    )
    state_file: Path = Field(
        Path(".work/simulator/state.json"),
        description="Where the serial numbers of item ids, records and agency dossier codes are kept, so "
        "that a later run never reuses one.",
    )
    post_office_url: str = Field("http://127.0.0.1:8001", description="Base URL of the post office API.")
    agency_url: str = Field("http://127.0.0.1:8002", description="Base URL of the agency API.")
    tracker_url: str = Field("http://127.0.0.1:8003", description="Base URL of the tracker API.")
    turnaround_url: str = Field("http://127.0.0.1:8004", description="Base URL of the turnaround API.")
