"""The notifications core's test rig: the real post office (its contact API, its audit, its events on the
session's Kafka), the notifications service on the same PostgreSQL database (as in the stack), a real SMTP
server (aiosmtpd) that keeps what it receives, and a clock the test sets."""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.enums import CustodyHolderKind, ItemKind, Stage, TransitDirection
from contracts.envelope import Envelope
from contracts.events import DossierInTransit, Event, StageChanged
from contracts.events.parts import CustodyHolder
from contracts.sources import TRACKER_SOURCE, agency_source, post_office_source
from services.agency.app import create_app as create_agency
from services.agency.settings import AgencySettings
from services.notifications import consumers
from services.notifications.adapters.tables import message
from services.notifications.app import Notifications, create_app
from services.notifications.channels.email import SmtpConfig, SmtpSender
from services.notifications.ports import Channel, Message, Sender, SendOutcome, SendResult
from services.notifications.settings import NotificationsSettings
from services.post_office.app import create_app as create_post_office
from services.shared.auth import Role, TokenSigner
from services.shared.auth.registry import CredentialRegistry
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.shared.db.schema import processed_event
from tests.fixtures.kafka import KafkaBroker, KafkaLogin
from tests.fixtures.kafka_groups import start_group_at_end
from tests.fixtures.postgres import create_database
from tests.post_office.conftest import SECRET, issue_tokens, settings_for, until_ready
from tests.post_office.helpers import ACCEPTED_AT, AGENCY, OFFICE, Tokens, acceptance, new_item_id
from tests.tracker.support import eventually

VIETNAM_OFFSET = timedelta(hours=7)
SUBJECT = "notifications"
DESK = f"mot-cua.{uuid.uuid4().hex[:8]}@example.gov.vn"
"""The one-stop desk of the tests' agency (not personal data: an office's address)."""


class Clock:
    """The service's clock: set by the test, never today's date."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Mailbox:
    """What the SMTP server accepted, by recipient; recipients in ``deferring`` get 451 (try later)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, EmailMessage]] = []
        self.deferring: set[str] = set()

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, options: list[str]
    ) -> str:
        if address in self.deferring:
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:  # noqa: N802
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        for rcpt in envelope.rcpt_tos:
            self.received.append((rcpt, parsed))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [mail for rcpt, mail in self.received if rcpt == address]


class RecordingSms:
    """Stands in for an SMS provider's adapter (built in the providers' branch): it accepts every
    message and records when it was asked to send it, except to the numbers in ``refusing``, which it
    refuses for good (as a provider refuses a number that is not a mobile's)."""

    channel = Channel.SMS

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sent: list[tuple[datetime, Message]] = []
        self.refusing: set[str] = set()

    async def send(self, msg: Message) -> SendResult:
        if msg.to in self.refusing:
            return SendResult(SendOutcome.PERMANENT_FAILURE, code="108", detail="not a valid number")
        self.sent.append((self.clock(), msg))
        return SendResult(SendOutcome.SENT, provider_message_id=f"sms-{len(self.sent)}")


@dataclass
class Rig:
    database_url: str
    engine: AsyncEngine
    post_office: httpx.AsyncClient
    agency: httpx.AsyncClient
    """The real agency on the same database (its contact API and audit), signed by the same key."""
    tokens: Tokens
    notifications: Notifications
    mailbox: Mailbox
    clock: Clock
    sms: RecordingSms
    admin: KafkaLogin
    consumer: str
    app: FastAPI
    settings: NotificationsSettings

    async def dispatch(self) -> int:
        return await self.notifications.dispatcher.dispatch_once()

    async def messages(self, dossier_id: str) -> list[Any]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(message).where(message.c.dossier_id == dossier_id).order_by(message.c.created_at)
            )
            return list(rows.all())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


async def _register_service_credential(database_url: str) -> str:
    """The credential issued for the service: a notifier's, subject ``notifications`` (README)."""
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    principal, token = TokenSigner(SECRET).issue(
        subject=SUBJECT, role=Role.NOTIFIER, scope=None, now=now, valid_for=timedelta(days=1)
    )
    await CredentialRegistry(engine, cache_seconds=0).register(
        principal, issued_at=now, expires_at=now + timedelta(days=1)
    )
    await engine.dispose()
    return token


