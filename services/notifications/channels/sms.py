"""SMS brandname over eSMS.vn (eSMS / ViHAT), a Vietnamese provider with a public HTTP API.

Documented at https://developers.esms.vn/en/esms-api/send-sms-api/send-otp-customer-care-message
(request and answer) and https://developers.esms.vn/en/esms-api/table-of-error-codes (codes):

- ``POST {base}/MainService.svc/json/SendMultipleMessage_V4_post_json/`` with a JSON body of strings:
  ``ApiKey``, ``SecretKey``, ``Phone``, ``Content``, ``Brandname``, ``SmsType`` ("2": customer care,
  what a notice about one's own dossier is), ``IsUnicode`` ("1" when the text is not GSM-7: Vietnamese
  with its diacritics goes as UCS-2), ``Sandbox``, ``RequestId`` (the partner's reference; eSMS refuses
  a second request with the same one for 24 hours: code 124) and ``CallbackUrl`` (where eSMS reports
  the final status; see receipts/esms.py).
- The answer: ``{"CodeResult": "100", "SMSID": "...", "ErrorMessage": ...}``; 100 only means eSMS took
  the request, delivery is reported later.

Where the docs are silent we assumed: the answer to a duplicate ``RequestId`` (124) names no SMSID (the
first send's record holds it, and eSMS's receipts echo the ``RequestId`` anyway); an HTTP status other
than 200 is the gateway's, not eSMS's (5xx and 429 are worth retrying); the ``RequestId`` is at most 50
characters, as the POST TEXT variant documents; eSMS appends its receipt parameters to a
``CallbackUrl`` that already has a query string.

Retries inside one call: a connection refused, a timeout, a 5xx or a 429 is tried again (eSMS's
``RequestId`` check makes a resend of a request that did reach it answer 124, i.e. DUPLICATE, not a
second SMS). Every documented code is mapped; an unknown one is a temporary failure, not retried in the
call, and says so in ``detail``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from services.notifications.channels.http_retry import (
    Attempt,
    HttpTimeouts,
    NoAnswerError,
    RetryPolicy,
    http_status_attempt,
    post_json,
    temporary,
    with_retries,
)
from services.notifications.channels.reference import REFERENCE_LENGTH, client_reference
from services.notifications.channels.vn_phone import NotAVietnameseMobileError, provider_phone
from services.notifications.ports import Channel, Message, SendOutcome, SendResult

SEND_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
REQUEST_ID_MAX = REFERENCE_LENGTH[Channel.SMS]
CUSTOMER_CARE = "2"

# eSMS's documented CodeResult values for this call, and what each means for the message.
ACCEPTED = "100"
DUPLICATE_REQUEST_ID = "124"
CODES: dict[str, tuple[SendOutcome, str]] = {
    ACCEPTED: (SendOutcome.SENT, "accepted by eSMS"),
    DUPLICATE_REQUEST_ID: (SendOutcome.DUPLICATE, "eSMS already has this RequestId"),
    "99": (SendOutcome.PERMANENT_FAILURE, "the phone number is blocked at eSMS"),
    "101": (SendOutcome.PERMANENT_FAILURE, "wrong ApiKey or SecretKey"),
    "102": (SendOutcome.PERMANENT_FAILURE, "no price list for this account"),
    # The operator tops the balance up; the same request then goes through.
    "103": (SendOutcome.TEMPORARY_FAILURE, "not enough balance"),
    "104": (SendOutcome.PERMANENT_FAILURE, "the brandname is not registered"),
    "108": (SendOutcome.PERMANENT_FAILURE, "the phone number is not in a valid format"),
    "118": (SendOutcome.PERMANENT_FAILURE, "unsupported message type"),
    "140": (SendOutcome.PERMANENT_FAILURE, "this server's IP is not whitelisted"),
    "146": (SendOutcome.PERMANENT_FAILURE, "the text does not match a registered customer-care template"),
    "177": (SendOutcome.PERMANENT_FAILURE, "the brandname is not registered on the recipient's network"),
}

# GSM 03.38: the basic set and its extension (an extension character takes two septets). A text
# wholly in it goes as GSM-7; anything else (Vietnamese diacritics) as UCS-2.
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def is_gsm7(text: str) -> bool:
    return all(c in GSM7 for c in text)


@dataclass(frozen=True)
class EsmsConfig:
    base_url: str
    api_key: str
    secret_key: str
    brandname: str
    callback_url: str | None = None
    """The public address of ``/receipts/sms``; None sends no CallbackUrl (no receipts)."""
    callback_secret: bytes = b""
    """Signs each message's CallbackUrl (receipts/esms.py checks it)."""
    sandbox: bool = False
    timeouts: HttpTimeouts = field(default_factory=HttpTimeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def callback_signature(secret: bytes, request_id: str) -> str:
    """What the CallbackUrl of the message with this RequestId carries, and what its receipt must."""
    return hmac.new(secret, request_id.encode(), hashlib.sha256).hexdigest()


def callback_url(config: EsmsConfig, request_id: str) -> str | None:
    if config.callback_url is None:
        return None
    separator = "&" if "?" in config.callback_url else "?"
    query = urlencode({"sig": callback_signature(config.callback_secret, request_id)})
    return f"{config.callback_url}{separator}{query}"


def answer_attempt(answer_status: int, body: object) -> Attempt:
    """One HTTP answer of eSMS's send call, mapped (table-tested)."""
    by_status = http_status_attempt(answer_status, retry_5xx=True)
    if by_status is not None:
        return by_status
    if not isinstance(body, dict) or not isinstance(body.get("CodeResult"), str | int):
        return temporary("unreadable_answer", "eSMS answered without a CodeResult", retry=True)
    code = str(body["CodeResult"])
    known = CODES.get(code)
    if known is None:
        return temporary(code, "a CodeResult eSMS does not document for this call", retry=False)
    outcome, detail = known
    sms_id = body.get("SMSID") if outcome is SendOutcome.SENT else None
    return Attempt(
        SendResult(outcome, provider_message_id=str(sms_id) if sms_id else None, code=code, detail=detail)
    )


class EsmsSender:
    """``ports.Sender`` for SMS through eSMS."""

    channel = Channel.SMS

    def __init__(self, config: EsmsConfig, client: httpx.AsyncClient) -> None:
        self._config = config
        self._client = client

    async def send(self, message: Message) -> SendResult:
        try:
            phone = provider_phone(message.to)
        except NotAVietnameseMobileError as exc:
            return SendResult(SendOutcome.PERMANENT_FAILURE, code="invalid_phone", detail=str(exc))
        request_id = client_reference(message.idempotency_key, REQUEST_ID_MAX)
        body = {
            "ApiKey": self._config.api_key,
            "SecretKey": self._config.secret_key,
            "Phone": phone,
            "Content": message.body,
            "Brandname": self._config.brandname,
            "SmsType": CUSTOMER_CARE,
            "IsUnicode": "0" if is_gsm7(message.body) else "1",
            "Sandbox": "1" if self._config.sandbox else "0",
            "RequestId": request_id,
        }
        if (url := callback_url(self._config, request_id)) is not None:
            body["CallbackUrl"] = url
        endpoint = self._config.base_url.rstrip("/") + SEND_PATH

        async def attempt(remaining_s: float) -> Attempt:
            try:
                answer = await post_json(
                    self._client, endpoint, body, timeouts=self._config.timeouts.within(remaining_s)
                )
            except NoAnswerError as failure:
                # eSMS refuses a repeated RequestId, so even a request that reached it is safe to resend.
                return temporary(failure.code, "no answer from eSMS", retry=True)
            return answer_attempt(answer.status, answer.body)

        return await with_retries(attempt, self._config.retry)
