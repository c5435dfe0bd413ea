"""Settings every service shares. Each service subclasses them with its own env prefix for the rest;
these keep their conventional names (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, DOSSIER_AUTH_SECRET) so one
environment configures the whole stack."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shared.db.engine import DEFAULT_URL


class SharedSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    database_url: str = Field(DEFAULT_URL, validation_alias=AliasChoices("DATABASE_URL"))
    auth_secret: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("DOSSIER_AUTH_SECRET"),
        description="HS256 key signing bearer credentials; at least 32 bytes; the same for every service.",
    )
    log_level: str = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    calendar_cutoff_hour: int | None = Field(
        15,
        validation_alias=AliasChoices("DOSSIER_CUTOFF_HOUR"),
        description="Filings at or after this hour count from the next working day; empty for none.",
    )
