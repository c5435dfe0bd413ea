"""The composition root: settings → engine, broker, consumers, use cases and routes. Nothing connects
until the app's lifespan starts (so `create_app` also serves `services.agency.openapi`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.agency import api, consumers
from services.agency.adapters.tables import personal_data_tables
from services.agency.closure_job import ClosureJob
from services.agency.contact_reads import ContactReads
from services.agency.erasure import AgencyErasureAnnouncer
from services.agency.handlers import AgencyDesk, utc_now
from services.agency.metrics import AgencyMetrics
from services.agency.policy import Policy, Rules
from services.agency.settings import AgencySettings
from services.shared import heap
from services.shared.auth import TokenSigner
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.registry import CredentialRegistry
from services.shared.body_limit import limit_bodies
from services.shared.calendar import load_calendar
from services.shared.catalog import load_catalog
from services.shared.consuming import ConsumerMetrics
from services.shared.db.engine import make_engine
from services.shared.http import instrument
from services.shared.kafka import EventPublisher, make_broker
from services.shared.kafka_groups import group_membership
from services.shared.kafka_security import kafka_security_of
from services.shared.personal_data.erasure import ErasureJob
from services.shared.personal_data.rights import RightsDesk
from services.shared.personal_data.vault import Vault
from services.shared.readiness import database_not_ready, kafka_not_ready
from services.shared.settings import legal_rules_of

TITLE = "Agency service"
VERSION = "1.0.0"
DESCRIPTION = (
    "Processing status reported by the agencies' one-stop desks (bộ phận tiếp nhận và trả kết quả) for the "
    "dossiers the public post carries (Decision 45/2016/QĐ-TTg). Every report is published on "
    "`agency.events.v1`; a 2xx answer means Kafka acknowledged it, a 503 that nothing was recorded. Agency "
    "systems may instead publish the same CloudEvents envelopes on `agency.intake.v1`."
)


def rules_of(settings: AgencySettings) -> Rules:
    return Rules(clock_skew=timedelta(seconds=settings.clock_skew_s))


def create_app(settings: AgencySettings | None = None, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    settings = settings or AgencySettings()
    # Read and validated here, so a malformed calendar or catalog stops the service before it serves.
    policy = Policy(
        calendar=load_calendar(),
        catalog=load_catalog(),
        rules=rules_of(settings),
        legal=legal_rules_of(settings),
    )
    registry = CollectorRegistry()
    metrics = AgencyMetrics(registry)
    consumer_metrics = ConsumerMetrics(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        broker = make_broker(
            settings.kafka_bootstrap_servers,
            client_id=settings.kafka_client_id,
            metrics_registry=registry,
            security=kafka_security_of(settings),
        )
        vault = Vault(personal_data_tables, settings.keyring(), settings.blind_index())
        desk = AgencyDesk(
            engine=engine,
            publisher=EventPublisher(broker, timeout_s=settings.publish_timeout_s),
            policy=policy,
            metrics=metrics,
            vault=vault,
            phone_check=settings.phone_check(),
            clock=clock,
            retention=settings.retention(),
        )
        announce = AgencyErasureAnnouncer(EventPublisher(broker, timeout_s=settings.publish_timeout_s))
        app.state.erasure_job = ErasureJob(
            engine, vault, announce, clock, interval_s=settings.personal_data_erasure_interval_s
        )
        app.state.rights = RightsDesk(engine, vault, announce, clock, service="agency")
        consumers.subscribe(
            broker,
            engine=engine,
            desk=desk,
            metrics=metrics,
            consumer_metrics=consumer_metrics,
            postal_group_id=settings.postal_group_id,
            intake_group_id=settings.intake_group_id,
            max_records=settings.consumer_max_records,
        )
        app.state.desk = desk
        app.state.contact_reads = ContactReads(engine, desk, vault, clock)
        app.state.engine = engine
        app.state.broker = broker
        app.state.authenticator = Authenticator(
            TokenSigner(settings.auth_secret.get_secret_value()), CredentialRegistry(engine)
        )
        await broker.start()
        heap.settle()
        closure = asyncio.create_task(
            ClosureJob(desk, metrics, interval_s=settings.closure_interval_s).run(), name="closure-job"
        )
        # Every replica runs it: the vault's row locks make each erasure happen once.
        erasing = asyncio.create_task(app.state.erasure_job.run(), name="personal-data-erasure")
        try:
            yield
        finally:
            for job in (closure, erasing):
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            await broker.stop()
            await engine.dispose()

    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan)

    async def database_ready() -> str | None:
        return await database_not_ready(getattr(app.state, "engine", None))  # set when the lifespan starts

    async def kafka_ready() -> str | None:
        return await kafka_not_ready(getattr(app.state, "broker", None))

    limit_bodies(app, settings)

    async def consumer_groups_ready() -> str | None:
        return group_membership(app.state.broker).not_ready()

    instrument(
        app,
        registry,
        {"database": database_ready, "kafka": kafka_ready, "consumer_groups": consumer_groups_ready},
        retry_after_s=settings.retry_after_s,
    )
    api.install(app, retry_after_s=settings.retry_after_s)
    return app
