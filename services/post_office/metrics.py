"""Every Prometheus metric of the post office service (the HTTP request metrics come from
services.shared.http.instrument). Labels have few values: event types, reason codes, outcomes;
never an item id or a dossier id."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

from contracts.events import POSTAL


class PostOfficeMetrics:
    def __init__(self, registry: CollectorRegistry, reasons: Iterable[str]) -> None:
        self.events_published = Counter(
            "post_office_events_published_total",
            "Postal events acknowledged by Kafka, by event type.",
            ["type"],
            registry=registry,
        )
        self.rejections = Counter(
            "post_office_rejections_total",
            "Requests, manifest items and scans refused, by reason.",
            ["reason"],
            registry=registry,
        )
        self.scans = Counter(
            "post_office_scans_total",
            "Scans received (online and in offline batches), by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.publish_duration = Histogram(
            "post_office_publish_duration_seconds",
            "Time from handing a request's events to Kafka until every acknowledgement arrived.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        # Known label values start at zero, so dashboards and rate() see them before the first one.
        for model in POSTAL:
            self.events_published.labels(model.key()[0])
        for reason in reasons:
            self.rejections.labels(reason)
        for outcome in ("accepted", "duplicate", "rejected"):
            self.scans.labels(outcome)

    def published(self, event_types: Iterable[str]) -> None:
        for event_type in event_types:
            self.events_published.labels(event_type).inc()

    def rejected(self, reason: str) -> None:
        self.rejections.labels(reason).inc()
