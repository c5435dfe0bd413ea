"""The notifications service's metrics for the dashboard test: the service's own metric definitions
(services/notifications/metrics.py) served on /metrics to the test's Prometheus and fed a known traffic,
so that every panel of the "Citizen notifications" dashboard is run against the names, labels and types
the service exports, through the committed scrape job and recording rules.

The dispatcher is not run here (it needs the post office's contacts and the providers; its counting is
tested in tests/notifications/): the traffic is counted through the same calls the dispatcher makes.
Every labelled series is created at zero and scraped before anything is counted, as a series the service
keeps does in production, so that increase() sees the whole count.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app

from services.notifications.metrics import NotificationMetrics


@dataclass(frozen=True)
class NotificationTraffic:
    """What the exporter counts; the dashboard's expected values follow from it."""

    finished: Mapping[tuple[str, str, str], int]
    """(channel, template, outcome) → messages: sent, failed, retried, dead."""
    suppressed: Mapping[tuple[str, str, str], int]
    """(channel or "none", template, reason) → messages not sent on purpose."""
    latencies: Mapping[str, tuple[float, ...]]
    """channel → how long each send took, in seconds."""
    queue: Mapping[str, int]
    """channel → messages waiting."""
    receipts: Mapping[tuple[str, str], int]
    """(channel, status) → delivery receipts."""
    fallbacks: Mapping[tuple[str, str], int]
    """(from channel, to channel) → messages that went on to another channel."""

    def outcomes(self, channel: str, *outcomes: str) -> int:
        return sum(
            n for (ch, _, outcome), n in self.finished.items() if ch == channel and outcome in outcomes
        )

    def channels(self) -> set[str]:
        return {channel for channel, _, _ in self.finished}


TRAFFIC = NotificationTraffic(
    finished={
        ("email", "accepted", "sent"): 30,
        ("email", "result_ready", "sent"): 10,
        ("email", "accepted", "failed"): 2,
        ("email", "clock_overdue", "retried"): 3,
        ("email", "clock_overdue", "dead"): 1,
        ("sms", "accepted", "sent"): 40,
        ("sms", "delivery_failed", "sent"): 8,
        ("sms", "accepted", "failed"): 6,
        ("sms", "accepted", "retried"): 5,
        ("sms", "result_ready", "dead"): 2,
        ("zalo", "accepted", "sent"): 12,
        ("zalo", "accepted", "failed"): 4,
    },
    suppressed={
        ("none", "accepted", "no_consent"): 7,
        ("sms", "received", "late"): 3,
        ("email", "clock_due_soon", "no_address"): 2,
        ("zalo", "delivered", "erased"): 1,
    },
    latencies={
        "email": (0.03, 0.04, 0.07, 0.08, 0.09, 0.2, 0.3, 0.3, 0.4, 0.6),
        "sms": (0.2, 0.2, 0.3, 0.3, 0.4, 0.6, 0.7, 0.8, 1.5, 2.0, 3.0, 4.0),
        "zalo": (0.08, 0.15, 0.15, 0.2, 0.3, 6.0),
    },
    queue={"email": 4, "sms": 17},
    receipts={
        ("sms", "delivered"): 36,
        ("sms", "temporary_failure"): 3,
        ("sms", "permanent_failure"): 4,
        ("zalo", "delivered"): 10,
        ("zalo", "permanent_failure"): 2,
    },
    fallbacks={("zalo", "sms"): 4, ("sms", "email"): 3},
)


class NotificationExporter:
    """The service's metrics in a registry of their own, as the service's /metrics serves them."""

    def __init__(self, traffic: NotificationTraffic) -> None:
        self.traffic = traffic
        self.registry = CollectorRegistry()
        self.metrics = NotificationMetrics(self.registry)
        self._create_at_zero()

    def _create_at_zero(self) -> None:
        t = self.traffic
        for labels in t.finished:
            self.metrics.messages.labels(*labels)
        for channel, template, reason in t.suppressed:
            self.metrics.messages.labels(channel, template, "suppressed")
            self.metrics.suppressed.labels(reason)
        for channel in t.latencies:
            self.metrics.provider_latency.labels(channel)
        for receipt in t.receipts:
            self.metrics.receipts.labels(*receipt)
        for fallback in t.fallbacks:
            self.metrics.fallbacks.labels(*fallback)

    def count(self) -> None:
        """The whole traffic, through the calls the dispatcher makes."""
        t = self.traffic
        for (channel, template, outcome), n in t.finished.items():
            for _ in range(n):
                self.metrics.count(channel, template, outcome)
        for (channel, template, reason), n in t.suppressed.items():
            for _ in range(n):
                self.metrics.count(channel, template, "suppressed", reason)
        for channel, seconds in t.latencies.items():
            for s in seconds:
                self.metrics.provider_latency.labels(channel).observe(s)
        for channel, depth in t.queue.items():
            self.metrics.queue_depth.labels(channel).set(depth)
        for receipt, n in t.receipts.items():
            self.metrics.receipts.labels(*receipt).inc(n)
        for fallback, n in t.fallbacks.items():
            self.metrics.fallbacks.labels(*fallback).inc(n)

    def scraped(self) -> list[tuple[str, float]]:
        """(query, value) pairs that hold once Prometheus has scraped the whole traffic."""
        t = self.traffic
        return [
            ("sum(notifications_messages_total)", sum(t.finished.values()) + sum(t.suppressed.values())),
            ("sum(notifications_suppressed_total)", sum(t.suppressed.values())),
            (
                'sum(notifications_provider_latency_seconds_bucket{le="+Inf"})',
                sum(len(s) for s in t.latencies.values()),
            ),
            ("sum(notifications_queue_depth)", sum(t.queue.values())),
            ("sum(notifications_receipts_total)", sum(t.receipts.values())),
            ("sum(notifications_fallbacks_total)", sum(t.fallbacks.values())),
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def notification_exporter(
    traffic: NotificationTraffic,
) -> AsyncIterator[tuple[str, NotificationExporter]]:
    """Serves the exporter's registry over HTTP; yields its host:port and the exporter."""
    exporter = NotificationExporter(traffic)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            make_asgi_app(exporter.registry), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(60):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
        yield f"127.0.0.1:{port}", exporter
    finally:
        server.should_exit = True
        await task
