"""The notifications store on SQLite, the local run's database (.work/dossier.db): a SQLite file migrated
by services.shared.db.migrate, shared with the real post office and agency as in the local run, takes a
dossier's messages through the consumer's inbox, the planning, the dispatcher, a delivery receipt (also
one that overtakes its send) and the fallback, each once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from contracts.enums import Stage
from services.notifications.adapters.tables import message, receipt
from services.notifications.ports import Channel, Receipt, ReceiptStatus
from services.notifications.receipts.router import ReceiptApplied
from services.shared.db import migrate
from tests.fixtures.kafka import KafkaBroker
from tests.notifications.core_support import (
    Mailbox,
    Rig,
    accept,
    consumed,
    dispatched_until,
    mailbox,
    new_email,
    running_rig,
    stage,
)
from tests.tracker.support import eventually, publish

__all__ = ["mailbox"]

PHONE = "+84912345678"
"""The phone of the post office's test acceptance (tests/post_office/helpers.py), as the service sends
to it."""


@pytest.fixture(scope="module")
async def sqlite_rig(
    tmp_path_factory: pytest.TempPathFactory, kafka_broker: KafkaBroker, mailbox: tuple[Mailbox, int]
) -> AsyncIterator[Rig]:
    path: Path = tmp_path_factory.mktemp("sqlite-store") / "dossier.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate.upgrade_async(url)
    async with running_rig(url, kafka_broker, mailbox) as rig:
        assert rig.engine.dialect.name == "sqlite"
        yield rig


async def _accepted_and_announced(rig: Rig, notify_by: list[str], email: str | None = None) -> str:
    accepted = await accept(rig, notify_by=notify_by, email=email)
    announced = stage(accepted.dossier_id, accepted, Stage.ACCEPTED)
    await publish(rig.admin, [announced])
    await consumed(rig, [announced])
    return accepted.dossier_id


async def test_an_email_is_sent_once_even_when_its_events_come_again(sqlite_rig: Rig) -> None:
    rig = sqlite_rig
    address = new_email()
    accepted = await accept(rig, notify_by=["EMAIL"], email=address)
    announced = stage(accepted.dossier_id, accepted, Stage.ACCEPTED)
    await publish(rig.admin, [announced])
    await consumed(rig, [announced])

    await dispatched_until(rig, address, 1)
    await publish(rig.admin, [announced])  # delivered twice: the inbox and the message key hold
    await rig.dispatch()

    assert len(rig.mailbox.to(address)) == 1
    [sent] = await rig.messages(accepted.dossier_id)
    assert (sent.channel, sent.kind, sent.status) == ("email", "accepted", "sent")
    assert sent.created_at.utcoffset() == timedelta(0)  # read back aware, in UTC (UtcDateTime)


async def test_an_sms_is_sent_on_the_first_consented_channel_and_its_receipt_applied_once(
    sqlite_rig: Rig,
) -> None:
    rig = sqlite_rig
    dossier_id = await _accepted_and_announced(rig, ["EMAIL", "SMS"], new_email())

    async def sent() -> list[Any] | None:
        await rig.dispatch()
        rows = await rig.messages(dossier_id)
        return rows if rows and rows[0].status == "sent" else None

    [sms] = await eventually(sent, within=60, what="the SMS")
    assert sms.channel == "sms" and sms.provider_message_id
    report = Receipt(Channel.SMS, sms.provider_message_id, ReceiptStatus.DELIVERED, code="SendStatus=5")

    assert await rig.notifications.deliveries.apply(report) is ReceiptApplied.APPLIED
    assert await rig.notifications.deliveries.apply(report) is ReceiptApplied.DUPLICATE
    [delivered] = await rig.messages(dossier_id)
    assert (delivered.delivery, delivered.delivery_code) == ("delivered", "SendStatus=5")


async def test_a_receipt_that_overtakes_its_send_is_kept_and_applied_by_the_next_pass(
    sqlite_rig: Rig,
) -> None:
    rig = sqlite_rig
    ahead = Receipt(Channel.SMS, "sms-not-yet-recorded", ReceiptStatus.DELIVERED, code="SendStatus=5")

    assert await rig.notifications.deliveries.apply(ahead) is ReceiptApplied.STORED_AHEAD
    async with rig.engine.connect() as conn:
        kept = await conn.scalar(
            select(func.count())
            .select_from(receipt)
            .where(receipt.c.provider_message_id == ahead.provider_message_id)
        )
    assert kept == 1
    await rig.dispatch()  # the sweep finds no send for it yet: still kept, nothing fails


async def test_a_permanent_sms_failure_falls_back_once_to_email(sqlite_rig: Rig) -> None:
    rig = sqlite_rig
    address = new_email()
    rig.sms.refusing.add(PHONE)
    try:
        dossier_id = await _accepted_and_announced(rig, ["SMS", "EMAIL"], address)
        await dispatched_until(rig, address, 1)
    finally:
        rig.sms.refusing.discard(PHONE)
    await rig.dispatch()

    rows = await rig.messages(dossier_id)
    assert [(r.channel, r.status, r.fallback_from) for r in rows] == [
        ("sms", "failed", None),
        ("email", "sent", "sms"),
    ]
    assert len(rig.mailbox.to(address)) == 1
    async with rig.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(message).where(message.c.dossier_id == dossier_id)
        )
    assert count == 2
