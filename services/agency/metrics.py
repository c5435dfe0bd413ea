"""Every Prometheus metric of the agency service, on the app's own registry. Labels have few values."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

CHANNELS = ("http", "intake", "closure")
"""How a report came in: an officer through the API, an agency system through agency.intake.v1, or the
service's own closure job (a dossier whose supplement never came)."""


class AgencyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events_published = Counter(
            "agency_events_published_total",
            "Agency events published on agency.events.v1 after Kafka's acknowledgement, by type and channel.",
            ["type", "channel"],
            registry=registry,
        )
        self.reports_rejected = Counter(
            "agency_reports_rejected_total",
            "Reports the rules refused (unknown dossier, another agency's, a conflict with the dossier's "
            "state, invalid), by reason and channel.",
            ["reason", "channel"],
            registry=registry,
        )
        self.closure_runs = Counter(
            "agency_closure_runs_total",
            "Runs of the closure job (dossiers whose supplement never came), by outcome (ok, failed).",
            ["outcome"],
            registry=registry,
        )
        self.intake_dead_letters = Counter(
            "agency_intake_dead_letters_total",
            "Messages of agency.intake.v1 sent to agency.intake.v1.dlt, by reason (contract violations and "
            "rule violations alike).",
            ["reason"],
            registry=registry,
        )
