"""Zalo ZNS (Zalo Notification Service) through the Official Account's ZNS API.

Documented by Zalo for Developers ("Gửi ZNS", developers.zalo.me/docs/zalo-notification-service) and its
error table at https://zalo.cloud/zns/guidelines/handle-error-code:

- ``POST {base}/message/template`` (base ``https://business.openapi.zalo.me``), header
  ``access_token`` (the Official Account's token), JSON body ``phone`` (``84…``), ``template_id`` (a
  template registered and approved at Zalo), ``template_data`` (its parameters) and ``tracking_id``
  (the partner's reference, echoed by the delivery webhook; see receipts/zalo.py).
- The answer, HTTP 200 whatever happened: ``{"error": 0, "message": "Success", "data": {"msg_id": …,
  "sent_time": …, "quota": …}}``, or a negative ``error`` with its ``message``.

ZNS sends a registered template, not our text: ``Message.template`` (e.g. ``accepted.zalo``) is looked up
in ``ZaloConfig.templates`` for Zalo's template id, and ``Message.parameters`` go as ``template_data``. A
template with no registered id is a permanent failure, decided without calling Zalo.

Where the docs are silent we assumed: Zalo documents no duplicate check of ``tracking_id``, so there is no
DUPLICATE answer to map, and a request that may have reached Zalo (a read timeout, a 500, an unreadable
answer) is NOT resent inside the call: it is a temporary failure the service may retry later, knowing a
second message is then possible. Resent inside the call: a connection refused, 502/503/504 and 429 (the
gateway's, before Zalo's application) and -100, whose documented advice is "try again later". The codes
from -112 on are as the error table lists them (its text beside each); an undocumented code is a
temporary failure, not retried in the call, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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

SEND_PATH = "/message/template"
TRACKING_ID_MAX = REFERENCE_LENGTH[Channel.ZALO]
UNKNOWN_ERROR = -100

_P, _T = SendOutcome.PERMANENT_FAILURE, SendOutcome.TEMPORARY_FAILURE
CODES: dict[int, tuple[SendOutcome, str]] = {
    0: (SendOutcome.SENT, "Success"),
    UNKNOWN_ERROR: (_T, "Unknown error"),
    -101: (_P, "Application invalid"),
    -102: (_P, "Application not existed"),
    -103: (_P, "Application not activated"),
    -104: (_P, "App secret key invalid"),
    -105: (_P, "Application not link to any OA"),
    -106: (_P, "Method unsupported"),
    -107: (_P, "Message ID invalid"),
    -108: (_P, "Phone number invalid"),
    -109: (_P, "Template ID invalid"),
    -110: (_P, "Zalo version unsupported"),
    -111: (_P, "Template data empty"),
    -112: (_P, "Template data invalid"),
    -114: (_P, "User is inactive, rejects the message or uses an outdated Zalo"),
    # The balance is topped up by the operator; the same request then goes through.
    -115: (_T, "Out of quota"),
    -117: (_P, "OA or app has no permission for this template"),
    -118: (_P, "Zalo account not existed"),
    -119: (_P, "Account can not receive ZNS"),
    # Access tokens expire and are refreshed by the OA's token job: the same request goes through after.
    -124: (_T, "Access token invalid"),
    -131: (_P, "Template not approved"),
    -133: (_T, "This ZNS may not be sent at night"),
    -137: (_T, "ZNS payment failed"),
    -139: (_P, "User refused this type of ZNS"),
    -141: (_P, "User refused ZNS from this OA"),
    -144: (_T, "OA exceeded its daily quota"),
    -147: (_T, "Template exceeded its daily quota"),
}
GATEWAY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class ZaloConfig:
    base_url: str
    access_token: str
    templates: Mapping[str, str]
    """Our template id (``accepted.zalo``) → Zalo's registered ZNS template id."""
    timeouts: HttpTimeouts = field(default_factory=HttpTimeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def answer_attempt(answer_status: int, body: object) -> Attempt:
    """One HTTP answer of the ZNS send call, mapped (table-tested)."""
    by_status = http_status_attempt(answer_status, retry_5xx=answer_status in GATEWAY_STATUSES)
    if by_status is not None:
        return by_status
    if not isinstance(body, dict) or not isinstance(body.get("error"), int):
        return temporary("unreadable_answer", "Zalo answered without an error code", retry=False)
    error: int = body["error"]
    known = CODES.get(error)
    if known is None:
        return temporary(str(error), "an error code Zalo's ZNS table does not list", retry=False)
    outcome, detail = known
    msg_id = None
    if outcome is SendOutcome.SENT:
        data = body.get("data")
        msg_id = data.get("msg_id") if isinstance(data, dict) else None
        if not msg_id:
            # Sent, but no id its receipts could name: still sent (the tracking_id names it too).
            detail = "Success without a msg_id"
    result = SendResult(
        outcome, provider_message_id=str(msg_id) if msg_id else None, code=str(error), detail=detail
    )
    return Attempt(result, retry=error == UNKNOWN_ERROR)


class ZaloZnsSender:
    """``ports.Sender`` for Zalo ZNS."""

    channel = Channel.ZALO

    def __init__(self, config: ZaloConfig, client: httpx.AsyncClient) -> None:
        self._config = config
        self._client = client

    async def send(self, message: Message) -> SendResult:
        template_id = self._config.templates.get(message.template)
        if template_id is None:
            return SendResult(
                SendOutcome.PERMANENT_FAILURE,
                code="template_not_registered",
                detail=f"no ZNS template registered for {message.template}",
            )
        try:
            phone = provider_phone(message.to)
        except NotAVietnameseMobileError as exc:
            return SendResult(SendOutcome.PERMANENT_FAILURE, code="invalid_phone", detail=str(exc))
        body = {
            "phone": phone,
            "template_id": template_id,
            "template_data": dict(message.parameters),
            "tracking_id": client_reference(message.idempotency_key, TRACKING_ID_MAX),
        }
        endpoint = self._config.base_url.rstrip("/") + SEND_PATH
        headers = {"access_token": self._config.access_token}

        async def attempt(remaining_s: float) -> Attempt:
            try:
                answer = await post_json(
                    self._client,
                    endpoint,
                    body,
                    headers=headers,
                    timeouts=self._config.timeouts.within(remaining_s),
                )
            except NoAnswerError as failure:
                # Zalo does not deduplicate tracking_id: resend only what surely never reached it.
                return temporary(failure.code, "no answer from Zalo", retry=not failure.reached)
            return answer_attempt(answer.status, answer.body)

        return await with_retries(attempt, self._config.retry)
