"""Every Prometheus metric of the tracker, on the app's own registry. Labels have few values: event
types, anomaly reasons, stages and outcomes — never dossier ids, item ids or codes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.shared.consuming import ConsumerMetrics


class TrackerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.consumer = ConsumerMetrics(registry)
        self.events_applied = Counter(
            "tracker_events_applied_total",
            "Postal and agency events added to dossier histories, by event type.",
            ["type"],
            registry=registry,
        )
        self.anomalies = Counter(
            "tracker_anomalies_total",
            "Events flagged as contradicting the state machine when they were folded, by reason.",
            ["reason"],
            registry=registry,
        )
        self.anomalies_cleared = Counter(
            "tracker_anomalies_cleared_total",
            "Anomalies a late event resolved (e.g. the missing acceptance arrived), by reason.",
            ["reason"],
            registry=registry,
        )
        self.refolds = Counter(
            "tracker_refolds_total",
            "Dossiers folded again from their whole history because an event arrived that sorts before "
            "their last known one (an offline scanner, or topics read out of step in a catch-up).",
            registry=registry,
        )
        self.stage_changes_published = Counter(
            "tracker_stage_changes_published_total",
            "tracker.stage_changed events acknowledged by Kafka, by the stage reached.",
            ["to_stage"],
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "tracker_outbox_backlog",
            "Stage changes committed to the outbox and not yet acknowledged by Kafka.",
            registry=registry,
        )
        self.outbox_failures = Counter(
            "tracker_outbox_publish_failures_total",
            "Rounds of the outbox relay that Kafka or the database did not complete (retried).",
            registry=registry,
        )
        self.public_lookups = Counter(
            "tracker_public_lookups_total",
            "Public lookups by outcome (found, not_found, rate_limited).",
            ["outcome"],
            registry=registry,
        )
