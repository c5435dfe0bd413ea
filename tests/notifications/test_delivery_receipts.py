"""Delivery receipts and the one fallback, through the whole service: the real eSMS and Zalo adapters
against local servers speaking the providers' formats, the receipt endpoints of the service's own app,
its store on PostgreSQL, the post office's contact API and a real SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from contracts.enums import Stage
from services.notifications.ports import Channel
from tests.fixtures.kafka import KafkaBroker
from tests.notifications.core_support import (
    Accepted,
    Mailbox,
    Rig,
    accept,
    consumed,
    dispatched_until,
    mailbox,
    new_email,
    postgres_rig,
    stage,
)
from tests.notifications.provider_servers import (
    ESMS_API_KEY,
    ESMS_SECRET_KEY,
    HANG,
    ZALO_ACCESS_TOKEN,
    ZALO_TEMPLATES,
    Code,
    ProviderServer,
    esms_callback,
    provider,
    zalo_webhook,
)
from tests.tracker.support import eventually, publish

__all__ = ["mailbox"]

ZALO_APP_ID = "4321098765432109876"
ZALO_OA_SECRET = "oa-secret-of-the-tests"


@pytest.fixture(scope="module")
def esms() -> Iterator[ProviderServer]:
    with provider("esms") as server:
        yield server


@pytest.fixture(scope="module")
def zalo() -> Iterator[ProviderServer]:
    with provider("zalo") as server:
        yield server


@pytest.fixture(scope="module")
async def rig(
    postgres_url: str,
    kafka_broker: KafkaBroker,
    mailbox: tuple[Mailbox, int],
    esms: ProviderServer,
    zalo: ProviderServer,
) -> AsyncIterator[Rig]:
    providers = {
        "public_url": "http://notifications.test",
        "esms_base_url": esms.url,
        "esms_api_key": ESMS_API_KEY,
        "esms_secret_key": ESMS_SECRET_KEY,
        "esms_brandname": "BUUDIEN",
        "esms_callback_secret": "esms-callback-secret-of-the-tests",
        "zalo_base_url": zalo.url,
        "zalo_access_token": ZALO_ACCESS_TOKEN,
        "zalo_templates": ZALO_TEMPLATES,
        "zalo_app_id": ZALO_APP_ID,
        "zalo_oa_secret_key": ZALO_OA_SECRET,
    }
    async with postgres_rig(
        postgres_url, kafka_broker, mailbox, settings_extra=providers, providers=True
    ) as running:
        yield running


@pytest.fixture
async def service(rig: Rig) -> AsyncIterator[httpx.AsyncClient]:
    """The service's own HTTP app: where the providers post their receipts."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=rig.app), base_url="http://notifications.test"
    ) as client:
        yield client


async def announced(rig: Rig, notify_by: list[str], email: str | None = None) -> Accepted:
    accepted = await accept(rig, notify_by=notify_by, email=email)
    events = [stage(accepted.dossier_id, accepted, Stage.ACCEPTED)]
    await publish(rig.admin, events)
    await consumed(rig, events)
    return accepted


async def outcome_on(rig: Rig, dossier_id: str, channel: Channel) -> Any:
    """Dispatch until the dossier's message on ``channel`` has left the queue; that message."""
    found: list[Any] = []

    async def settled() -> bool:
        await rig.dispatch()
        found[:] = [m for m in await rig.messages(dossier_id) if m.channel == channel.value]
        return bool(found) and found[0].status not in ("pending", "sending")

    await eventually(settled, within=60, what=f"the {channel.value} message to be sent or to fail", every=0.2)
    return found[0]


def callback_of(esms: ProviderServer, row: Any) -> str:
    """The signed CallbackUrl the adapter sent eSMS with this message."""
    [body] = [b for b in esms.bodies() if b.get("RequestId") == row.client_reference]
    url: str = body["CallbackUrl"]
    return url


def esms_report(callback: str, sms: Any, status: str, failed: int = 0) -> str:
    """eSMS's report on the message ``sms`` (its row), as eSMS calls the CallbackUrl."""
    return esms_callback(
        callback,
        sms_id=sms.provider_message_id,
        request_id=sms.client_reference,
        status=status,
        failed=failed,
    )


async def receipts_counted(service: httpx.AsyncClient, channel: str, status: str) -> float:
    metrics = (await service.get("/metrics")).text
    prefix = f'notifications_receipts_total{{channel="{channel}",status="{status}"}} '
    return sum(float(line.removeprefix(prefix)) for line in metrics.splitlines() if line.startswith(prefix))


async def test_an_sms_reported_delivered_stays_delivered_whatever_comes_after_and_however_often(
    rig: Rig, esms: ProviderServer, service: httpx.AsyncClient
) -> None:
    accepted = await announced(rig, ["SMS"])
    sms = await outcome_on(rig, accepted.dossier_id, Channel.SMS)
    assert (sms.status, sms.delivery) == ("sent", None)
    callback = callback_of(esms, sms)
    before = await receipts_counted(service, "sms", "delivered")

    def report(status: str, failed: int = 0) -> str:
        return esms_report(callback, sms, status, failed)

    interim = await service.get(report("7"))
    delivered = await service.get(report("5"))
    again = await service.get(report("5"))
    rejected_later = await service.get(report("4"))

    assert interim.json() == {"receipt": "ignored", "reason": "interim_status"}
    assert [delivered.json(), again.json(), rejected_later.json()] == [
        {"receipt": "applied"},
        {"receipt": "duplicate"},
        {"receipt": "duplicate"},
    ]
    [row] = await rig.messages(accepted.dossier_id)
    assert (row.delivery, row.delivery_code) == ("delivered", "SendStatus=5")
    assert await receipts_counted(service, "sms", "delivered") == before + 1


