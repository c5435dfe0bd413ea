"""The topic registry: every Kafka topic the system uses, its partitions, key and dead-letter topic.

Every message on a dossier topic is keyed by the dossier id, so all events of one dossier land on one
partition and keep their order. Partition counts bound how many consumers of a group can share the
work; 12 divides evenly among 1, 2, 3, 4 and 6 replicas.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DOSSIER_KEY = "dossier id (the envelope's subject)"


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    description: str
    key: str = DOSSIER_KEY
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    dead_letter: Topic | None = field(default=None)
    # Dead-letter records are kept long enough for an operator to fix and re-publish them.
    retention_ms: int = 7 * 24 * 3600 * 1000


def _dead_letter(of: str, consumers: tuple[str, ...]) -> Topic:
    return Topic(
        name=f"{of}.dlt",
        partitions=1,
        description=(
            f"Messages from {of} that could not be parsed or validated, with the original bytes and the "
            "reason in headers. Listed and re-published by the dead-letter CLI."
        ),
        key="the original message key, unchanged",
        producers=consumers,
        consumers=("operator CLI",),
        retention_ms=30 * 24 * 3600 * 1000,
    )


POSTAL_EVENTS = Topic(
    name="postal.events.v1",
    partitions=12,
    description="Every physical handover scanned by post offices and couriers: intake, transit, handover to "
    "the agency, result pickup, delivery attempts, delivery, return, loss and damage.",
    producers=("post_office",),
    consumers=("tracker", "turnaround", "agency", "notifications"),
    dead_letter=_dead_letter("postal.events.v1", ("tracker", "turnaround", "agency", "notifications")),
)

AGENCY_EVENTS = Topic(
    name="agency.events.v1",
    partitions=12,
    description="Processing status reported by the agencies' one-stop desks, validated by the agency "
    "service.",
    producers=("agency",),
    consumers=("tracker", "turnaround", "post_office", "notifications"),
    dead_letter=_dead_letter("agency.events.v1", ("tracker", "turnaround", "post_office", "notifications")),
)

AGENCY_INTAKE = Topic(
    name="agency.intake.v1",
    partitions=12,
    description="Raw status reports that agency systems publish directly. The agency service validates them "
    "and republishes valid ones on agency.events.v1; invalid ones go to the dead-letter topic.",
    producers=("agency systems",),
    consumers=("agency",),
    dead_letter=_dead_letter("agency.intake.v1", ("agency",)),
)

STAGE_CHANGED = Topic(
    name="tracker.stage-changed.v1",
    partitions=12,
    description="Every stage a dossier enters, published exactly once with an id derived from (dossier, "
    "cause, stage), whatever the order in which the tracker learned the postal and agency events, its "
    "batches, duplicates, replays, restarts or rebalances. A stage learned after a later one was announced "
    "comes with late=true and its own occurrence time; every message names the dossier's current stage, so "
    "a subscriber never steps a dossier back. A rebuild republishes nothing.",
    producers=("tracker",),
    consumers=("turnaround", "notifications"),
    dead_letter=_dead_letter("tracker.stage-changed.v1", ("turnaround", "notifications")),
)

CLOCK_ALERTS = Topic(
    name="turnaround.clock-alerts.v1",
    partitions=12,
    description="A legal clock of a dossier is due within one working day, or overdue; once per clock and "
    "threshold.",
    producers=("turnaround",),
    consumers=("notifications",),
    dead_letter=_dead_letter("turnaround.clock-alerts.v1", ("notifications",)),
)

DOSSIER_TOPICS: tuple[Topic, ...] = (POSTAL_EVENTS, AGENCY_EVENTS, AGENCY_INTAKE, STAGE_CHANGED, CLOCK_ALERTS)


def all_topics() -> tuple[Topic, ...]:
    """Every topic to create, dead-letter topics included."""
    out: list[Topic] = []
    for topic in DOSSIER_TOPICS:
        out.append(topic)
        if topic.dead_letter is not None:
            out.append(topic.dead_letter)
    return tuple(out)


def by_name(name: str) -> Topic:
    for topic in all_topics():
        if topic.name == name:
            return topic
    raise KeyError(f"unknown topic {name!r}")
