"""Keyed HMAC indexes of a phone number and an ID number: an access request finds a person's rows
without decrypting every record. The key comes from settings and is never stored beside the index, so a
copy of the table does not let anyone test the 10^9 phone numbers."""

from __future__ import annotations

import hashlib
import hmac

from contracts.values import parse_phone


class BlindIndex:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the personal data index key must be at least 16 bytes")
        self._key = key

    def _of(self, label: str, value: str) -> str:
        return hmac.new(self._key, f"{label}:{value}".encode(), hashlib.sha256).hexdigest()

    def phone(self, phone: str) -> str:
        return self._of("phone", parse_phone(phone))

    def id_number(self, id_number: str) -> str:
        return self._of("id", id_number.strip().upper())
