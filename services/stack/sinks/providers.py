"""eSMS's and Zalo ZNS's send calls as their documentation describes them, on this side of the wire: what
each provider checks in a request and answers (the local run's sinks and the notifications tests'
provider servers answer with these), and the callbacks each provider makes afterwards.

- eSMS's ``SendMultipleMessage_V4_post_json`` (channels/sms.py cites the pages): the ApiKey/SecretKey
  (101), the phone (108), a RequestId seen before (124, as eSMS does for 24 hours), else 100 with an
  SMSID. Its delivery report is a GET of the message's CallbackUrl with the report appended
  (receipts/esms.py).
- Zalo ZNS ``/message/template`` (channels/zalo.py): the ``access_token`` header (-124), the phone
  (-108) and the template id (-109), else ``error`` 0 with ``data.msg_id``. Its delivery event is a
  signed ``user_received_message`` POSTed to the Official Account's webhook (receipts/zalo.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ESMS_SEND_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
ZALO_SEND_PATH = "/message/template"
PHONE = re.compile(r"84\d{9}")
ESMS_ACCEPTED = "100"
ESMS_DELIVERED = "5"
"""eSMS's SendStatus of a message sent successfully."""


@dataclass(frozen=True)
class EsmsAccount:
    api_key: str
    secret_key: str


@dataclass
class EsmsRequestIds:
    """The RequestIds eSMS has seen: a second request with one of them is a duplicate."""

    seen: set[str] = field(default_factory=set)


def esms_answer(body: Any, account: EsmsAccount, request_ids: EsmsRequestIds) -> dict[str, Any]:
    """eSMS's answer to a send request's JSON body."""
    if not isinstance(body, dict):
        return {"CodeResult": "99", "ErrorMessage": "Unknown error"}
    if body.get("ApiKey") != account.api_key or body.get("SecretKey") != account.secret_key:
        return {"CodeResult": "101", "ErrorMessage": "Authorize Failed"}
    if not PHONE.fullmatch(str(body.get("Phone"))):
        return {"CodeResult": "108", "ErrorMessage": "Phone number invalid"}
    request_id = body.get("RequestId")
    if request_id in request_ids.seen:
        return {"CodeResult": "124", "ErrorMessage": "Duplicate RequestId"}
    if request_id:
        request_ids.seen.add(str(request_id))
    return {"CodeResult": ESMS_ACCEPTED, "CountRegenerate": 0, "SMSID": uuid.uuid4().hex}


def esms_report(
    callback_url: str, *, sms_id: str, request_id: str, status: str, phone: str, failed: int = 0
) -> str:
    """The URL eSMS calls (GET) with a report: the message's CallbackUrl with the report appended."""
    parts = urlsplit(callback_url)
    report = {
        "SMSID": sms_id,
        "RequestId": request_id,
        "SendStatus": status,
        "SendSuccess": "0" if failed else "1",
        "SendFailed": str(failed),
        "TotalSent": "1",
        "TotalReceiver": "1",
        "Totalprice": "800",
        "TypeId": "2",
        "telcoid": "1",
        "phonenumber": phone,
    }
    query = urlencode([*parse_qsl(parts.query), *report.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


@dataclass(frozen=True)
class ZaloAccount:
    access_token: str
    template_ids: Collection[str]
    """Zalo's ids of the templates registered and approved for the Official Account."""


def zalo_answer(
    body: Any, headers: Mapping[str, str], account: ZaloAccount, msg_id: str | None = None
) -> dict[str, Any]:
    """Zalo's answer (always HTTP 200) to a ZNS send request: its headers and JSON body. ``msg_id``: the id
    to give the message (chosen when the request arrived); a new one if none."""
    if headers.get("access_token") != account.access_token:
        return {"error": -124, "message": "Access token invalid"}
    if not isinstance(body, dict) or not PHONE.fullmatch(str(body.get("phone"))):
        return {"error": -108, "message": "Phone number invalid"}
    if body.get("template_id") not in account.template_ids:
        return {"error": -109, "message": "Template ID invalid"}
    data = {
        "msg_id": msg_id or uuid.uuid4().hex[:20],
        "sent_time": str(int(time.time() * 1000)),
        "quota": {"dailyQuota": "500", "remainingQuota": "499"},
    }
    return {"error": 0, "message": "Success", "data": data}


def zalo_webhook(
    app_id: str,
    oa_secret_key: str,
    *,
    msg_id: str,
    tracking_id: str,
    event_name: str = "user_received_message",
) -> tuple[bytes, dict[str, str]]:
    """A ZNS delivery event as Zalo POSTs it to the webhook: the raw body and its headers, signed."""
    timestamp = str(int(time.time() * 1000))
    event = {
        "app_id": app_id,
        "event_name": event_name,
        "timestamp": timestamp,
        "sender": {"id": "579745863508352884"},
        "recipient": {"id": "5486218451456165"},
        "message": {"msg_id": msg_id, "tracking_id": tracking_id, "delivery_time": timestamp},
        "user_id_by_app": "552177279717587730",
    }
    raw = json.dumps(event).encode()
    mac = hashlib.sha256(app_id.encode() + raw + timestamp.encode() + oa_secret_key.encode()).hexdigest()
    return raw, {"content-type": "application/json", "X-ZEvent-Signature": f"mac={mac}"}
