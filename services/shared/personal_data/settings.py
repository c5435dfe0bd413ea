"""Settings of the keys around personal data.

``PhoneCheckSettings``: the key of the phone-check digest, shared by the producers that compute it and
the tracker that matches it (DOSSIER_LOOKUP_KEY; the tracker's TRACKER_LOOKUP_KEY keeps working).
``PersonalDataSettings``: the vault's KEKs and index key, for the services that collect personal data.
Every key left empty is read from (or generated once into) a file under .work/, as the tracker's lookup
key always was: for the local run and the tests, where one machine runs every service. Production sets
them, the same for every replica of a service.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr

from services.shared.http_settings import HttpServiceSettings
from services.shared.key_files import ensure_key_file, may_generate
from services.shared.personal_data.index import BlindIndex
from services.shared.personal_data.keys import KEK_BYTES, Keyring
from services.shared.personal_data.phone_check import PhoneDigest
from services.shared.personal_data.retention import Retention

MIN_LOOKUP_KEY_BYTES = 16


class PhoneCheckSettings(HttpServiceSettings):
    lookup_key: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("DOSSIER_LOOKUP_KEY", "TRACKER_LOOKUP_KEY", "lookup_key"),
        description="Key of the HMAC of the last four digits of the applicant's phone (the public lookup's "
        "check): the post office and the agency put the digest in their events (`phone_check`), the "
        "tracker matches it; the same value for all of them (at least 16 bytes; 32 random ones "
        "recommended), never the signing secret, so rotating DOSSIER_AUTH_SECRET leaves the public lookup "
        "working. TRACKER_LOOKUP_KEY is the same setting under its earlier name. Required in production. "
        "Empty: the key kept in the lookup key file, generated there once (local run and tests).",
    )
    lookup_key_file: Path = Field(
        Path(".work/lookup_key"),
        validation_alias=AliasChoices(
            "DOSSIER_LOOKUP_KEY_FILE", "TRACKER_LOOKUP_KEY_FILE", "lookup_key_file"
        ),
        description="Where the generated lookup key is kept when DOSSIER_LOOKUP_KEY is empty (relative to "
        "the working directory). Every service of a deployment must read the same key. Generated when "
        "missing only at this default or under the project's .work/; a path set elsewhere that does not "
        "exist stops the start with an error naming this setting.",
    )

    def current_lookup_key(self) -> bytes:
        key = self.lookup_key.get_secret_value() or self._key_file(
            "lookup_key_file", "DOSSIER_LOOKUP_KEY_FILE"
        )
        if len(key.encode()) < MIN_LOOKUP_KEY_BYTES:
            raise ValueError(f"DOSSIER_LOOKUP_KEY must be at least {MIN_LOOKUP_KEY_BYTES} bytes")
        return key.encode()

    def _key_file(self, field: str, setting: str, generate: Callable[[], str] | None = None) -> str:
        """The key in the file named by ``field``: generated when missing only at its default path or
        under the project's .work/; an explicitly set path that does not exist is an error naming it."""
        path: Path = getattr(self, field)
        allowed = may_generate(path, explicit=field in self.model_fields_set)
        if generate is None:
            return ensure_key_file(path, setting=setting, generate_missing=allowed)
        return ensure_key_file(path, generate, setting=setting, generate_missing=allowed)

    def phone_check(self) -> PhoneDigest:
        """The digest producers put in their events (made with the current key only)."""
        return PhoneDigest([self.current_lookup_key()])


def _local_keyring() -> str:
    return f"local1:{base64.b64encode(secrets.token_bytes(KEK_BYTES)).decode()}"


class PersonalDataSettings(PhoneCheckSettings):
    personal_data_keys: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("PERSONAL_DATA_KEYS", "personal_data_keys"),
        description="Key-encryption keys of the personal data vault, `<id>:<base64 of 32 bytes>` separated "
        "by commas: the first wraps new records' data keys, every listed one unwraps (rotation: put the new "
        "key first, run `python -m services.<service>.personal_data rotate`, then drop the old one). "
        "Required in production. Empty: read from PERSONAL_DATA_KEYS_FILE.",
    )
    personal_data_keys_file: Path = Field(
        Path(".work/personal_data_keys"),
        validation_alias=AliasChoices("PERSONAL_DATA_KEYS_FILE", "personal_data_keys_file"),
        description="A file holding PERSONAL_DATA_KEYS when that is empty; generated once with one key when "
        "missing at this default or under the project's .work/ (local run and tests); a path set "
        "elsewhere that does not exist stops the start with an error naming this setting.",
    )
    personal_data_index_key: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("PERSONAL_DATA_INDEX_KEY", "personal_data_index_key"),
        description="Key of the HMAC indexes of phone and ID numbers in the vault (access requests find a "
        "person's records without opening them); at least 16 bytes; never stored in the database. "
        "Changing it makes the stored indexes unfindable. Empty: read from PERSONAL_DATA_INDEX_KEY_FILE.",
    )
    personal_data_index_key_file: Path = Field(
        Path(".work/personal_data_index_key"),
        validation_alias=AliasChoices("PERSONAL_DATA_INDEX_KEY_FILE", "personal_data_index_key_file"),
        description="A file holding PERSONAL_DATA_INDEX_KEY when that is empty; generated once when "
        "missing at this default or under the project's .work/; a path set elsewhere that does not exist "
        "stops the start with an error naming this setting.",
    )

    personal_data_result_delivery_days: float = Field(
        0,
        ge=0,
        description="Retention of the purpose `result_delivery` after the fact that ends it: the delivery "
        "of the result, its return to the agency, or the end of the dossier without a result to carry "
        "(withdrawn, closed). Default 0: once nothing is left to carry, the address serves no purpose "
        "(Personal Data Protection Law 2025: kept no longer than its purpose needs).",
    )
    personal_data_notifications_days: float = Field(
        7,
        ge=0,
        description="Retention of the purpose `notifications` after the dossier's last fact (delivered, "
        "returned, withdrawn, closed): as long as the notifications service may still send or retry the "
        "message about it. Default 7 days (a message retried over a few days, then given up).",
    )
    personal_data_dispute_window_days: float = Field(
        92,
        ge=0,
        description="The dispute window after delivery (purpose `dispute`): the applicant may complain "
        "about the postal item within 1 month of its delivery, and the post answers a domestic "
        "complaint within 2 months (Law on Post 2010, Art. 39, to confirm: the complaint time limits "
        "and the settlement time); default 92 days, so the contact is held until a complaint filed on "
        "the last day can be settled.",
    )
    personal_data_erasure_interval_s: float = Field(
        60,
        gt=0,
        description="How often each replica's erasure job looks for records whose every purpose ended.",
    )

    def retention(self) -> Retention:
        return Retention(
            result_delivery=timedelta(days=self.personal_data_result_delivery_days),
            notifications=timedelta(days=self.personal_data_notifications_days),
            dispute_window=timedelta(days=self.personal_data_dispute_window_days),
        )

    def keyring(self) -> Keyring:
        text = self.personal_data_keys.get_secret_value() or self._key_file(
            "personal_data_keys_file", "PERSONAL_DATA_KEYS_FILE", _local_keyring
        )
        return Keyring.parse(text)

    def blind_index(self) -> BlindIndex:
        key = self.personal_data_index_key.get_secret_value() or self._key_file(
            "personal_data_index_key_file", "PERSONAL_DATA_INDEX_KEY_FILE"
        )
        return BlindIndex(key.encode())
