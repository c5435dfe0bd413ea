"""The receipt endpoints over real HTTP: eSMS's reports and Zalo's webhook, as each provider sends them.

``apply`` is the service's (the core's store): here a small stand-in that keeps the documented contract
(idempotent, store-ahead for unknown ids) and records what the router handed it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from services.notifications.channels.http_retry import RetryPolicy
from services.notifications.channels.sms import EsmsConfig, EsmsSender, callback_signature, callback_url
from services.notifications.ports import Channel, Message, Receipt, ReceiptStatus, SendOutcome
from services.notifications.receipts.router import ReceiptApplied, ReceiptSecrets, receipts_router
from tests.notifications.provider_servers import (
    ESMS_API_KEY,
    ESMS_SECRET_KEY,
    esms_callback,
    provider,
    serving,
    zalo_webhook,
)

SECRETS = ReceiptSecrets(
    esms_callback_secret=b"esms-callback-secret",
    zalo_app_id="1234567890123456789",
    zalo_oa_secret_key="oa-secret",
)
PUBLIC = "https://notify.example.vn/receipts/sms"
ESMS = EsmsConfig(
    base_url="unused",
    api_key=ESMS_API_KEY,
    secret_key=ESMS_SECRET_KEY,
    brandname="BUUDIEN",
    callback_url=PUBLIC,
    callback_secret=SECRETS.esms_callback_secret,
)


@dataclass
class Applied:
    """The service's side of the contract, reduced to what the router relies on."""

    sent: set[str] = field(default_factory=set)
    """Provider message ids whose send is recorded."""
    received: list[Receipt] = field(default_factory=list)
    known: set[Receipt] = field(default_factory=set)

    async def __call__(self, receipt: Receipt) -> ReceiptApplied:
        self.received.append(receipt)
        if receipt in self.known:
            return ReceiptApplied.DUPLICATE
        self.known.add(receipt)
        if receipt.provider_message_id not in self.sent:
            return ReceiptApplied.STORED_AHEAD
        return ReceiptApplied.APPLIED


@pytest.fixture
def applied() -> Applied:
    return Applied()


@pytest.fixture
def receipts_port(applied: Applied) -> Iterator[int]:
    app = FastAPI()
    app.include_router(receipts_router(applied, SECRETS))
    with serving(app) as port:
        yield port


@pytest.fixture
async def http(receipts_port: int) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{receipts_port}") as client:
        yield client


def report(request_id: str, sms_id: str, status: str, failed: int = 0) -> str:
    signed = callback_url(ESMS, request_id)
    assert signed is not None
    return esms_callback(signed, sms_id=sms_id, request_id=request_id, status=status, failed=failed)


def ids() -> tuple[str, str]:
    return f"sms-{uuid.uuid4()}", uuid.uuid4().hex


# --------------------------------------------------------------------------- eSMS


async def test_an_esms_delivery_report_is_applied_as_delivered(
    http: httpx.AsyncClient, applied: Applied
) -> None:
    request_id, sms_id = ids()
    applied.sent.add(sms_id)
    answer = await http.get(report(request_id, sms_id, "5"))

    assert answer.status_code == 200
    assert answer.json() == {"receipt": "applied"}
    assert applied.received == [
        Receipt(
            Channel.SMS, sms_id, ReceiptStatus.DELIVERED, code="SendStatus=5", client_reference=request_id
        )
    ]


@pytest.mark.parametrize(("status", "failed"), [("4", 0), ("5", 1)])
async def test_a_rejected_or_failed_esms_report_is_a_permanent_failure(
    http: httpx.AsyncClient, applied: Applied, status: str, failed: int
) -> None:
    request_id, sms_id = ids()
    answer = await http.get(report(request_id, sms_id, status, failed))
    assert answer.status_code == 200
    [receipt] = applied.received
    assert (receipt.status, receipt.code) == (ReceiptStatus.PERMANENT_FAILURE, f"SendStatus={status}")


@pytest.mark.parametrize("status", ["1", "2", "7"])
async def test_an_interim_esms_status_is_acknowledged_and_not_applied(
    http: httpx.AsyncClient, applied: Applied, status: str
) -> None:
    request_id, sms_id = ids()
    answer = await http.get(report(request_id, sms_id, status))
    assert answer.status_code == 200
    assert answer.json() == {"receipt": "ignored", "reason": "interim_status"}
    assert applied.received == []


