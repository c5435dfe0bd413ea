"""Zalo ZNS delivery receipts: the Official Account's webhook.

Zalo POSTs each event as JSON to the webhook registered for the app. The ZNS delivery event is
``user_received_message``: ``{"app_id", "event_name", "timestamp" (ms), "sender": {"id": <OA>},
"recipient": {"id": <user>}, "message": {"msg_id", "tracking_id", "delivery_time" (ms)}}``; any other
event is acknowledged and not applied. Zalo wants a 200 within two seconds and resends for hours
otherwise, so the answer never waits for more than recording the receipt.

Authentication, as Zalo documents it: the header ``X-ZEvent-Signature`` is ``mac=`` followed by the hex
SHA-256 of app id + the raw body + the body's ``timestamp`` + the OA secret key (the Official Account's,
not the app's) — https://hainh.me/zalo-api-php-webhook-callback-official-account.html describes the same
construction. The app id is ours (configured), never the body's: an event for another app does not
verify. Assumed where the docs are silent: the header may come without the ``mac=`` prefix, and a
signature is compared as lower-case hex. ZNS webhooks report delivery only: a failure after acceptance is
never reported, so this parser only ever says DELIVERED.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from services.notifications.ports import Channel, Receipt, ReceiptStatus
from services.notifications.receipts.verdicts import Ignored, ReceiptRefusedError

SIGNATURE_HEADER = "x-zevent-signature"
DELIVERED_EVENT = "user_received_message"


def signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    material = app_id.encode() + raw_body + timestamp.encode() + oa_secret_key.encode()
    return "mac=" + hashlib.sha256(material).hexdigest()


def _event(raw_body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(raw_body)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        # Without its timestamp a body cannot be verified: unauthenticated, whatever it says.
        raise ReceiptRefusedError(401, "receipt_unauthenticated", "the body is not a signed Zalo event")
    return event


def parse(raw_body: bytes, header: str | None, app_id: str, oa_secret_key: str) -> Receipt | Ignored:
    event = _event(raw_body)
    timestamp = event.get("timestamp")
    if not header or not isinstance(timestamp, str | int):
        raise ReceiptRefusedError(
            401, "receipt_unauthenticated", "the event carries no signature or timestamp"
        )
    given = header.strip().lower()
    given = given if given.startswith("mac=") else "mac=" + given
    expected = signature(app_id, raw_body, str(timestamp), oa_secret_key)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ReceiptRefusedError(401, "receipt_unauthenticated", "the event's signature does not match")
    if event.get("event_name") != DELIVERED_EVENT:
        return Ignored("not_a_receipt")
    message = event.get("message")
    msg_id = message.get("msg_id") if isinstance(message, dict) else None
    if not isinstance(message, dict) or not isinstance(msg_id, str) or not msg_id:
        raise ReceiptRefusedError(422, "invalid_receipt", "the delivery event names no msg_id")
    tracking_id = message.get("tracking_id")
    delivered_at = message.get("delivery_time", timestamp)
    return Receipt(
        channel=Channel.ZALO,
        provider_message_id=msg_id,
        status=ReceiptStatus.DELIVERED,
        code=DELIVERED_EVENT,
        reported_at_ms=int(delivered_at) if str(delivered_at).isdigit() else None,
        client_reference=tracking_id if isinstance(tracking_id, str) and tracking_id else None,
    )
