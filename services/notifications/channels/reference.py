"""The client reference an adapter sends with a message: the provider's duplicate check and the key
its receipts echo back.

It is the message's idempotency key when the provider can carry it as is, else a digest of it of the
provider's length: the same key always gives the same reference, so a resend after a crash is still
recognised. eSMS keeps a ``RequestId`` of at most 50 characters (documented); for Zalo ZNS's
``tracking_id`` we assumed 48, the documentation found giving no limit.
"""

from __future__ import annotations

import hashlib
import re

from services.notifications.ports import Channel

REFERENCE_LENGTH: dict[Channel, int] = {Channel.SMS: 50, Channel.ZALO: 48}
"""The longest reference each provider keeps (eSMS ``RequestId``; Zalo ZNS ``tracking_id``). E-mail has
none: its receipts (bounces) are not matched by reference."""

_SAFE = re.compile(r"[A-Za-z0-9._:-]+")


def client_reference(idempotency_key: str, max_length: int) -> str:
    if len(idempotency_key) <= max_length and _SAFE.fullmatch(idempotency_key):
        return idempotency_key
    return "h" + hashlib.sha256(idempotency_key.encode()).hexdigest()[: max_length - 1]


def reference_for(channel: Channel, idempotency_key: str) -> str | None:
    """The reference the channel's adapter sends for this message, kept with the message so a receipt
    that names only the reference finds it; None for a channel without one."""
    length = REFERENCE_LENGTH.get(channel)
    return None if length is None else client_reference(idempotency_key, length)
