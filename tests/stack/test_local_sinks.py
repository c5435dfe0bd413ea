"""The local run's providers (services/stack/sinks, started as the local run starts them): the
notifications service's own channel adapters, configured as the local run configures them, send through
them; each message lands as one file under the work directory, and eSMS and Zalo report it delivered to
the service's receipt endpoints, which authenticate the reports. No address reaches the sinks' log."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.notifications.app import receipt_secrets, senders_of
from services.notifications.ports import Channel, Message, Receipt, ReceiptStatus, Sender, SendOutcome
from services.notifications.receipts.router import ReceiptApplied, receipts_router
from services.notifications.settings import NotificationsSettings
from services.shared.launcher import ManagedProcess
from services.simulator.settings import SimulatorSettings
from services.stack.processes import sinks_process
from services.stack.settings import StackSettings
from services.stack.sinks.files import MAIL_DIR, SMS_DIR, ZALO_DIR
from services.stack.supervisor import Supervisor
from tests.notifications.provider_servers import serving
from tests.tracker.support import eventually

HOST = "127.0.0.1"
PHONE = "+84912345678"
ADDRESS = "an.nguyen@example.vn"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """The receipts the service's endpoints took (authenticated and parsed by the real router)."""

    receipts: list[Receipt] = field(default_factory=list)

    async def __call__(self, receipt: Receipt) -> ReceiptApplied:
        self.receipts.append(receipt)
        return ReceiptApplied.APPLIED


@dataclass
class Local:
    work: Path
    senders: dict[Channel, Sender]
    received: Received
    sinks: ManagedProcess


@pytest.fixture
async def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Local]:
    supervisor = Supervisor(
        settings=StackSettings(
            work_dir=tmp_path,
            host=HOST,
            notifications_port=_free_port(),
            smtp_sink_port=_free_port(),
            provider_sink_port=_free_port(),
        ),
        simulator=SimulatorSettings(),
        simulate=False,
        prometheus=False,
    )
    for name, value in supervisor.notifications_env("unused-contact-token").items():
        monkeypatch.setenv(name, value)
    settings = NotificationsSettings()
    received = Received()
    receipts = FastAPI()
    receipts.include_router(receipts_router(received, receipt_secrets(settings)))
    stack = supervisor.settings
    sinks = sinks_process(
        host=HOST,
        smtp_port=stack.smtp_sink_port,
        http_port=stack.provider_sink_port,
        work=tmp_path,
        zalo_webhook_url=f"{settings.public_url}/receipts/zalo",
        log_dir=tmp_path / "logs",
    )
    with serving(receipts, stack.notifications_port):
        sinks.start()
        try:
            await sinks.wait_ready(60)
            async with httpx.AsyncClient() as http:
                yield Local(tmp_path, dict(senders_of(settings, http)), received, sinks)
        finally:
            await sinks.stop(20)


def message(channel: Channel, to: str, template: str) -> Message:
    return Message(
        idempotency_key=f"{uuid.uuid4()}",
        channel=channel,
        to=to,
        template=template,
        body="Hồ sơ BĐ-0001 đã được tiếp nhận.",
        subject="Hồ sơ đã được tiếp nhận" if channel is Channel.EMAIL else None,
        parameters={"dossier_ref": "BĐ-0001"},
    )


def kept(directory: Path) -> list[Path]:
    return sorted(directory.glob("*")) if directory.exists() else []


async def test_an_email_lands_whole_as_one_eml_file(local: Local) -> None:
    sent = await local.senders[Channel.EMAIL].send(message(Channel.EMAIL, ADDRESS, "accepted.email"))

    assert sent.outcome is SendOutcome.SENT
    [path] = kept(local.work / MAIL_DIR)
    assert path.suffix == ".eml"
    mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert mail["To"] == ADDRESS and mail["Subject"] == "Hồ sơ đã được tiếp nhận"
    assert "BĐ-0001" in mail.get_body().get_content()  # type: ignore[union-attr]


async def test_an_sms_lands_as_a_json_file_and_esms_reports_it_delivered(local: Local) -> None:
    sent = await local.senders[Channel.SMS].send(message(Channel.SMS, PHONE, "accepted.sms"))

    assert sent.outcome is SendOutcome.SENT, sent
    [path] = kept(local.work / SMS_DIR)
    kept_sms = json.loads(path.read_text())
    assert kept_sms["Phone"] == "84912345678" and "BĐ-0001" in kept_sms["Content"]
    assert "ApiKey" not in kept_sms and "SecretKey" not in kept_sms  # the account's keys stay out
    await eventually(lambda: _has(local.received), within=30, what="eSMS's delivery report")
    [receipt] = local.received.receipts
    assert receipt.channel is Channel.SMS and receipt.status is ReceiptStatus.DELIVERED
    assert receipt.provider_message_id == sent.provider_message_id


async def test_a_zalo_message_lands_as_a_json_file_and_zalo_reports_it_delivered(local: Local) -> None:
    sent = await local.senders[Channel.ZALO].send(message(Channel.ZALO, PHONE, "accepted.zalo"))

    assert sent.outcome is SendOutcome.SENT, sent
    [path] = kept(local.work / ZALO_DIR)
    assert json.loads(path.read_text())["phone"] == "84912345678"
    await eventually(lambda: _has(local.received), within=30, what="Zalo's delivery event")
    [receipt] = local.received.receipts
    assert receipt.channel is Channel.ZALO and receipt.status is ReceiptStatus.DELIVERED
    assert receipt.provider_message_id == sent.provider_message_id


async def test_every_citizen_message_has_a_registered_zalo_template(local: Local) -> None:
    from services.notifications.domain import CITIZEN_KINDS

    for kind in CITIZEN_KINDS:
        sent = await local.senders[Channel.ZALO].send(message(Channel.ZALO, PHONE, f"{kind.value}.zalo"))
        assert sent.outcome is SendOutcome.SENT, (kind, sent)


async def test_messages_keep_their_order_and_the_log_holds_no_address(local: Local) -> None:
    for _ in range(3):
        await local.senders[Channel.EMAIL].send(message(Channel.EMAIL, ADDRESS, "accepted.email"))
        await local.senders[Channel.SMS].send(message(Channel.SMS, PHONE, "accepted.sms"))
    await eventually(lambda: _has(local.received, 3), within=30, what="the delivery reports")
    await local.sinks.stop(20)

    for directory in (MAIL_DIR, SMS_DIR):
        names = [p.name for p in kept(local.work / directory)]
        assert len(names) == 3 and names == sorted(names) and len(set(names)) == 3
    log = (local.work / "logs" / "sinks.log").read_text()
    for personal in (ADDRESS, "912345678"):
        assert personal not in log


async def _has(received: Received, count: int = 1) -> bool:
    await asyncio.sleep(0)
    return len(received.receipts) >= count
