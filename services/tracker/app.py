"""The composition root: the one place that wires settings, engine, broker, consumer, relay and routes.

Nothing connects when it is built: the broker connects in ``Tracker.consuming()`` (or the app's lifespan),
the engine on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared import heap
from services.shared.auth import TokenSigner
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.registry import CredentialRegistry
from services.shared.body_limit import limit_bodies
from services.shared.calendar import load_calendar, to_vietnam_time
from services.shared.catalog import load_catalog
from services.shared.consuming import KafkaDeadLetterSink
from services.shared.cursors import CursorSigner, derive_key
from services.shared.db.engine import make_engine
from services.shared.http import ReadyCheck, instrument
from services.shared.kafka import EventPublisher, make_broker
from services.shared.kafka_groups import group_membership
from services.shared.kafka_security import kafka_security_of
from services.shared.readiness import database_not_ready, kafka_not_ready
from services.shared.settings import legal_rules_of
from services.tracker import api, consumers
from services.tracker.adapters import repository
from services.tracker.adapters.lookup_budget import LookupBudget
from services.tracker.adapters.outbox import OutboxRelay
from services.tracker.answers import OfficeDirectory
from services.tracker.domain import AgencyDuePolicy
from services.tracker.handlers import CatalogAgencyDue, PhoneDigest, Projector
from services.tracker.metrics import TrackerMetrics
from services.tracker.page import routes as page
from services.tracker.settings import TrackerSettings

T = TypeVar("T")


# A full garbage collection every 100 middle ones instead of CPython's 10 (see heap.settle). Measured
# with gc.callbacks on 200,000 events (bench/): 70 full collections took 9.5 s of the consumer's 36.5 s
# of CPU, a quarter of it, walking the batches in flight; with the start-up heap frozen and full
# collections ten times rarer, 13 took 0.9 s and the whole run 26.6 s. A larger young generation
# (10,000) cost more CPU and 50 MiB more memory: left at CPython's 700.
FULL_COLLECTION_EVERY = 100


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Tracker:
    settings: TrackerSettings
    engine: AsyncEngine
    registry: CollectorRegistry
    metrics: TrackerMetrics
    due: AgencyDuePolicy
    digest: PhoneDigest
    projector: Projector
    processor: consumers.TrackerBatchProcessor
    broker: KafkaBroker
    relay: OutboxRelay
    api: FastAPI

    @contextlib.asynccontextmanager
    async def consuming(self) -> AsyncIterator[None]:
        """Run the consumer group and the outbox relay for as long as the context lasts."""
        await self.broker.start()
        heap.settle(full_collection_every=FULL_COLLECTION_EVERY)
        relay = asyncio.create_task(self.relay.run(), name="tracker-outbox-relay")
        try:
            yield
        finally:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
            await self.broker.stop()

    async def dispose(self) -> None:
        await self.engine.dispose()


def agency_due_policy(settings: TrackerSettings) -> AgencyDuePolicy:
    return CatalogAgencyDue(load_catalog(), load_calendar(), legal_rules_of(settings))


def build(
    settings: TrackerSettings | None = None,
    *,
    consume: bool = True,
    clock: Callable[[], datetime] = _utc_now,
) -> Tracker:
    """The tracker wired from settings. With ``consume`` the app's lifespan runs the consumer and relay."""
    settings = settings or TrackerSettings()
    engine = repository.tune(make_engine(settings.database_url))
    registry = CollectorRegistry()
    metrics = TrackerMetrics(registry)
    due = agency_due_policy(settings)
    digest_keys = settings.phone_digest_keys()
    digest = PhoneDigest(digest_keys)

    broker = make_broker(
        settings.kafka_bootstrap_servers,
        client_id=settings.kafka_client_id,
        metrics_registry=registry,
        security=kafka_security_of(settings),
    )
    relay = OutboxRelay(
        engine,
        EventPublisher(broker, timeout_s=settings.publish_timeout_s),
        metrics,
        batch=settings.outbox_batch,
        idle_s=settings.outbox_idle_s,
    )
    projector = Projector(due=due, digest=digest, metrics=metrics, on_commit=relay.wake, clock=clock)
    processor = consumers.TrackerBatchProcessor(
        consumer=settings.consumer_group,
        engine=engine,
        apply=projector,
        dead_letters=KafkaDeadLetterSink(broker),
        metrics=metrics.consumer,
        exit_after_commits=settings.fault_exit_after_commit,
    )
    consumers.subscribe(broker, processor, settings)

    authenticator = Authenticator(
        TokenSigner(settings.auth_secret.get_secret_value()),
        CredentialRegistry(engine, cache_seconds=settings.credential_cache_s),
    )

    def today() -> date:
        return to_vietnam_time(clock()).date()

    context = api.ApiContext(
        engine=engine,
        authenticator=authenticator,
        digest=digest,
        due=due,
        budget=LookupBudget(
            engine,
            derive_key(digest_keys[0], "tracker.lookup-budget.v1"),
            allowed=settings.public_lookup_failures,
            window_s=settings.public_lookup_window_s,
            clock=clock,
        ),
        cursors=CursorSigner(settings.cursor_signing_key()),
        directory=OfficeDirectory.load(settings.office_directory),
        metrics=metrics,
        today=today,
    )
    tracker: Tracker

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            if consume:
                async with tracker.consuming():
                    yield
            else:
                yield
        finally:
            await tracker.dispose()

    app = FastAPI(
        title=api.API_TITLE,
        version=api.API_VERSION,
        description=(api.__doc__ or "").strip(),
        lifespan=lifespan,
    )
    api.install(app, context)
    app.include_router(page.router)  # the citizen's tracking page, over the same public lookup

    async def database_ready() -> str | None:
        return await database_not_ready(engine)

    async def kafka_ready() -> str | None:
        return await kafka_not_ready(broker)

    checks: dict[str, ReadyCheck] = {"database": database_ready}
    if consume:
        checks["kafka"] = kafka_ready
        checks["consumer_groups"] = group_membership(broker).ready_check
    limit_bodies(app, settings)
    instrument(app, registry, checks)

    tracker = Tracker(
        settings=settings,
        engine=engine,
        registry=registry,
        metrics=metrics,
        due=due,
        digest=digest,
        projector=projector,
        processor=processor,
        broker=broker,
        relay=relay,
        api=app,
    )
    return tracker


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run the tracker's consumer or a command on uvloop when it is installed (uvicorn[standard] brings
    it, and uvicorn serves the API on it): its sockets and event loop cost the consumer less CPU."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] installs it
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def create_app() -> FastAPI:
    """The ASGI app for uvicorn (``--factory``): API, consumer and relay in one process."""
    return build().api
