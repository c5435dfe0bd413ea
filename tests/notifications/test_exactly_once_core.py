"""Exactly once per (dossier, message, channel) across replicas and crashes: two dispatchers racing over
the same store send each e-mail once; an attempt that died after the SMTP server took the message (the
process killed before it stored the outcome) is retried once its lease runs out, with the same Message-ID,
and stored as sent."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from contracts.enums import Outcome, Stage
from contracts.events import ResultReady
from services.notifications.channels.email import SmtpConfig, SmtpSender
from services.notifications.contacts import ContactStore, OwnerContacts
from services.notifications.deliveries import Deliveries
from services.notifications.handlers import Dispatcher
from services.notifications.metrics import NotificationMetrics
from services.notifications.ports import Channel, Message, Sender, SendResult
from services.notifications.templates import load_templates
from services.shared.personal_data.keys import Keyring
from tests.notifications.core_support import (
    VN,
    Rig,
    accept,
    agency,
    consumed,
    mailbox,
    new_email,
    rig,
    stage,
)
from tests.post_office.helpers import AGENCY, new_agency_dossier_code
from tests.tracker.support import eventually, publish

__all__ = ["mailbox", "rig"]

LEASE_S = 120.0


def replica(
    rig: Rig,
    senders: Mapping[Channel, Sender] | None = None,
    *,
    max_attempts: int = 5,
    keyring: Keyring | None = None,
) -> Dispatcher:
    """Another replica's dispatcher on the same database, post office and SMTP server."""
    settings = rig.settings
    metrics = NotificationMetrics(CollectorRegistry())
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
            keyring or settings.keyring(),
            timedelta(hours=settings.contact_retention_h),
        ),
        deliveries=Deliveries(rig.engine, metrics, rig.clock),
        desk_emails={},
        metrics=metrics,
        now=rig.clock,
        lease_s=LEASE_S,
        max_attempts=max_attempts,
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


class NeverAnswers:
    """A provider call that hangs until the process is killed, every time (a message that kills its
    sender, as a poison message would)."""

    channel = Channel.EMAIL

    def __init__(self) -> None:
        self.called = asyncio.Event()

    async def send(self, message: Message) -> SendResult:
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_message_whose_attempts_keep_dying_is_dead_lettered_once_its_budget_is_spent(
    rig: Rig,
) -> None:
    start = datetime(2026, 3, 21, 9, 0, tzinfo=VN).astimezone(UTC)
    rig.clock.at = start
    ((address, dossier_id),) = await announced(rig, 1)
    for attempt in range(2):
        rig.clock.at = start + timedelta(seconds=attempt * LEASE_S)
        hanging = NeverAnswers()
        doomed = asyncio.create_task(replica(rig, {Channel.EMAIL: hanging}, max_attempts=2).dispatch_once())
        await asyncio.wait_for(hanging.called.wait(), timeout=30)
        doomed.cancel()
        await asyncio.gather(doomed, return_exceptions=True)

    rig.clock.at = start + timedelta(seconds=2 * LEASE_S)
    await replica(rig, max_attempts=2).dispatch_once()

    (row,) = await rig.messages(dossier_id)
    assert (row.status, row.reason, row.attempts) == ("dead", "attempts_exhausted", 3)
    assert rig.mailbox.to(address) == []


async def test_a_contact_sealed_under_a_key_no_longer_listed_is_asked_of_its_owner_again(rig: Rig) -> None:
    rig.clock.at = datetime(2026, 3, 22, 9, 0, tzinfo=VN).astimezone(UTC)
    address = new_email()
    accepted = await accept(rig, notify_by=["EMAIL"], email=address)
    ready = agency(
        accepted.dossier_id,
        ResultReady(
            agency_code=AGENCY,
            officer_id="officer-0003",
            agency_dossier_code=new_agency_dossier_code(),
            outcome=Outcome.APPROVED,
            result_reference="QD-1",
        ),
        datetime(2025, 3, 21, 15, 0, tzinfo=VN),
    )
    first = [stage(accepted.dossier_id, accepted, Stage.ACCEPTED)]
    await publish(rig.admin, first)
    await consumed(rig, first)
    await replica(rig).dispatch_once()
    assert len(rig.mailbox.to(address)) == 1

    rotated = Keyring.parse(f"rotated:{base64.b64encode(bytes(32)).decode()}")
    second = [ready, stage(accepted.dossier_id, ready, Stage.RESULT_READY)]
    await publish(rig.admin, second)
    await consumed(rig, second)
    await replica(rig, keyring=rotated).dispatch_once()

    assert len(rig.mailbox.to(address)) == 2
    reads = await rig.post_office.get(
        "/v1/audit/personal-data-reads",
        params={"dossier": accepted.item_id},
        headers={"Authorization": f"Bearer {rig.tokens.operator}"},
    )
    assert [r["reader"] for r in reads.json()["reads"]] == ["notifications", "notifications"]
