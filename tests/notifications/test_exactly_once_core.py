"""Exactly once per (dossier, message, channel) across replicas and crashes: two dispatchers racing over
the same store send each e-mail once; an attempt that died after the SMTP server took the message (the
process killed before it stored the outcome) is retried once its lease runs out, with the same Message-ID,
and stored as sent."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from contracts.enums import Stage
from services.notifications.channels.email import SmtpConfig, SmtpSender
from services.notifications.contacts import ContactStore, OwnerContacts
from services.notifications.handlers import Dispatcher
from services.notifications.metrics import NotificationMetrics
from services.notifications.ports import Channel, Message, Sender, SendResult
from services.notifications.templates import load_templates
from tests.notifications.core_support import (
    VN,
    Rig,
    accept,
    consumed,
    mailbox,
    new_email,
    rig,
    stage,
)
from tests.tracker.support import eventually, publish

__all__ = ["mailbox", "rig"]

LEASE_S = 120.0


def replica(rig: Rig, senders: Mapping[Channel, Sender] | None = None) -> Dispatcher:
    """Another replica's dispatcher on the same database, post office and SMTP server."""
    settings = rig.settings
    return Dispatcher(
        rig.engine,
        book=load_templates(),
        senders=senders or {Channel.EMAIL: smtp(rig)},
        contacts=ContactStore(
            rig.engine,
            OwnerContacts(
                rig.post_office,
                post_office_url=settings.post_office_url,
                agency_url=settings.agency_url,
                token=settings.contact_token.get_secret_value(),
            ),
            settings.keyring(),
            timedelta(hours=settings.contact_retention_h),
        ),
        desk_emails={},
        metrics=NotificationMetrics(CollectorRegistry()),
        now=rig.clock,
        lease_s=LEASE_S,
    )


def smtp(rig: Rig) -> SmtpSender:
    return SmtpSender(SmtpConfig(rig.settings.smtp_host, rig.settings.smtp_port, rig.settings.smtp_sender))


async def announced(rig: Rig, count: int) -> list[tuple[str, str]]:
    """``count`` dossiers accepted with consent to e-mail and announced: (address, dossier id) each."""
    out, events = [], []
    for _ in range(count):
        address = new_email()
        accepted = await accept(rig, notify_by=["EMAIL"], email=address)
        events.append(stage(accepted.dossier_id, accepted, Stage.ACCEPTED))
        out.append((address, accepted.dossier_id))
    await publish(rig.admin, events)
    await consumed(rig, events)
    return out


async def test_two_replicas_dispatching_together_send_each_email_once(rig: Rig) -> None:
    rig.clock.at = datetime(2026, 3, 18, 9, 0, tzinfo=VN).astimezone(UTC)
    addresses = [address for address, _ in await announced(rig, 6)]
    first, second = replica(rig), replica(rig)

    async def all_sent() -> bool:
        await asyncio.gather(first.dispatch_once(), second.dispatch_once())
        return all(rig.mailbox.to(a) for a in addresses)

    await eventually(all_sent, within=60, what="every e-mail", every=0.1)
    await asyncio.gather(first.dispatch_once(), second.dispatch_once())

    assert [len(rig.mailbox.to(a)) for a in addresses] == [1] * 6


class DiesAfterHandingOver:
    """The SMTP server takes the message, then the process dies before the outcome is stored."""

    channel = Channel.EMAIL

    def __init__(self, rig: Rig) -> None:
        self._smtp = smtp(rig)
        self.handed_over = asyncio.Event()

    async def send(self, message: Message) -> SendResult:
        await self._smtp.send(message)
        self.handed_over.set()
        await asyncio.Event().wait()  # never answers: the task is killed here
        raise AssertionError("unreachable")


async def test_an_attempt_killed_after_the_server_took_the_mail_is_retried_once_with_the_same_message_id(
    rig: Rig,
) -> None:
    start = datetime(2026, 3, 19, 9, 0, tzinfo=VN).astimezone(UTC)
    rig.clock.at = start
    ((address, dossier_id),) = await announced(rig, 1)
    dying = DiesAfterHandingOver(rig)
    doomed = asyncio.create_task(replica(rig, {Channel.EMAIL: dying}).dispatch_once())
    await asyncio.wait_for(dying.handed_over.wait(), timeout=30)
    doomed.cancel()
    await asyncio.gather(doomed, return_exceptions=True)

    survivor = replica(rig)
    await survivor.dispatch_once()  # the dead attempt still holds its lease: nothing is sent
    assert len(rig.mailbox.to(address)) == 1
    rig.clock.at = start + timedelta(seconds=LEASE_S)
    await survivor.dispatch_once()
    await survivor.dispatch_once()

    copies = rig.mailbox.to(address)
    assert len(copies) == 2
    assert str(copies[0]["Message-ID"]) == str(copies[1]["Message-ID"])
    (row,) = await rig.messages(dossier_id)
    assert (row.status, row.attempts) == ("sent", 2)
