"""Page cursors for keyset pagination: opaque, signed, and validated when they come back.

A cursor is base64url(HMAC-SHA256(key, payload)[:16] + payload), the payload a JSON list
``[kind, value, ...]``: the kind names the list (and its order) the position belongs to. A cursor that was
edited, forged, truncated, signed with another key (after a key change) or handed out by another list is
refused with 400 ``invalid_cursor``; the caller starts again from the first page. Signing alone is not
trusted: the values are parsed and range-checked as well, so a leaked key cannot push an absurd position
(year 9999 west of UTC overflows converting to UTC) into a query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from services.shared.http import ProblemError

MAC_BYTES = 16
MAX_CURSOR_CHARS = 200
"""Longer than any cursor handed out (a kind, a timestamp and a UUID take about 140 characters)."""
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Positions outside these years are not ones a list hands out; refusing them keeps every conversion
# (to UTC, to the database's types) far from datetime's limits.
EARLIEST_YEAR = 1900
LATEST_YEAR = 9000


def invalid_cursor() -> ProblemError:
    return ProblemError(400, "invalid_cursor", "the cursor is not one this list handed out")


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose derived from a shared secret, so that a cursor MAC never doubles as a token
    signature or a phone digest made with the same secret."""
    return hmac.new(secret, f"dossier-post:{purpose}".encode(), hashlib.sha256).digest()


class CursorSigner:
    """Encodes positions into signed cursors and reads them back, refusing any it did not sign."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:MAC_BYTES]

    def encode(self, kind: str, values: Sequence[Any]) -> str:
        payload = json.dumps([kind, *values], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._mac(payload) + payload).decode().rstrip("=")

    def decode(self, cursor: str, kind: str, size: int) -> list[str]:
        """The ``size`` string values of a cursor this signer made for ``kind``; else invalid_cursor."""
        if len(cursor) > MAX_CURSOR_CHARS:
            raise invalid_cursor()
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, binascii.Error):
            raise invalid_cursor() from None
        mac, payload = raw[:MAC_BYTES], raw[MAC_BYTES:]
        if len(mac) < MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise invalid_cursor()
        try:
            found = json.loads(payload)
        except ValueError:
            raise invalid_cursor() from None
        if (
            not isinstance(found, list)
            or len(found) != size + 1
            or found[0] != kind
            or not all(isinstance(value, str) for value in found[1:])
        ):
            raise invalid_cursor()
        return found[1:]


def moment(text: str) -> datetime:
    """An aware timestamp of a cursor, in UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise invalid_cursor() from None
    if parsed.tzinfo is None or not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise invalid_cursor()
    return parsed.astimezone(UTC)


def day(text: str) -> date:
    """A calendar day of a cursor (YYYY-MM-DD)."""
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise invalid_cursor() from None
    if len(text) != 10 or not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise invalid_cursor()
    return parsed


def uuid_key(text: str) -> str:
    """The tie-breaking id of a cursor: a dossier or event id (a lowercase UUID)."""
    if not UUID.fullmatch(text):
        raise invalid_cursor()
    return text
