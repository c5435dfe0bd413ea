"""eSMS delivery reports (its "Callback Url": https://developers.esms.vn/en/esms-api/callback-url).

eSMS calls the ``CallbackUrl`` given with the message once the message has a status, by HTTP GET with
the report as query parameters (retried up to five times on a timeout): ``SMSID``, ``RequestId`` (our
client reference), ``SendStatus`` (1 pending approval, 2 waiting to send, 4 rejected, 5 sent
successfully, 7 sent to the telco, waiting for its report), ``SendSuccess``/``SendFailed`` (counts),
``TypeId``, ``telcoid``, ``phonenumber``.

Authentication: eSMS documents no signature of its callbacks, and answers to whoever knows the URL. So
each message's ``CallbackUrl`` carries ``sig`` = HMAC-SHA256(our callback secret, RequestId)
(channels/sms.py), and a report counts only when its ``sig`` matches its own ``RequestId``: a forged
report needs the secret, and a leaked URL only speaks for its one message. ``phonenumber`` is personal
data: read by nobody here.

1, 2 and 7 are not final: acknowledged, not applied. 5 with no failed count is delivered; 5 with a
failed count and no success, and 4, are permanent failures with code ``SendStatus=<n>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from services.notifications.channels.sms import callback_signature
from services.notifications.ports import Channel, Receipt, ReceiptStatus
from services.notifications.receipts.verdicts import Ignored, ReceiptRefusedError

INTERIM = frozenset({"1", "2", "7"})
REJECTED = "4"
SENT = "5"


def verify(params: Mapping[str, str], secret: bytes) -> None:
    request_id = params.get("RequestId") or ""
    given = params.get("sig") or ""
    if not request_id or not given:
        raise ReceiptRefusedError(401, "receipt_unauthenticated", "the report carries no RequestId or sig")
    if not hmac.compare_digest(given.encode(), callback_signature(secret, request_id).encode()):
        raise ReceiptRefusedError(401, "receipt_unauthenticated", "the report's sig does not match")


def _count(params: Mapping[str, str], name: str) -> int:
    value = params.get(name) or "0"
    if not value.isdigit():
        raise ReceiptRefusedError(422, "invalid_receipt", f"{name} is not a count")
    return int(value)


def parse(params: Mapping[str, str], secret: bytes) -> Receipt | Ignored:
    """An authenticated report (``verify`` first) as a Receipt, or what to acknowledge without applying."""
    verify(params, secret)
    sms_id = params.get("SMSID") or ""
    status = params.get("SendStatus") or ""
    if not sms_id or not status:
        raise ReceiptRefusedError(422, "invalid_receipt", "the report has no SMSID or SendStatus")
    if status in INTERIM:
        return Ignored("interim_status")
    if status == REJECTED:
        receipt_status = ReceiptStatus.PERMANENT_FAILURE
    elif status == SENT:
        failed, succeeded = _count(params, "SendFailed"), _count(params, "SendSuccess")
        delivered = failed == 0 or succeeded > 0
        receipt_status = ReceiptStatus.DELIVERED if delivered else ReceiptStatus.PERMANENT_FAILURE
    else:
        return Ignored("undocumented_status")
    return Receipt(
        channel=Channel.SMS,
        provider_message_id=sms_id,
        status=receipt_status,
        code=f"SendStatus={status}",
        client_reference=params["RequestId"],
    )
