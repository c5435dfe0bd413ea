"""The digest of the last four digits of an applicant's phone: what the tracker's public lookup checks.

The producers compute it when they vault the contact and put it in the event (``phone_check``); the
tracker stores it and matches a citizen's four digits against it. One definition for both sides.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


class PhoneDigest:
    """The last four digits of the applicant's phone, kept only as HMAC-SHA256(key, dossier id + digits).

    Four digits are 10,000 possibilities, so an unkeyed hash would be no protection; with the key kept
    out of the database and out of the log, a copy of the tables or of a topic reveals nothing, and the
    dossier id in the message makes equal digits of two dossiers look unrelated. New digests are made
    with the first key; a stored one matches under any of them, so changing the key keeps the digests
    made before (the earlier keys stay listed until every digest was made again).
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a phone digest needs a key")
        self._keys = list(keys)

    @staticmethod
    def _with(key: bytes, dossier_id: str, last4: str) -> str:
        return hmac.new(key, f"{dossier_id}:{last4}".encode(), hashlib.sha256).hexdigest()

    def of(self, dossier_id: str, last4: str) -> str:
        return self._with(self._keys[0], dossier_id, last4)

    def of_phone(self, dossier_id: str, phone: str) -> str:
        return self.of(dossier_id, phone[-4:])

    def matches(self, dossier_id: str, last4: str, digest: str) -> bool:
        return any(hmac.compare_digest(self._with(key, dossier_id, last4), digest) for key in self._keys)