async def test_an_esms_report_may_be_posted_as_json_too(http: httpx.AsyncClient, applied: Applied) -> None:
    request_id, sms_id = ids()
    signed = callback_url(ESMS, request_id)
    assert signed is not None
    answer = await http.post(
        "/receipts/sms?" + signed.split("?", 1)[1],
        json={
            "SMSID": sms_id,
            "RequestId": request_id,
            "SendStatus": "5",
            "SendSuccess": "1",
            "SendFailed": "0",
        },
    )
    assert answer.status_code == 200
    assert applied.received[0].status is ReceiptStatus.DELIVERED


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("sig=", "sig=0"),
        lambda url: (
            url.split("?", 1)[0]
            + "?"
            + "&".join(p for p in url.split("?", 1)[1].split("&") if "sig=" not in p)
        ),
        lambda url: url.replace("RequestId=", "RequestId=other-"),
    ],
    ids=["wrong_sig", "no_sig", "sig_of_another_message"],
)
async def test_an_esms_report_without_its_messages_signature_is_refused_and_never_applied(
    http: httpx.AsyncClient, applied: Applied, tamper: object
) -> None:
    request_id, sms_id = ids()
    answer = await http.get(tamper(report(request_id, sms_id, "5")))  # type: ignore[operator]
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["reason"] == "receipt_unauthenticated"
    assert applied.received == []


async def test_an_authentic_esms_report_without_an_smsid_is_a_422(
    http: httpx.AsyncClient, applied: Applied
) -> None:
    request_id, _ = ids()
    answer = await http.get(report(request_id, "", "5"))
    assert answer.status_code == 422
    assert answer.json()["reason"] == "invalid_receipt"
    assert applied.received == []


async def test_a_duplicated_esms_report_is_harmless(http: httpx.AsyncClient, applied: Applied) -> None:
    request_id, sms_id = ids()
    applied.sent.add(sms_id)
    first = await http.get(report(request_id, sms_id, "5"))
    second = await http.get(report(request_id, sms_id, "5"))
    assert (first.status_code, second.status_code) == (200, 200)
    assert [first.json(), second.json()] == [{"receipt": "applied"}, {"receipt": "duplicate"}]
    assert applied.received[0] == applied.received[1]


async def test_a_report_for_a_message_not_recorded_yet_is_stored_ahead_not_refused(
    http: httpx.AsyncClient, applied: Applied
) -> None:
    request_id, sms_id = ids()
    answer = await http.get(report(request_id, sms_id, "5"))
    assert answer.status_code == 200
    assert answer.json() == {"receipt": "stored_ahead"}
    assert applied.received[0].client_reference == request_id


async def test_reports_out_of_order_apply_only_the_final_one(
    http: httpx.AsyncClient, applied: Applied
) -> None:
    request_id, sms_id = ids()
    applied.sent.add(sms_id)
    final = await http.get(report(request_id, sms_id, "5"))
    late_interim = await http.get(report(request_id, sms_id, "7"))
    assert final.json() == {"receipt": "applied"}
    assert late_interim.json()["receipt"] == "ignored"
    assert [r.status for r in applied.received] == [ReceiptStatus.DELIVERED]


async def test_a_message_sent_through_esms_is_matched_by_its_report(
    http: httpx.AsyncClient, applied: Applied
) -> None:
    """The whole loop: the adapter's signed CallbackUrl, as eSMS calls it back, authenticates."""
    with provider("esms") as esms:
        async with httpx.AsyncClient() as client:
            config = EsmsConfig(**{**ESMS.__dict__, "base_url": esms.url, "retry": RetryPolicy(attempts=1)})
            key = f"sms-{uuid.uuid4()}"
            sent = await EsmsSender(config, client).send(
                Message(
                    idempotency_key=key, channel=Channel.SMS, to="+84912345678", template="t.sms", body="x"
                )
            )
        [body] = esms.bodies()
    assert sent.outcome is SendOutcome.SENT and sent.provider_message_id
    applied.sent.add(sent.provider_message_id)
    answer = await http.get(
        esms_callback(body["CallbackUrl"], sms_id=sent.provider_message_id, request_id=key, status="5")
    )
    assert answer.json() == {"receipt": "applied"}
    assert applied.received[0].provider_message_id == sent.provider_message_id


# --------------------------------------------------------------------------- Zalo


