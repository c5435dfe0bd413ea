"""Settings of the notifications service (env prefix NOTIFICATIONS_); the only reader of the environment."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.shared.http_settings import HttpServiceSettings
from services.shared.key_files import ensure_key_file, may_generate
from services.shared.personal_data.keys import KEK_BYTES, Keyring


def _local_keyring() -> str:
    return f"notify1:{base64.b64encode(secrets.token_bytes(KEK_BYTES)).decode()}"


class NotificationsSettings(HttpServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore", frozen=True)

    contact_keys: SecretStr = Field(
        SecretStr(""),
        description="Key-encryption keys of the sealed contacts kept here, `<id>:<base64 of 32 bytes>` "
        "separated by commas: the first wraps, every listed one unwraps. This service's own keys, not the "
        "owners' vault keys. Required in production. Empty: read from NOTIFICATIONS_CONTACT_KEYS_FILE.",
    )
    contact_keys_file: Path = Field(
        Path(".work/notifications_contact_keys"),
        description="A file holding NOTIFICATIONS_CONTACT_KEYS when that is empty; generated once when "
        "missing at this default or under the project's .work/ (local run and tests); a path set elsewhere "
        "that does not exist stops the start with an error naming this setting.",
    )

    http_host: str = Field(
        "0.0.0.0", description="Interface the API, /health, /ready and /metrics listen on."
    )
    http_port: int = Field(8005, description="Port of the API, /health, /ready and /metrics.")
    credential_cache_s: float = Field(
        5.0, ge=0, description="How long a credential's registry state is cached; revocation delay."
    )
    consumer_group: str = Field(
        "notifications",
        description="Kafka consumer group of the postal, agency, stage and clock-alert events.",
    )
    post_office_url: str = Field(
        "http://localhost:8001", description="The post office's API: its contact API (`/v1/dossiers/…`)."
    )
    agency_url: str = Field("http://localhost:8002", description="The agency's API: its contact API.")
    contact_token: SecretStr = Field(
        SecretStr(""),
        description="The service's own credential on the owners' contact APIs: a notifier credential "
        "issued for it (`dossier-credentials issue --role notifier --subject notifications`), which reads "
        "applicants' contacts for the purpose `notifications` and nothing else, every read in the owners' "
        "audits under the subject `notifications`. Required to send to citizens.",
    )
    contact_retention_h: float = Field(
        24.0,
        gt=0,
        description="How long a contact read from its owner is kept here, sealed, for the next messages of "
        "the dossier; then deleted and asked again. An erasure at the owner deletes it at once.",
    )
    smtp_host: str = Field("localhost", description="SMTP server of the e-mail channel.")
    smtp_port: int = Field(25, description="Port of that SMTP server.")
    smtp_sender: str = Field(
        "thongbao@dossier-post.invalid", description="The From address of the e-mails (the service's)."
    )
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str = Field("", description="SMTP login, if the server asks for one.")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_timeout_s: float = Field(20.0, gt=0, description="Timeout of one SMTP exchange.")
    public_url: str = Field(
        "",
        description="This service's address as the SMS and Zalo providers reach it (`https://…`, no "
        "trailing slash): eSMS reports each message's delivery to `<public_url>/receipts/sms`. Empty: no "
        "delivery reports are asked for.",
    )
    esms_base_url: str = Field(
        "",
        description="eSMS.vn's API (`https://rest.esms.vn`). Empty: the SMS channel is not configured, "
        "and an SMS falls back to the next channel the applicant consented to.",
    )
    esms_api_key: SecretStr = Field(SecretStr(""), description="eSMS ApiKey of the account.")
    esms_secret_key: SecretStr = Field(SecretStr(""), description="eSMS SecretKey of the account.")
    esms_brandname: str = Field("", description="The registered brandname the SMS are sent under.")
    esms_sandbox: bool = Field(False, description="eSMS's sandbox: accepted and answered, never sent.")
    esms_callback_secret: SecretStr = Field(
        SecretStr(""),
        description="Signs each SMS's delivery-report address (eSMS signs nothing itself); a report "
        "whose signature does not match is refused 401. Required with NOTIFICATIONS_PUBLIC_URL.",
    )
    zalo_base_url: str = Field(
        "",
        description="Zalo's ZNS API (`https://business.openapi.zalo.me`). Empty: the Zalo channel is not "
        "configured, and a Zalo message falls back to the next channel the applicant consented to.",
    )
    zalo_access_token: SecretStr = Field(SecretStr(""), description="The Official Account's access token.")
    zalo_templates: dict[str, str] = Field(
        default_factory=dict,
        description="The ZNS templates registered with Zalo, as JSON {our template id, e.g. "
        "`accepted.zalo`: Zalo's template id}. A message without one fails and falls back.",
    )
    zalo_app_id: str = Field("", description="The Zalo app id its webhook signatures are made with.")
    zalo_oa_secret_key: SecretStr = Field(
        SecretStr(""),
        description="The Official Account's secret key: checks the `X-ZEvent-Signature` of Zalo's "
        "webhook (`/receipts/zalo`). Empty: the webhook answers 404.",
    )
    desk_emails: dict[str, str] = Field(
        default_factory=dict,
        description="The agencies' one-stop desks' e-mail addresses, as JSON {agency code: address}: where "
        "clock alerts (due soon, overdue) go. An agency not listed gets none (suppressed `no_address`).",
    )
    dispatch_interval_s: float = Field(1.0, gt=0, description="How often due messages are looked for.")
    max_attempts: int = Field(
        6, ge=1, description="Attempts of one message before it is dead-lettered (the retry budget)."
    )
    backoff_base_s: float = Field(
        30.0, gt=0, description="Wait after the first failed attempt; doubled after each next one."
    )
    backoff_cap_s: float = Field(3600.0, gt=0, description="Longest wait between two attempts.")
    lease_s: float = Field(
        120.0,
        gt=0,
        description="How long an attempt holds its message: a replica that died mid-send leaves it to "
        "another after this.",
    )
    send_timeout_s: float = Field(30.0, gt=0, description="Longest a channel's provider may take to answer.")

    def keyring(self) -> Keyring:
        text = self.contact_keys.get_secret_value()
        if not text:
            path = self.contact_keys_file
            allowed = may_generate(path, explicit="contact_keys_file" in self.model_fields_set)
            text = ensure_key_file(
                path, _local_keyring, setting="NOTIFICATIONS_CONTACT_KEYS_FILE", generate_missing=allowed
            )
        return Keyring.parse(text)
