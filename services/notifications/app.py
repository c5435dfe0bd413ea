"""The composition root: settings → templates, engine, broker, consumer, channels, dispatcher, metrics,
HTTP app (the staff's read of a dossier's messages, the providers' receipts, /health, /ready, /metrics).
Nothing connects when this module is imported or ``create_app`` is called; the lifespan starts the broker
and the dispatcher and stops them in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifications import consumers, staff_api
from services.notifications.channels.email import SmtpConfig, SmtpSender
from services.notifications.channels.sms import EsmsConfig, EsmsSender
from services.notifications.channels.zalo import ZaloConfig, ZaloZnsSender
from services.notifications.contacts import ContactStore, OwnerContacts
from services.notifications.deliveries import Deliveries
from services.notifications.handlers import Dispatcher, Learner, Now
from services.notifications.metrics import NotificationMetrics
from services.notifications.ports import Channel, Sender
from services.notifications.receipts.router import ReceiptSecrets, receipts_router
from services.notifications.settings import NotificationsSettings
from services.notifications.templates import load_late_rule, load_templates
from services.shared.auth import TokenSigner
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.registry import CredentialRegistry
from services.shared.consuming import ConsumerMetrics
from services.shared.db.engine import make_engine
from services.shared.kafka import make_broker
from services.shared.kafka_groups import group_membership
from services.shared.kafka_security import kafka_security_of
from services.shared.readiness import database_not_ready, kafka_not_ready

SERVICE = "notifications"
CONTACT_TIMEOUT_S = 10.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def senders_of(settings: NotificationsSettings, http: httpx.AsyncClient) -> dict[Channel, Sender]:
    """The configured channels' adapters: e-mail always; SMS and Zalo when their provider is set."""
    senders: dict[Channel, Sender] = {Channel.EMAIL: email_sender(settings)}
    if settings.esms_base_url:
        public = settings.public_url.rstrip("/")
        senders[Channel.SMS] = EsmsSender(
            EsmsConfig(
                base_url=settings.esms_base_url,
                api_key=settings.esms_api_key.get_secret_value(),
                secret_key=settings.esms_secret_key.get_secret_value(),
                brandname=settings.esms_brandname,
                callback_url=f"{public}/receipts/sms" if public else None,
                callback_secret=settings.esms_callback_secret.get_secret_value().encode(),
                sandbox=settings.esms_sandbox,
            ),
            http,
        )
    if settings.zalo_base_url:
        senders[Channel.ZALO] = ZaloZnsSender(
            ZaloConfig(
                base_url=settings.zalo_base_url,
                access_token=settings.zalo_access_token.get_secret_value(),
                templates=settings.zalo_templates,
            ),
            http,
        )
    return senders


def receipt_secrets(settings: NotificationsSettings) -> ReceiptSecrets:
    return ReceiptSecrets(
        esms_callback_secret=settings.esms_callback_secret.get_secret_value().encode(),
        zalo_app_id=settings.zalo_app_id,
        zalo_oa_secret_key=settings.zalo_oa_secret_key.get_secret_value(),
    )


def email_sender(settings: NotificationsSettings) -> SmtpSender:
    return SmtpSender(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username or None,
            password=settings.smtp_password.get_secret_value() or None,
            timeout_s=settings.smtp_timeout_s,
        )
    )


@dataclass
class Notifications:
    """The wired parts, kept on app.state.notifications (tests drive the dispatcher through it)."""

    settings: NotificationsSettings
    engine: AsyncEngine
    broker: KafkaBroker
    registry: CollectorRegistry
    http: httpx.AsyncClient
    dispatcher: Dispatcher
    deliveries: Deliveries
    dispatching: bool = True
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        await self.broker.start()
        if self.dispatching:
            self.tasks = [
                asyncio.create_task(self.dispatcher.run(self.settings.dispatch_interval_s), name="dispatcher")
            ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.broker.stop()
        await self.http.aclose()
        await self.engine.dispose()


def build(
    settings: NotificationsSettings,
    *,
    now: Now = utc_now,
    senders: Mapping[Channel, Sender] | None = None,
    http: httpx.AsyncClient | None = None,
    dispatching: bool = True,
) -> Notifications:
    """``senders``: the channels' adapters (default: ``senders_of`` the settings). ``dispatching=False``:
    the dispatcher runs only when a test calls it."""
    registry = CollectorRegistry()
    engine = make_engine(settings.database_url)
    broker = make_broker(
        settings.kafka_bootstrap_servers,
        client_id=SERVICE,
        metrics_registry=registry,
        security=kafka_security_of(settings),
    )
    metrics = NotificationMetrics(registry)
    consumers.subscribe(
        broker,
        engine=engine,
        learner=Learner(load_late_rule(), metrics, now),
        metrics=ConsumerMetrics(registry),
        group_id=settings.consumer_group,
    )
    http = http or httpx.AsyncClient(timeout=CONTACT_TIMEOUT_S)
    contacts = ContactStore(
        engine,
        OwnerContacts(
            http,
            post_office_url=settings.post_office_url,
            agency_url=settings.agency_url,
            token=settings.contact_token.get_secret_value(),
        ),
        settings.keyring(),
        timedelta(hours=settings.contact_retention_h),
    )
    deliveries = Deliveries(engine, metrics, now)
    dispatcher = Dispatcher(
        engine,
        book=load_templates(),
        senders=senders if senders is not None else senders_of(settings, http),
        contacts=contacts,
        deliveries=deliveries,
        desk_emails=settings.desk_emails,
        metrics=metrics,
        now=now,
        max_attempts=settings.max_attempts,
        backoff_base_s=settings.backoff_base_s,
        backoff_cap_s=settings.backoff_cap_s,
        lease_s=settings.lease_s,
        send_timeout_s=settings.send_timeout_s,
    )
    return Notifications(settings, engine, broker, registry, http, dispatcher, deliveries, dispatching)


def create_app(
    settings: NotificationsSettings | None = None,
    *,
    now: Now = utc_now,
    senders: Mapping[Channel, Sender] | None = None,
    http: httpx.AsyncClient | None = None,
    dispatching: bool = True,
) -> FastAPI:
    from services.shared.http import instrument

    service = build(
        settings or NotificationsSettings(), now=now, senders=senders, http=http, dispatching=dispatching
    )

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
        title="Notifications",
        description="Tells citizens and agency desks where a dossier stands (e-mail, SMS, Zalo).",
        lifespan=lifespan,
    )
    app.state.notifications = service
    app.include_router(staff_api.router)
    app.include_router(receipts_router(service.deliveries.apply, receipt_secrets(service.settings)))

    async def database_ready() -> str | None:
        return await database_not_ready(service.engine)

    async def kafka_ready() -> str | None:
        return await kafka_not_ready(service.broker)

    instrument(
        app,
        service.registry,
        {
            "database": database_ready,
            "kafka": kafka_ready,
            "consumer_groups": group_membership(service.broker).ready_check,
        },
    )
    return app
