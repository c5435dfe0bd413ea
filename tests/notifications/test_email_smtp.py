"""The e-mail channel against a real SMTP server (aiosmtpd): what arrives, and how the server's answers map
onto the port's outcomes (RFC 5321: 4xx try later, 5xx give up)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.notifications.channels.email import SmtpConfig, SmtpSender, message_id
from services.notifications.ports import Channel, Message, SendOutcome


class Server:
    def __init__(self) -> None:
        self.answers: dict[str, str] = {}
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.answers:
            return self.answers[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Server, int]]:
    server, port = Server(), free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield server, port
    finally:
        controller.stop()


def mail(to: str, key: str = "dossier-1:accepted#1:email") -> Message:
    return Message(
        idempotency_key=key,
        channel=Channel.EMAIL,
        to=to,
        template="accepted.email",
        subject="Hồ sơ EB123456785VN đã được bưu điện tiếp nhận",
        body="Kính gửi ông/bà,\n\nBưu cục 100000 đã tiếp nhận hồ sơ của ông/bà ngày 14/03/2025.",
    )


async def test_an_email_arrives_in_vietnamese_with_a_message_id_derived_from_its_key(
    smtp: tuple[Server, int],
) -> None:
    server, port = smtp
    sender = SmtpSender(SmtpConfig("127.0.0.1", port, "thongbao@dossier-post.invalid"))

    result = await sender.send(mail("an@example.vn"))

    assert result.outcome is SendOutcome.SENT
    rcpts, received = server.received[-1]
    assert rcpts == ["an@example.vn"]
    assert str(received["Subject"]) == "Hồ sơ EB123456785VN đã được bưu điện tiếp nhận"
    assert "Bưu cục 100000 đã tiếp nhận hồ sơ" in received.get_content()
    assert (
        str(received["Message-ID"]).strip()
        == message_id("dossier-1:accepted#1:email")
        == result.provider_message_id
    )
    assert "dossier-1" not in received["Message-ID"]


@pytest.mark.parametrize(
    ("answer", "outcome", "code"),
    [
        ("451 4.3.0 mailbox busy", SendOutcome.TEMPORARY_FAILURE, "451"),
        ("452 4.2.2 mailbox full", SendOutcome.TEMPORARY_FAILURE, "452"),
        ("550 5.1.1 no such user", SendOutcome.PERMANENT_FAILURE, "550"),
        ("553 5.1.3 bad address syntax", SendOutcome.PERMANENT_FAILURE, "553"),
    ],
)
async def test_the_servers_refusal_maps_to_try_later_or_give_up(
    smtp: tuple[Server, int], answer: str, outcome: SendOutcome, code: str
) -> None:
    server, port = smtp
    address = f"refused-{code}@example.vn"
    server.answers[address] = answer
    sender = SmtpSender(SmtpConfig("127.0.0.1", port, "thongbao@dossier-post.invalid"))

    result = await sender.send(mail(address))

    assert (result.outcome, result.code) == (outcome, code)


async def test_a_server_that_does_not_answer_is_a_temporary_failure() -> None:
    sender = SmtpSender(SmtpConfig("127.0.0.1", free_port(), "thongbao@dossier-post.invalid", timeout_s=2))

    result = await sender.send(mail("an@example.vn"))

    assert result.outcome is SendOutcome.TEMPORARY_FAILURE
    assert result.detail == "ConnectionRefusedError"
