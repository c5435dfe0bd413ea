"""Every event of a dossier's journey and the registry: (type, version) → model → topic.

The type prefix names the producer and selects the topic: ``postal.`` → postal.events.v1,
``agency.`` → agency.events.v1 (agency systems publish the same envelopes on agency.intake.v1),
``tracker.`` → tracker.stage-changed.v1, ``turnaround.`` → turnaround.clock-alerts.v1.
"""

from __future__ import annotations

from contracts import topics
from contracts.events.agency import (
    AgencyEvent,
    DelayNotified,
    DossierClosed,
    DossierProcessing,
    DossierReceived,
    DossierRefused,
    DossierRegisteredForReturn,
    DossierRegisteredForReturnV2,
    DossierWithdrawn,
    ResultReady,
    SupplementReceived,
    SupplementRequested,
)
from contracts.events.agency import (
    PersonalDataErased as AgencyPersonalDataErased,
)
from contracts.events.base import PERSONAL_DATA, Event, EventKey, EventT
from contracts.events.parts import Address, ApplicantContact, CustodyHolder, DocumentChecked, PhoneCheck
from contracts.events.postal import (
    DeliveryFailed,
    DeliveryFailedV2,
    DossierAccepted,
    DossierAcceptedV2,
    DossierHandedToAgency,
    DossierInTransit,
    ItemDamaged,
    ItemLost,
    PersonalDataErased,
    PostalEvent,
    ResultDelivered,
    ResultOutForDelivery,
    ResultPickedUp,
    ResultReturnedToAgency,
)
from contracts.events.tracker import StageChanged
from contracts.events.turnaround import ClockAlert, ClockDueSoon, ClockOverdue
from contracts.topics import Topic

POSTAL: tuple[type[Event], ...] = (
    DossierAccepted,
    DossierAcceptedV2,
    DossierInTransit,
    DossierHandedToAgency,
    ResultPickedUp,
    ResultOutForDelivery,
    DeliveryFailed,
    DeliveryFailedV2,
    ResultDelivered,
    ResultReturnedToAgency,
    ItemLost,
    ItemDamaged,
    PersonalDataErased,
)
AGENCY: tuple[type[Event], ...] = (
    DossierReceived,
    DossierRefused,
    SupplementRequested,
    SupplementReceived,
    DossierProcessing,
    DelayNotified,
    DossierWithdrawn,
    ResultReady,
    DossierRegisteredForReturn,
    DossierRegisteredForReturnV2,
    DossierClosed,
    AgencyPersonalDataErased,
)
TRACKER: tuple[type[Event], ...] = (StageChanged,)
TURNAROUND: tuple[type[Event], ...] = (ClockDueSoon, ClockOverdue)

ALL_EVENTS: tuple[type[Event], ...] = POSTAL + AGENCY + TRACKER + TURNAROUND

EVENT_TYPES: dict[EventKey, type[Event]] = {model.key(): model for model in ALL_EVENTS}
"""(type, version) → the model of its data."""

_TOPIC_BY_PREFIX: dict[str, Topic] = {
    "postal": topics.POSTAL_EVENTS,
    "agency": topics.AGENCY_EVENTS,
    "tracker": topics.STAGE_CHANGED,
    "turnaround": topics.CLOCK_ALERTS,
}

# Which events each dossier topic carries. Raw agency reports carry the same envelopes as validated ones.
_CARRIED: dict[str, tuple[type[Event], ...]] = {
    topics.POSTAL_EVENTS.name: POSTAL,
    topics.AGENCY_EVENTS.name: AGENCY,
    topics.AGENCY_INTAKE.name: AGENCY,
    topics.STAGE_CHANGED.name: TRACKER,
    topics.CLOCK_ALERTS.name: TURNAROUND,
}


def topic_for(event_type: str) -> Topic:
    """The topic a producer publishes an event type on."""
    prefix = event_type.partition(".")[0]
    try:
        return _TOPIC_BY_PREFIX[prefix]
    except KeyError:
        raise KeyError(f"no topic for event type {event_type!r}") from None


EVENT_TOPICS: dict[EventKey, Topic] = {key: topic_for(key[0]) for key in EVENT_TYPES}
"""(type, version) → the topic its producer publishes it on."""


def events_on(topic: Topic) -> tuple[type[Event], ...]:
    """The events a topic carries (none for dead-letter topics, which hold raw bytes)."""
    return _CARRIED.get(topic.name, ())


def versions_of(event_type: str) -> tuple[int, ...]:
    """The schema versions known for an event type, oldest first; empty if the type is unknown."""
    return tuple(sorted(version for (known, version) in EVENT_TYPES if known == event_type))


__all__ = [
    "AGENCY",
    "ALL_EVENTS",
    "EVENT_TOPICS",
    "EVENT_TYPES",
    "PERSONAL_DATA",
    "POSTAL",
    "TRACKER",
    "TURNAROUND",
    "Address",
    "AgencyEvent",
    "AgencyPersonalDataErased",
    "ApplicantContact",
    "ClockAlert",
    "ClockDueSoon",
    "ClockOverdue",
    "CustodyHolder",
    "DelayNotified",
    "DeliveryFailed",
    "DeliveryFailedV2",
    "DocumentChecked",
    "DossierAccepted",
    "DossierAcceptedV2",
    "DossierClosed",
    "DossierHandedToAgency",
    "DossierInTransit",
    "DossierProcessing",
    "DossierReceived",
    "DossierRefused",
    "DossierRegisteredForReturn",
    "DossierRegisteredForReturnV2",
    "DossierWithdrawn",
    "Event",
    "EventKey",
    "EventT",
    "ItemDamaged",
    "ItemLost",
    "PersonalDataErased",
    "PhoneCheck",
    "PostalEvent",
    "ResultDelivered",
    "ResultOutForDelivery",
    "ResultPickedUp",
    "ResultReady",
    "ResultReturnedToAgency",
    "StageChanged",
    "SupplementReceived",
    "SupplementRequested",
    "events_on",
    "topic_for",
    "versions_of",
]
