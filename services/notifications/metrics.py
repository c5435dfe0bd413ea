"""Every Prometheus metric of the notifications service. Labels are bounded: channel (email, sms, zalo,
none), template (the message kinds, a dozen), outcome (sent, failed, suppressed, retried, dead), reason
(a closed set of codes), status (the three receipt statuses). Never a dossier id, a phone number or an
address.

Counted by the replica that did the step: sum across replicas. The queue depth is read from the store by
the dispatcher, so every replica exports the same value: take ``max``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.notifications.ports import Channel

NO_CHANNEL = "none"


class NotificationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "notifications_messages_total",
            "Messages by channel, template and outcome (sent, failed, suppressed, retried, dead).",
            ["channel", "template", "outcome"],
            registry=registry,
        )
        self.suppressed = Counter(
            "notifications_suppressed_total",
            "Messages not sent, by reason (no_consent, erased, late, no_address).",
            ["reason"],
            registry=registry,
        )
        self.provider_latency = Histogram(
            "notifications_provider_latency_seconds",
            "Time a channel's provider took to answer one send.",
            ["channel"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.queue_depth = Gauge(
            "notifications_queue_depth",
            "Messages waiting to be sent (pending, queued for quiet hours, or being retried), by channel.",
            ["channel"],
            registry=registry,
        )
        self.receipts = Counter(
            "notifications_receipts_total",
            "Delivery receipts the providers reported (each distinct one once), by channel and status "
            "(delivered, temporary_failure, permanent_failure).",
            ["channel", "status"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "notifications_fallbacks_total",
            "Messages sent again on another consented channel after a permanent failure, by channels.",
            ["from_channel", "to_channel"],
            registry=registry,
        )
        for channel in [*(c.value for c in Channel)]:
            self.queue_depth.labels(channel).set(0)

    def count(self, channel: str | None, template: str, outcome: str, reason: str | None = None) -> None:
        self.messages.labels(channel or NO_CHANNEL, template, outcome).inc()
        if outcome == "suppressed" and reason is not None:
            self.suppressed.labels(reason).inc()