@contextlib.asynccontextmanager
async def postgres_rig(
    postgres_url: str,
    kafka_broker: KafkaBroker,
    mailbox: tuple[Mailbox, int],
    **options: Any,
) -> AsyncIterator[Rig]:
    """The rig on a new PostgreSQL database of the session's cluster (``options``: ``running_rig``'s)."""
    database_url = await create_database(postgres_url, "notify")
    await migrate.upgrade_async(database_url)
    async with running_rig(database_url, kafka_broker, mailbox, **options) as running:
        yield running


@contextlib.asynccontextmanager
async def running_rig(
    database_url: str,
    kafka_broker: KafkaBroker,
    mailbox: tuple[Mailbox, int],
    *,
    settings_extra: dict[str, Any] | None = None,
    providers: bool = False,
) -> AsyncIterator[Rig]:
    """The rig on ``database_url``, migrated (PostgreSQL, or the local run's SQLite). ``providers``: the
    service's own channels from its settings (``settings_extra`` names the providers' local servers),
    instead of the SMTP sender and the recording SMS."""
    tokens = await issue_tokens(database_url)
    service_token = await _register_service_credential(database_url)
    post_office_app: FastAPI = create_post_office(
        settings_for(database_url, kafka_broker.for_service("post_office"))
    )
    box, smtp_port = mailbox
    clock = Clock(datetime(2026, 3, 10, 3, 0, tzinfo=UTC))  # 10:00 in Vietnam, a Tuesday
    sms = RecordingSms(clock)
    consumer = f"notifications.tests-{uuid.uuid4().hex[:8]}"
    # From the topics' current end: the session's broker holds every other test's events, whose contacts
    # no owner of this rig holds.
    await start_group_at_end(kafka_broker.admin, consumer, consumers.TOPICS)
    settings = NotificationsSettings.model_validate(
        {
            **kafka_broker.for_service("notifications").env(),
            "DATABASE_URL": database_url,
            "DOSSIER_AUTH_SECRET": SECRET,
            "consumer_group": consumer,
            "post_office_url": "http://post-office.test",
            "agency_url": "http://agency.test",
            "contact_token": service_token,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "max_attempts": 3,
            "backoff_base_s": 60,
            "desk_emails": {AGENCY: DESK},
            **(settings_extra or {}),
        }
    )
    run = uuid.uuid4().hex[:8]
    agency_app = create_agency(
        AgencySettings(
            **kafka_broker.for_service("agency").settings(),
            database_url=database_url,
            DOSSIER_AUTH_SECRET=SecretStr(SECRET),
            kafka_client_id=f"agency-notify-{run}",
            postal_group_id=f"agency.postal.notify-{run}",
            intake_group_id=f"agency.intake.notify-{run}",
            closure_interval_s=3600.0,
            personal_data_erasure_interval_s=10.0**6,
        )
    )
    async with (
        post_office_app.router.lifespan_context(post_office_app),
        agency_app.router.lifespan_context(agency_app),
    ):
        await until_ready(post_office_app)
        await until_ready(agency_app)
        owners = {
            "http://post-office.test": httpx.ASGITransport(app=post_office_app),
            "http://agency.test": httpx.ASGITransport(app=agency_app),
        }
        # One client for the service, as in a deployment: each owner at its own address.
        http = httpx.AsyncClient(mounts=owners)
        post_office = httpx.AsyncClient(
            transport=owners["http://post-office.test"], base_url="http://post-office.test"
        )
        agency_client = httpx.AsyncClient(
            transport=owners["http://agency.test"], base_url="http://agency.test"
        )
        senders: dict[Channel, Sender] = {
            Channel.EMAIL: SmtpSender(SmtpConfig("127.0.0.1", smtp_port, settings.smtp_sender)),
            Channel.SMS: sms,
        }
        app = create_app(
            settings, now=clock, senders=None if providers else senders, http=http, dispatching=False
        )
        async with app.router.lifespan_context(app):
            await until_ready(app)
            engine = make_engine(database_url)
            yield Rig(
                database_url,
                engine,
                post_office,
                agency_client,
                tokens,
                app.state.notifications,
                box,
                clock,
                sms,
                kafka_broker.admin,
                consumer,
                app,
                settings,
            )
            await engine.dispose()


