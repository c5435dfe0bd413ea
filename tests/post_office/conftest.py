"""The post office service wired to the session's real Kafka broker and a PostgreSQL database of its own."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.post_office.app import create_app
from services.post_office.settings import PostOfficeSettings
from services.shared.auth import Role, TokenSigner
from services.shared.auth.registry import CredentialRegistry
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from tests.fixtures.kafka import KafkaLogin
from tests.post_office.helpers import OFFICE, OTHER_OFFICE, PostalTopic, PostOfficeClient, Tokens

SECRET = "post-office-tests-signing-secret-0123456789"
PUBLISH_TIMEOUT_S = 3.0
# A group of this session's own: another package's post office (its own database) must not take
# partitions of agency.events.v1 from this one. Within the `post-office` prefix its principal may use.
# Named by the process, not a random id: pytest and the tests' imports load this module twice.
AGENCY_EVENTS_GROUP = f"post-office.agency-events.tests-{os.getpid()}"


async def fresh_postgres_database(admin_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = make_engine(admin_url)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def settings_for(database_url: str, kafka: KafkaLogin) -> PostOfficeSettings:
    """`kafka`: the post office's own login (`post_office_kafka`)."""
    return PostOfficeSettings.model_validate(
        {
            **kafka.env(),
            "DATABASE_URL": database_url,
            "DOSSIER_AUTH_SECRET": SECRET,
            "publish_timeout_s": PUBLISH_TIMEOUT_S,
            "retry_after_s": 2,
            "credential_cache_s": 0,
            # The erasure job runs when a test asks it to (with the day it chooses), never by itself:
            # the tests' dossiers are dated 2025 and would all be due.
            "personal_data_erasure_interval_s": 10**6,
            "agency_events_group_id": AGENCY_EVENTS_GROUP,
        }
    )


async def issue_tokens(database_url: str) -> Tokens:
    engine = make_engine(database_url)
    registry = CredentialRegistry(engine, cache_seconds=0)
    signer = TokenSigner(SECRET)
    now = datetime.now(UTC)
    tokens: dict[str, str] = {}
    for name, role, scope in [
        ("clerk", Role.POST_OFFICE, OFFICE),
        ("other_clerk", Role.POST_OFFICE, OTHER_OFFICE),
        ("operator", Role.OPERATOR, None),
        ("agency", Role.AGENCY, "000.00.01.H22"),
        ("revoked", Role.POST_OFFICE, OFFICE),
        ("notifier", Role.NOTIFIER, None),
    ]:
        principal, token = signer.issue(
            subject=f"{name}-1", role=role, scope=scope, now=now, valid_for=timedelta(days=1)
        )
        await registry.register(principal, issued_at=now, expires_at=now + timedelta(days=1))
        if name == "revoked":
            await registry.revoke(principal.credential_id, now=now)
        tokens[name] = token
    await engine.dispose()
    return Tokens(**tokens)


@pytest.fixture(scope="package")
async def database_url(postgres_url: str) -> str:
    url = await fresh_postgres_database(postgres_url, "post_office")
    await migrate.upgrade_async(url)
    return url


@pytest.fixture(scope="package")
async def tokens(database_url: str) -> Tokens:
    return await issue_tokens(database_url)


@pytest.fixture(scope="package")
async def post_office_app(database_url: str, post_office_kafka: KafkaLogin) -> AsyncIterator[FastAPI]:
    app = create_app(settings_for(database_url, post_office_kafka))
    async with app.router.lifespan_context(app):
        await until_ready(app)
        yield app


async def until_ready(app: FastAPI, timeout_s: float = 60.0) -> None:
    """Wait until /ready answers 200: the consumer of agency.events.v1 has joined its group."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://post-office.test") as http:
        async with asyncio.timeout(timeout_s):
            while (await http.get("/ready")).status_code != 200:
                await asyncio.sleep(0.1)


@pytest.fixture(scope="package")
async def api(post_office_app: FastAPI, tokens: Tokens) -> AsyncIterator[PostOfficeClient]:
    transport = httpx.ASGITransport(app=post_office_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://post-office.test") as http:
        yield PostOfficeClient(http, tokens)


@pytest.fixture(scope="package")
async def postal_topic(kafka_admin: KafkaLogin) -> AsyncIterator[PostalTopic]:
    topic = PostalTopic(kafka_admin)
    await topic.start()
    yield topic
    await topic.stop()