async def test_a_permanent_failure_reported_later_falls_back_once_to_the_next_consented_channel(
    rig: Rig, esms: ProviderServer, service: httpx.AsyncClient
) -> None:
    address = new_email()
    accepted = await announced(rig, ["EMAIL", "SMS"], address)
    sms = await outcome_on(rig, accepted.dossier_id, Channel.SMS)
    assert sms.status == "sent" and not rig.mailbox.to(address), "SMS first; the e-mail waits for a failure"
    callback = callback_of(esms, sms)

    def report(status: str, failed: int = 0) -> str:
        return esms_report(callback, sms, status, failed)

    assert (await service.get(report("4"))).json() == {"receipt": "applied"}
    # A second, different permanent failure of the same SMS: the one fallback is already planned.
    assert (await service.get(report("5", failed=1))).json() == {"receipt": "duplicate"}
    await dispatched_until(rig, address, 1)
    await rig.dispatch()

    [mail] = rig.mailbox.to(address)
    assert accepted.item_id in mail.get_content()
    rows = {
        (m.channel, m.status, m.delivery, m.fallback_from) for m in await rig.messages(accepted.dossier_id)
    }
    assert rows == {("sms", "sent", "permanent_failure", None), ("email", "sent", None, "sms")}


async def test_a_fallback_that_fails_too_falls_back_no_further(
    rig: Rig, esms: ProviderServer, zalo: ProviderServer
) -> None:
    address = new_email()
    accepted = await announced(rig, ["SMS", "ZALO", "EMAIL"], address)
    esms.answer_next(Code("177"))  # the brandname is not registered on the recipient's network
    zalo.answer_next(Code(-118))  # the phone has no Zalo account
    zns = await outcome_on(rig, accepted.dossier_id, Channel.ZALO)
    await rig.dispatch()

    rows = {
        (m.channel, m.status, m.provider_code, m.fallback_from)
        for m in await rig.messages(accepted.dossier_id)
    }
    assert rows == {("sms", "failed", "177", None), ("zalo", "failed", "-118", "sms")}
    assert zns.fallback_from == "sms" and not rig.mailbox.to(address)


async def test_a_receipt_that_overtakes_the_record_of_its_send_is_kept_and_applied_once_it_is_recorded(
    rig: Rig, zalo: ProviderServer, service: httpx.AsyncClient
) -> None:
    accepted = await announced(rig, ["ZALO"])
    issued = len(zalo.issued)
    zalo.answer_next(HANG)  # Zalo holds its answer: the webhook comes first, as it may in production
    sending = asyncio.create_task(rig.dispatch())

    async def zalo_took_it() -> bool:
        return len(zalo.issued) > issued

    await eventually(zalo_took_it, within=30, what="Zalo to take the message")
    msg_id = zalo.issued[issued]
    # Zalo's event may name only its msg_id: nothing we recorded yet.
    raw, headers = zalo_webhook(ZALO_APP_ID, ZALO_OA_SECRET, msg_id=msg_id, tracking_id="")
    early = await service.post("/receipts/zalo", content=raw, headers=headers)
    resent = await service.post("/receipts/zalo", content=raw, headers=headers)
    zalo.release.set()
    await sending

    assert [early.json(), resent.json()] == [{"receipt": "stored_ahead"}, {"receipt": "duplicate"}]
    [row] = await rig.messages(accepted.dossier_id)
    assert (row.status, row.provider_message_id, row.delivery) == ("sent", msg_id, None)
    await rig.dispatch()  # the next pass applies what was kept ahead
    [row] = await rig.messages(accepted.dossier_id)
    assert row.delivery == "delivered"


async def test_a_receipt_for_a_message_nobody_sent_is_kept_answered_and_changes_nothing(
    rig: Rig, service: httpx.AsyncClient
) -> None:
    raw, headers = zalo_webhook(
        ZALO_APP_ID, ZALO_OA_SECRET, msg_id="not-one-of-ours", tracking_id="h-unknown"
    )
    first = await service.post("/receipts/zalo", content=raw, headers=headers)
    await rig.dispatch()
    again = await service.post("/receipts/zalo", content=raw, headers=headers)

    assert (first.status_code, first.json()) == (200, {"receipt": "stored_ahead"})
    assert again.json() == {"receipt": "duplicate"}


async def test_a_forged_receipt_is_refused_and_changes_nothing(rig: Rig, service: httpx.AsyncClient) -> None:
    raw, headers = zalo_webhook(ZALO_APP_ID, "not-the-secret", msg_id="x", tracking_id="")
    forged = await service.post("/receipts/zalo", content=raw, headers=headers)
    assert forged.status_code == 401 and forged.json()["reason"] == "receipt_unauthenticated"