@pytest.fixture(scope="module")
async def rig(
    postgres_url: str, kafka_broker: KafkaBroker, mailbox: tuple[Mailbox, int]
) -> AsyncIterator[Rig]:
    async with postgres_rig(postgres_url, kafka_broker, mailbox) as running:
        yield running


# --------------------------------------------------------------------------- events as their producers


class Cause(Protocol):
    """What a StageChanged names of its causing event (an envelope, or the post office's receipt)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def type(self) -> str: ...
    @property
    def time(self) -> datetime: ...


def stage(
    dossier_id: str,
    cause: Cause,
    to: Stage,
    *,
    late: bool = False,
    current: Stage | None = None,
    holder: CustodyHolder | None = None,
) -> Envelope[Event]:
    """The tracker's StageChanged for ``cause``, with the id the tracker derives (dossier, cause, stage)."""
    event = StageChanged(
        to_stage=to,
        custody=holder or CustodyHolder(kind=CustodyHolderKind.POST_OFFICE, code=OFFICE),
        cause_event_id=cause.id,
        cause_event_type=cause.type,
        late=late,
        current_stage=current or to,
    )
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{dossier_id}/{cause.id}/{to.value}")
    return Envelope.new(event, subject=dossier_id, source=TRACKER_SOURCE, time=cause.time, id=event_id)


def postal(dossier_id: str, event: Event, at: datetime) -> Envelope[Event]:
    return Envelope.new(event, subject=dossier_id, source=post_office_source(OFFICE), time=at)


def agency(dossier_id: str, event: Event, at: datetime) -> Envelope[Event]:
    return Envelope.new(event, subject=dossier_id, source=agency_source(AGENCY), time=at)


# --------------------------------------------------------------------------- steps of a journey

VN = ACCEPTED_AT.tzinfo


def new_email() -> str:
    return f"an.{uuid.uuid4().hex[:12]}@example.vn"


@dataclass(frozen=True)
class Accepted:
    """The acceptance as the post office published it (what a StageChanged names as its cause)."""

    item_id: str
    dossier_id: str
    id: uuid.UUID
    due: date
    type: str = "postal.dossier_accepted"
    time: datetime = ACCEPTED_AT


async def accept(rig: Rig, *, notify_by: list[str], email: str | None = None) -> Accepted:
    """A dossier accepted at the counter of the real post office."""
    item_id = new_item_id()
    body = acceptance(item_id, notify_by=notify_by)
    if email is not None:
        body["applicant"] = body["applicant"] | {"email": email}
    answer = await rig.post_office.post(
        "/v1/dossiers", json=body, headers={"Authorization": f"Bearer {rig.tokens.clerk}"}
    )
    assert answer.is_success, answer.text
    receipt = answer.json()
    return Accepted(
        item_id,
        receipt["dossier_id"],
        uuid.UUID(receipt["event_id"]),
        date.fromisoformat(receipt["inbound_due_date"]),
    )


async def consumed(rig: Rig, envelopes: Sequence[Envelope[Event]]) -> None:
    """Wait until the service's consumer recorded every one of these events in its inbox."""
    wanted = {str(e.id) for e in envelopes}

    async def done() -> bool:
        async with rig.engine.connect() as conn:
            rows = await conn.execute(
                select(processed_event.c.event_id).where(
                    processed_event.c.consumer == rig.consumer, processed_event.c.event_id.in_(wanted)
                )
            )
            return set(rows.scalars()) == wanted

    await eventually(done, within=60, what="the notifications consumer to take the events")


async def dispatched_until(rig: Rig, address: str, count: int) -> None:
    async def enough() -> bool:
        await rig.dispatch()
        return len(rig.mailbox.to(address)) >= count

    await eventually(enough, within=60, what=f"{count} e-mails", every=0.2)


def sentinels(item_id: str, dossier_id: str) -> list[Envelope[Event]]:
    """Events that make no message, published last: once the consumer took them, it took what came before
    on their partitions (one dossier, one key, one partition per topic)."""
    scan = postal(
        dossier_id,
        DossierInTransit(
            item_id=item_id,
            item_kind=ItemKind.DOSSIER,
            facility_code=OFFICE,
            direction=TransitDirection.DEPARTED,
        ),
        datetime(2025, 3, 26, 9, 0, tzinfo=VN),
    )
    return [scan, stage(dossier_id, scan, Stage.IN_TRANSIT)]
