"""The composition root: settings, database engine, Kafka producer, rules and routes.

Nothing connects at import or in create_app: the lifespan connects (and disconnects) the database and
the Kafka producer, and loads the procedure catalog, the working calendar and the postal time limits.
The schema is created by `python -m services.shared.db.migrate upgrade` before the service starts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from prometheus_client import CollectorRegistry

from contracts.values import S10_ERROR_CODES
from services.post_office import api, consumers
from services.post_office.adapters.tables import personal_data_tables
from services.post_office.agency_facts import AgencyFacts
from services.post_office.contact_reads import ContactReads
from services.post_office.domain import Reason
from services.post_office.erasure import PostalErasureAnnouncer
from services.post_office.handlers import PostOfficeHandlers, Rules
from services.post_office.metrics import PostOfficeMetrics
from services.post_office.serving import main as serving_main
from services.post_office.settings import PostOfficeSettings
from services.post_office.verified_tokens import RememberingSigner
from services.shared import heap
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
from services.shared.postal_limits import load_route_limits
from services.shared.readiness import database_not_ready, kafka_not_ready

TITLE = "Post office API"
VERSION = "1.0.0"
DESCRIPTION = """Post office clerks and couriers record every physical handover of an administrative-procedure
dossier or its result (Decision 45/2016/QĐ-TTg). Each act is published as a postal event on Kafka
(`postal.events.v1`); a 2xx answer means Kafka acknowledged it. When Kafka does not acknowledge in time the
answer is 503 with Retry-After and nothing is recorded: retry the same request (it yields the same event ids).

Every request carries `Authorization: Bearer <token>`, issued by an operator with `dossier-credentials issue`
and bound to one post office (clerks, couriers: they record for that post office only) or to none
(operators: any post office). Errors are `application/problem+json` with a stable `reason`."""


# A full garbage collection every 100 middle ones instead of 10 (see heap.settle): at 300 scans/s one
# every ~20 s instead of every 2 s.
FULL_COLLECTION_EVERY = 100


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: PostOfficeSettings | None = None, *, clock: Callable[[], datetime] = _utc_now
) -> FastAPI:
    settings = settings or PostOfficeSettings()
    registry = CollectorRegistry()
    metrics = PostOfficeMetrics(
        registry, [*(r.value for r in Reason), *(r.value for r in api.RequestReason), *S10_ERROR_CODES]
    )
    consumer_metrics = ConsumerMetrics(registry)
    resources: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Configuration first: a malformed catalog or calendar stops the start with a clear message.
        rules = Rules(
            catalog=load_catalog(),
            calendar=load_calendar(),
            limits=load_route_limits(),
            clock_skew=timedelta(seconds=settings.clock_skew_s),
        )
        signer = RememberingSigner(settings.auth_secret.get_secret_value())
        # No pre-ping: every request already answers a lost database connection with 503 and Retry-After
        # (api._guarded, and shared.http for the authentication), and a ping was one of the seven round
        # trips of every scan (issue 19).
        engine = make_engine(settings.database_url, pre_ping=False)
        broker = make_broker(
            settings.kafka_bootstrap_servers,
            client_id=settings.kafka_client_id,
            metrics_registry=registry,
            security=kafka_security_of(settings),
        )
        try:
            vault = Vault(personal_data_tables, settings.keyring(), settings.blind_index())
            # One member of the group in every worker process: Kafka spreads agency.events.v1's
            # partitions over them, and a worker that dies hands its partitions to the others.
            consumers.subscribe(
                broker,
                engine=engine,
                facts=AgencyFacts(vault, settings.retention()),
                metrics=consumer_metrics,
                group_id=settings.agency_events_group_id,
            )
            await broker.start()
            resources.update(engine=engine, broker=broker)
            publisher = EventPublisher(broker, timeout_s=settings.publish_timeout_s)
            announce = PostalErasureAnnouncer(publisher)
            app.state.erasure_job = ErasureJob(
                engine, vault, announce, clock, interval_s=settings.personal_data_erasure_interval_s
            )
            app.state.post_office = api.PostOffice(
                contact_reads=ContactReads(engine, vault, clock),
                handlers=PostOfficeHandlers(
                    engine,
                    publisher,
                    rules,
                    metrics,
                    clock,
                    vault,
                    settings.phone_check(),
                    settings.retention(),
                ),
                authenticator=Authenticator(
                    signer, CredentialRegistry(engine, cache_seconds=settings.credential_cache_s), clock
                ),
                metrics=metrics,
                retry_after_s=settings.retry_after_s,
                rights=RightsDesk(engine, vault, announce, clock, service="post_office"),
            )
            heap.settle(full_collection_every=FULL_COLLECTION_EVERY)
            # Every replica (and worker) runs it: the vault's row locks make each erasure happen once.
            resources.update(
                erasing=asyncio.create_task(app.state.erasure_job.run(), name="personal-data-erasure")
            )
            yield
        finally:
            if (job := resources.get("erasing")) is not None:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            resources.clear()
            await broker.stop()
            await engine.dispose()

    async def database_ready() -> str | None:
        return await database_not_ready(resources.get("engine"))

    async def kafka_ready() -> str | None:
        return await kafka_not_ready(resources.get("broker"))

    async def consumer_groups_ready() -> str | None:
        broker = resources.get("broker")
        if broker is None:
            return "not started"
        return group_membership(broker).not_ready()

    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan)
    # Not include_router: FastAPI 0.165 keeps an included router as one opaque entry of app.router.routes,
    # and services.shared.http's MetricsMiddleware, which matches those entries, would label every request
    # of this API route="other". The router's routes already carry their full paths.
    app.router.routes.extend(api.router.routes)
    limit_bodies(
        app,
        settings,
        route_limits=api.BATCH_BODY_LIMITS,
        on_refused=lambda reason: metrics.rejected(api.RequestReason(reason)),
    )
    instrument(
        app,
        registry,
        {"database": database_ready, "kafka": kafka_ready, "consumer_groups": consumer_groups_ready},
        retry_after_s=settings.retry_after_s,
    )
    api.count_schema_refusals(app, metrics)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_media_type(
                get_openapi(title=TITLE, version=VERSION, description=DESCRIPTION, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _problem_media_type(document: dict[str, Any]) -> dict[str, Any]:
    """Error answers are application/problem+json; FastAPI documents every response as application/json."""
    for operation in (op for path in document.get("paths", {}).values() for op in path.values()):
        for status, response in operation.get("responses", {}).items():
            content = response.get("content", {})
            if status.isdigit() and int(status) >= 400 and "application/json" in content:
                response["content"] = {"application/problem+json": content["application/json"]}
    return document


# The entrypoint lives in serving.py, which imports nothing of the app; kept here for its callers.
main = serving_main
