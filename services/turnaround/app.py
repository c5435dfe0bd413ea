"""The composition root: settings → rules, engine, broker, consumer, scheduler, metrics, HTTP app.

Nothing connects when this module is imported or `create_app` is called; the lifespan starts the
broker and the background loops and stops them in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared.auth import TokenSigner
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.registry import CredentialRegistry
from services.shared.calendar import load_calendar
from services.shared.catalog import load_catalog
from services.shared.consuming import ConsumerMetrics
from services.shared.db.engine import make_engine
from services.shared.kafka import EventPublisher, make_broker
from services.shared.kafka_groups import group_membership
from services.shared.kafka_security import kafka_security_of
from services.shared.postal_limits import load_route_limits
from services.shared.readiness import database_not_ready, kafka_not_ready
from services.shared.settings import legal_rules_of
from services.turnaround import api, consumers, domain
from services.turnaround.adapters.lag import ConsumerLagMonitor
from services.turnaround.handlers import AlertRaiser, ClockProjector, Now, OutboxRelay
from services.turnaround.metrics import LagCollector, StoreCollector, StoreSnapshot, TurnaroundMetrics
from services.turnaround.provinces import load_provinces
from services.turnaround.quality import nonconformity_api, objectives_wiring
from services.turnaround.quality.report_api import reports_router
from services.turnaround.scheduler import Scheduler
from services.turnaround.settings import TurnaroundSettings

SERVICE = "turnaround"


def utc_now() -> datetime:
    return datetime.now(UTC)


def load_rules(settings: TurnaroundSettings) -> domain.ClockRules:
    """Read the calendar, catalog, route limits and province table; a malformed file stops the start."""
    return domain.ClockRules(
        calendar=load_calendar(),
        catalog=load_catalog(),
        route_limits=load_route_limits(),
        provinces=load_provinces(),
        legal=legal_rules_of(settings),
    )


@dataclass
class Turnaround:
    """The wired parts, kept on app.state.turnaround (tests drive the scheduler and snapshot through it)."""

    settings: TurnaroundSettings
    rules: domain.ClockRules
    engine: AsyncEngine
    broker: KafkaBroker
    registry: CollectorRegistry
    snapshot: StoreSnapshot
    lag: ConsumerLagMonitor
    scheduler: Scheduler
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        await self.broker.start()
        with contextlib.suppress(Exception):  # the loop retries; /ready reports the database
            await self.snapshot.refresh()
        self.tasks = [
            asyncio.create_task(
                self.snapshot.run(self.settings.snapshot_interval_s), name="metrics-snapshot"
            ),
            asyncio.create_task(self.lag.run(self.settings.lag_interval_s), name="consumer-lag"),
            asyncio.create_task(self.scheduler.run_ticks(), name="alert-ticks"),
            asyncio.create_task(self.scheduler.run_relay(), name="outbox-relay"),
        ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.broker.stop()
        await self.engine.dispose()


def build(
    settings: TurnaroundSettings, *, now: Now = utc_now, rules: domain.ClockRules | None = None
) -> Turnaround:
    rules = rules or load_rules(settings)
    registry = CollectorRegistry()
    engine = make_engine(settings.database_url)
    security = kafka_security_of(settings)
    broker = make_broker(
        settings.kafka_bootstrap_servers,
        client_id=SERVICE,
        metrics_registry=registry,
        security=security,
    )
    metrics = TurnaroundMetrics(registry)
    consumers.subscribe(
        broker,
        engine=engine,
        projector=ClockProjector(rules, now),
        metrics=ConsumerMetrics(registry),
        group_id=settings.consumer_group,
    )
    snapshot = StoreSnapshot(
        engine,
        today=lambda: domain.vn_day(now()),
        horizon=lambda day: domain.alert_horizon(day, rules.calendar),
    )
    groups = {settings.consumer_group: [t.name for t in consumers.TOPICS], **settings.lag_groups}
    lag = ConsumerLagMonitor(
        settings.kafka_bootstrap_servers, groups, client_id=f"{SERVICE}-lag", security=security
    )
    registry.register(StoreCollector(snapshot, rules.route_limits))
    registry.register(LagCollector(lag))
    scheduler = Scheduler(
        AlertRaiser(engine, rules, now, metrics),
        OutboxRelay(engine, EventPublisher(broker), metrics),
        metrics,
        tick_interval_s=settings.tick_interval_s,
        relay_interval_s=settings.relay_interval_s,
    )
    return Turnaround(settings, rules, engine, broker, registry, snapshot, lag, scheduler)


def create_app(
    settings: TurnaroundSettings | None = None, *, now: Now = utc_now, rules: domain.ClockRules | None = None
) -> FastAPI:
    from services.shared.body_limit import limit_bodies
    from services.shared.http import instrument

    service = build(settings or TurnaroundSettings(), now=now, rules=rules)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Built here, not in create_app: the OpenAPI document is generated without a signing secret.
        app.state.authenticator = Authenticator(
            TokenSigner(service.settings.auth_secret.get_secret_value()),
            CredentialRegistry(service.engine, cache_seconds=service.settings.credential_cache_s),
        )
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="Turnaround", description="Legal clocks of dossiers in working days.", lifespan=lifespan
    )
    app.state.turnaround = service
    app.state.engine = service.engine

    async def database_ready() -> str | None:
        return await database_not_ready(service.engine)

    async def kafka_ready() -> str | None:
        return await kafka_not_ready(service.broker)

    limit_bodies(app, service.settings)
    instrument(
        app,
        service.registry,
        {
            "database": database_ready,
            "kafka": kafka_ready,
            "consumer_groups": group_membership(service.broker).ready_check,
        },
    )
    app.include_router(api.router)
    objectives_wiring.install(app, service, now)
    app.include_router(reports_router(now))
    app.include_router(nonconformity_api.router)
    return app