async def test_a_zalo_delivery_event_is_applied_as_delivered(
    http: httpx.AsyncClient, applied: Applied
) -> None:
    msg_id, tracking_id = uuid.uuid4().hex[:20], f"zalo-{uuid.uuid4()}"
    applied.sent.add(msg_id)
    raw, headers = zalo_webhook(
        SECRETS.zalo_app_id, SECRETS.zalo_oa_secret_key, msg_id=msg_id, tracking_id=tracking_id
    )
    answer = await http.post("/receipts/zalo", content=raw, headers=headers)

    assert answer.status_code == 200
    assert answer.json() == {"receipt": "applied"}
    [receipt] = applied.received
    assert (receipt.channel, receipt.provider_message_id, receipt.status) == (
        Channel.ZALO,
        msg_id,
        ReceiptStatus.DELIVERED,
    )
    assert receipt.client_reference == tracking_id
    assert receipt.reported_at_ms is not None and receipt.reported_at_ms > 0


@pytest.mark.parametrize(
    "forge",
    ["wrong_secret", "another_app", "tampered_body", "no_header", "bare_hex_of_wrong_mac", "not_json"],
)
async def test_a_zalo_event_that_does_not_verify_is_refused_and_never_applied(
    http: httpx.AsyncClient, applied: Applied, forge: str
) -> None:
    app_id, secret = SECRETS.zalo_app_id, SECRETS.zalo_oa_secret_key
    if forge == "wrong_secret":
        secret = "guessed"
    if forge == "another_app":
        app_id = "999"
    raw, headers = zalo_webhook(app_id, secret, msg_id="m1", tracking_id="t1")
    if forge == "tampered_body":
        raw = raw.replace(b'"m1"', b'"m2"')
    if forge == "no_header":
        del headers["X-ZEvent-Signature"]
    if forge == "bare_hex_of_wrong_mac":
        headers["X-ZEvent-Signature"] = "0" * 64
    if forge == "not_json":
        raw = b"not json"
    answer = await http.post("/receipts/zalo", content=raw, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["reason"] == "receipt_unauthenticated"
    assert applied.received == []


async def test_a_zalo_signature_without_its_mac_prefix_is_accepted(
    http: httpx.AsyncClient, applied: Applied
) -> None:
    raw, headers = zalo_webhook(
        SECRETS.zalo_app_id, SECRETS.zalo_oa_secret_key, msg_id="m3", tracking_id="t3"
    )
    headers["X-ZEvent-Signature"] = headers["X-ZEvent-Signature"].removeprefix("mac=").upper()
    answer = await http.post("/receipts/zalo", content=raw, headers=headers)
    assert answer.status_code == 200


async def test_a_zalo_event_that_is_not_a_delivery_is_acknowledged_and_not_applied(
    http: httpx.AsyncClient, applied: Applied
) -> None:
    raw, headers = zalo_webhook(
        SECRETS.zalo_app_id, SECRETS.zalo_oa_secret_key, msg_id="m4", tracking_id="t4", event_name="follow"
    )
    answer = await http.post("/receipts/zalo", content=raw, headers=headers)
    assert answer.status_code == 200
    assert answer.json() == {"receipt": "ignored", "reason": "not_a_receipt"}
    assert applied.received == []


async def test_a_duplicated_zalo_event_for_an_unknown_message_is_stored_ahead_once(
    http: httpx.AsyncClient, applied: Applied
) -> None:
    msg_id = uuid.uuid4().hex[:20]
    raw, headers = zalo_webhook(
        SECRETS.zalo_app_id, SECRETS.zalo_oa_secret_key, msg_id=msg_id, tracking_id="t5"
    )
    first = await http.post("/receipts/zalo", content=raw, headers=headers)
    second = await http.post("/receipts/zalo", content=raw, headers=headers)
    assert [first.json(), second.json()] == [{"receipt": "stored_ahead"}, {"receipt": "duplicate"}]


async def test_a_provider_without_a_configured_secret_has_no_receipt_endpoint() -> None:
    """An empty secret would let anyone sign a receipt: no secret, no endpoint."""
    app = FastAPI()
    app.include_router(receipts_router(Applied(), ReceiptSecrets(b"", "", "")))
    raw, headers = zalo_webhook("", "", msg_id="x", tracking_id="y")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n.test") as client:
        sms = await client.get("/receipts/sms?RequestId=r&sig=" + callback_signature(b"", "r"))
        zns = await client.post("/receipts/zalo", content=raw, headers=headers)
    assert (sms.status_code, zns.status_code) == (404, 404)
