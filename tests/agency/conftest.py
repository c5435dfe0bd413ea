"""The agency service wired to the real broker and a PostgreSQL database of its own, once per module.

Other tests share the broker's topics, so everything here is filtered by this module's dossier ids, and
each app consumes with consumer groups of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from pydantic import SecretStr

from contracts.envelope import Envelope, kafka_record
from contracts.events import DossierAccepted, DossierHandedToAgency, Event
from contracts.samples import sample_envelope
from contracts.topics import Topic
from contracts.values import dossier_id_for_item
from services.agency.app import create_app
from services.agency.settings import AgencySettings
from services.shared.auth import Role, TokenSigner
from services.shared.auth.registry import CredentialRegistry
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from tests.fixtures.ids import unique_agency_dossier_code, unique_item_id
from tests.fixtures.kafka import KafkaLogin
from tests.fixtures.postgres import create_database

SECRET = "agency-tests-signing-secret-0123456789"
AGENCY = "000.00.01.H22"
OTHER_AGENCY = "000.00.02.H22"
PASSPORT = "1.001456"  # 8 working days
THREE_DAYS = "1.004873"


@dataclass(frozen=True)
class Tokens:
    officer: str
    other_officer: str
    operator: str
    clerk: str
    notifier: str  # the notifications service's


@pytest.fixture(scope="module")
async def agency_database(postgres_url: str) -> str:
    url = await create_database(postgres_url, "agency")
    await migrate.upgrade_async(url)
    return url


@pytest.fixture(scope="module")
def agency_settings(agency_kafka: KafkaLogin, agency_database: str) -> AgencySettings:
    run = uuid.uuid4().hex[:8]
    return AgencySettings(
        **agency_kafka.settings(),
        database_url=agency_database,
        # Shared settings keep their conventional names (aliases), e.g. DOSSIER_AUTH_SECRET.
        DOSSIER_AUTH_SECRET=SecretStr(SECRET),
        kafka_client_id=f"agency-test-{run}",
        postal_group_id=f"agency.postal.test-{run}",
        intake_group_id=f"agency.intake.test-{run}",
        publish_timeout_s=2.0,
        retry_after_s=1,
        # The closure job runs once at start (an empty database); tests drive it with a chosen clock.
        closure_interval_s=3600.0,
        # The erasure job runs when a test asks it to (with the day it chooses), never by itself.
        personal_data_erasure_interval_s=10.0**6,
    )


class Clock:
    """The app's clock: real time, unless a test sets `frozen` to record an act at a past moment."""

    def __init__(self) -> None:
        self.frozen: datetime | None = None

    def __call__(self) -> datetime:
        return self.frozen or datetime.now(UTC)


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def _real_time_unless_frozen(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "clock" in request.fixturenames:
        request.getfixturevalue("clock").frozen = None


@pytest.fixture(scope="module")
async def agency_app(agency_settings: AgencySettings, clock: Clock) -> AsyncIterator[FastAPI]:
    app = create_app(agency_settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def client(agency_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=agency_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://agency") as http:
        yield http


@pytest.fixture(scope="module")
async def tokens(agency_database: str) -> Tokens:
    engine = make_engine(agency_database)
    registry = CredentialRegistry(engine)
    signer = TokenSigner(SECRET)
    now = datetime.now(UTC)

    async def issue(role: Role, scope: str | None, subject: str) -> str:
        principal, token = signer.issue(
            subject=subject, role=role, scope=scope, now=now, valid_for=timedelta(hours=2)
        )
        await registry.register(principal, issued_at=now, expires_at=now + timedelta(hours=2))
        return token

    try:
        return Tokens(
            officer=await issue(Role.AGENCY, AGENCY, "officer-0003"),
            other_officer=await issue(Role.AGENCY, OTHER_AGENCY, "officer-0099"),
            operator=await issue(Role.OPERATOR, None, "ops-1"),
            clerk=await issue(Role.POST_OFFICE, "100000", "clerk-0042"),
            notifier=await issue(Role.NOTIFIER, None, "notifications"),
        )
    finally:
        await engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def producer(kafka_admin: KafkaLogin) -> AsyncIterator[AIOKafkaProducer]:
    """One producer for the module, as the admin: it plays the post office (postal.events.v1) and the
    agencies' systems (agency.intake.v1), and one login saves a TLS and SCRAM handshake per test."""
    kafka = AIOKafkaProducer(**kafka_admin.options(), acks="all", enable_idempotence=True)
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


async def send(producer: AIOKafkaProducer, topic: Topic, envelopes: Iterable[Envelope[Any]]) -> None:
    for envelope in envelopes:
        record = kafka_record(envelope)
        await producer.send_and_wait(topic.name, record.value, key=record.key, headers=record.headers)


def new_item_id() -> str:
    return unique_item_id("EB")


def new_agency_dossier_code(agency: str = AGENCY) -> str:
    return unique_agency_dossier_code(agency)


def postal_journey(item_id: str, signed_at: datetime, procedure: str = PASSPORT) -> list[Envelope[Event]]:
    """The post office's acceptance of a dossier for AGENCY and its handover at `signed_at`."""
    dossier_id = dossier_id_for_item(item_id)
    return [
        sample_envelope(
            DossierAccepted, dossier_id, item_id=item_id, procedure_code=procedure, agency_code=AGENCY
        ),
        sample_envelope(
            DossierHandedToAgency, dossier_id, item_id=item_id, agency_code=AGENCY, signed_at=signed_at
        ),
    ]


async def wait_for_status(
    client: httpx.AsyncClient, ref: str, token: str, status: str, timeout_s: float = 30
) -> dict[str, Any]:
    """Poll the record until the consumers have brought it to `status`."""
    async with asyncio.timeout(timeout_s):
        while True:
            response = await client.get(f"/dossiers/{ref}", headers=bearer(token))
            if response.status_code == 200 and response.json()["status"] == status:
                body: dict[str, Any] = response.json()
                return body
            await asyncio.sleep(0.1)


class TopicReader:
    """Reads what was published on a topic after the reader was made, filtered by key."""

    def __init__(self, kafka: KafkaLogin, topic: Topic) -> None:
        self._kafka = kafka
        self._topic = topic
        self._start: dict[TopicPartition, int] = {}

    async def __aenter__(self) -> TopicReader:
        consumer = AIOKafkaConsumer(**self._kafka.options())
        await consumer.start()
        try:
            partitions = [TopicPartition(self._topic.name, p) for p in range(self._topic.partitions)]
            self._start = dict(await consumer.end_offsets(partitions))
        finally:
            await consumer.stop()
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def read(self, keys: set[bytes], *, at_least: int = 0, timeout_s: float = 30) -> list[Any]:
        """Records for `keys` published since the snapshot: waits for `at_least`, then reads to the end."""
        consumer = AIOKafkaConsumer(**self._kafka.options(), enable_auto_commit=False)
        await consumer.start()
        found: list[Any] = []
        partitions = list(self._start)
        try:
            consumer.assign(partitions)
            for tp, offset in self._start.items():
                consumer.seek(tp, offset)
            async with asyncio.timeout(timeout_s):
                while True:
                    for records in (await consumer.getmany(timeout_ms=200)).values():
                        found.extend(r for r in records if r.key in keys)
                    if len(found) >= at_least:
                        ends = await consumer.end_offsets(partitions)
                        positions = {tp: await consumer.position(tp) for tp in partitions}
                        if all(positions[tp] >= ends[tp] for tp in partitions):
                            break
        finally:
            await consumer.stop()
        return sorted(found, key=lambda r: (r.partition, r.offset))
