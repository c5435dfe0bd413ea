"""The notifications service, run as its own process (`python -m services.notifications`), SIGKILLed at
random moments while it consumes a journey's stage changes and sends their e-mails, and restarted each
time: in the end every expected e-mail arrived, each message is stored as sent once, and a copy sent twice
(a kill between the SMTP server's 250 and the stored outcome) carries the same Message-ID.

TEST_SEED replays a run (the seed is in the failure report)."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from contracts.enums import Stage
from contracts.envelope import Envelope
from contracts.events import Event
from services.notifications import consumers
from services.notifications.adapters.tables import message
from services.post_office.app import create_app as create_post_office
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from tests.fixtures.kafka import KafkaBroker
from tests.fixtures.kafka_groups import start_group_at_end
from tests.fixtures.live_server import serving
from tests.fixtures.postgres import create_database
from tests.notifications.core_support import (
    Mailbox,
    _register_service_credential,
    mailbox,
    new_email,
    stage,
)
from tests.post_office.conftest import SECRET, issue_tokens, settings_for
from tests.post_office.helpers import ACCEPTED_AT, acceptance, new_item_id
from tests.reliability.support import Service
from tests.tracker.support import eventually, publish

__all__ = ["mailbox"]

pytestmark = [pytest.mark.timeout(300)]

DOSSIERS = 30
KILLS = 3


@pytest.fixture(scope="module")
async def post_office_db(postgres_url: str) -> str:
    url = await create_database(postgres_url, "notify_po")
    await migrate.upgrade_async(url)
    return url


@pytest.fixture(scope="module")
def post_office_port(post_office_db: str, kafka_broker: KafkaBroker) -> Iterator[int]:
    """The post office served over HTTP (its own loop and thread), as the notifications process reaches it."""
    settings = settings_for(post_office_db, kafka_broker.for_service("post_office"))
    with serving(create_post_office(settings), settings, lifespan="on") as port:
        yield port


@pytest.fixture
async def notifications_db(postgres_url: str) -> AsyncIterator[str]:
    url = await create_database(postgres_url, "notify_svc")
    await migrate.upgrade_async(url)
    yield url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_killed_mid_stream_the_service_sends_every_expected_email_once_per_message(
    post_office_db: str,
    post_office_port: int,
    notifications_db: str,
    kafka_broker: KafkaBroker,
    mailbox: tuple[Mailbox, int],
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("TEST_SEED", str(random.randrange(2**32))))
    rng = random.Random(seed)
    box, smtp_port = mailbox
    tokens = await issue_tokens(post_office_db)
    service_token = await _register_service_credential(post_office_db)
    http_port = free_port()
    env = {
        **os.environ,
        **kafka_broker.for_service("notifications").env(),
        "DATABASE_URL": notifications_db,
        "DOSSIER_AUTH_SECRET": SECRET,
        "NOTIFICATIONS_HTTP_HOST": "127.0.0.1",
        "NOTIFICATIONS_HTTP_PORT": str(http_port),
        "NOTIFICATIONS_CONSUMER_GROUP": f"notifications.kill-{uuid.uuid4().hex[:8]}",
        "NOTIFICATIONS_POST_OFFICE_URL": f"http://127.0.0.1:{post_office_port}",
        "NOTIFICATIONS_CONTACT_TOKEN": service_token,
        "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
        "NOTIFICATIONS_SMTP_PORT": str(smtp_port),
        "NOTIFICATIONS_DISPATCH_INTERVAL_S": "0.1",
        "NOTIFICATIONS_LEASE_S": "2",
        "NOTIFICATIONS_BACKOFF_BASE_S": "0.5",
    }
    await start_group_at_end(kafka_broker.admin, env["NOTIFICATIONS_CONSUMER_GROUP"], consumers.TOPICS)
    service = Service(
        "notifications",
        ["-m", "services.notifications"],
        env,
        tmp_path / "notifications.log",
        ready_url=f"http://127.0.0.1:{http_port}/ready",
    )

    # The workload: dossiers accepted at the counter with consent to e-mail; the tracker's stage changes.
    addresses: dict[str, str] = {}
    events: list[Envelope[Event]] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{post_office_port}") as po:
        for _ in range(DOSSIERS):
            address, item_id = new_email(), new_item_id()
            body = acceptance(item_id, notify_by=["EMAIL"])
            body["applicant"] = body["applicant"] | {"email": address}
            answer = await po.post(
                "/v1/dossiers", json=body, headers={"Authorization": f"Bearer {tokens.clerk}"}
            )
            assert answer.is_success, answer.text
            receipt = answer.json()

            class Cause:
                id = uuid.UUID(receipt["event_id"])
                type = "postal.dossier_accepted"
                time = ACCEPTED_AT

            addresses[receipt["dossier_id"]] = address
            events.append(stage(receipt["dossier_id"], Cause(), Stage.ACCEPTED))

    engine = make_engine(notifications_db)
    mine = list(addresses)

    async def sent() -> int:
        async with engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(message)
                        .where(message.c.status == "sent", message.c.dossier_id.in_(mine))
                    )
                ).scalar_one()
            )

    log: list[str] = [f"seed {seed}"]
    await service.start()
    try:
        await service.wait_ready()
        # One batch per kill: each kill lands while that batch is being consumed and sent.
        size = -(-len(events) // KILLS)
        for batch in range(KILLS):
            before = await sent()
            await publish(kafka_broker.admin, events[batch * size : (batch + 1) * size])

            async def progressed(before: int = before) -> bool:
                await service.check()
                return await sent() > before

            await eventually(progressed, within=90, what="the service to send", every=0.02)
            await asyncio.sleep(rng.uniform(0.0, 0.1))
            log.append(f"SIGKILL after {await sent()} sent")
            await service.kill()
            await service.start()
            await service.wait_ready()

        async def all_arrived() -> bool:
            await service.check()
            return all(box.to(a) for a in addresses.values()) and await sent() == DOSSIERS

        await eventually(all_arrived, within=120, what="every e-mail", every=0.2)
    finally:
        await service.stop()

    report = "; ".join(log) + f"\n{service.tail()}"
    print("; ".join(log), "copies:", sorted(len(box.to(a)) for a in addresses.values()))
    for address in addresses.values():
        copies = box.to(address)
        assert len({str(c["Message-ID"]).strip() for c in copies}) == 1, report
    async with engine.connect() as conn:
        # Only this test's dossiers: the group reads the topics from the start, other tests' events too
        # (their contacts are not this post office's: refused, never sent).
        rows = (
            await conn.execute(
                select(message.c.dossier_id, message.c.status).where(message.c.dossier_id.in_(mine))
            )
        ).all()
    await engine.dispose()
    assert sorted(r.dossier_id for r in rows) == sorted(addresses), report
    assert {r.status for r in rows} == {"sent"}, report
    assert service.kills == KILLS, report
