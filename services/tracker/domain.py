"""The tracker's rules: a dossier's stage, custody, dates and anomalies, folded from its ordered history.

Pure: no I/O and no clock reads. The one outside input, the agency due date of a new filing, is a policy
passed in (the handlers back it with the procedure catalog and the working-day calendar).

The history is ordered by occurrence time (the envelope's ``time``), then by the event type's place in
the journey (a handover and the agency's receipt are often stamped with the same instant), then by event
id, so every replica and every rebuild orders it the same way. The state is always the fold of the whole
ordered history: a late event from an offline scanner simply takes its place and the fold runs again.
The fold's whole state is the ``DossierView``, so events that sort after everything known can resume
it from the stored view (``resume``) with the same result as folding the history again.

An event is *allowed* when the state machine lets it happen from the stage the history before it
implies. Otherwise it is kept and flagged as an anomaly, and:
- it still applies when it moves the dossier *forward* along its journey (``skipped_stages``): a
  physical handover is a fact, and a missed scan must not leave custody with the wrong party;
- it does not apply when it would move the dossier backwards (``out_of_sequence``), after the
  journey closed (``after_close``), before the dossier was started (``no_start_event``), when the
  dossier was already started (``duplicate_start``), off its service form (``wrong_service_form``), or
  when it is a second delay notice (``second_delay_notice``, at most one per dossier).
Anomalies are recomputed with the fold, so a late event can clear one (the missing acceptance arrives).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from typing import Any, Protocol, TypeVar, get_args, get_origin

from pydantic import BaseModel

from contracts.enums import CustodyHolderKind, ItemKind, Leg, ServiceForm, Stage
from contracts.events import (
    DelayNotified,
    DeliveryFailed,
    DossierAccepted,
    DossierClosed,
    DossierHandedToAgency,
    DossierInTransit,
    DossierProcessing,
    DossierReceived,
    DossierRefused,
    DossierRegisteredForReturn,
    DossierWithdrawn,
    Event,
    ItemDamaged,
    ItemLost,
    ResultDelivered,
    ResultOutForDelivery,
    ResultPickedUp,
    ResultReady,
    ResultReturnedToAgency,
    SupplementReceived,
    SupplementRequested,
)


def _type(model: type[Event]) -> str:
    return model.key()[0]


ACCEPTED = _type(DossierAccepted)
IN_TRANSIT = _type(DossierInTransit)
HANDED_TO_AGENCY = _type(DossierHandedToAgency)
PICKED_UP = _type(ResultPickedUp)
OUT_FOR_DELIVERY = _type(ResultOutForDelivery)
DELIVERY_FAILED = _type(DeliveryFailed)
DELIVERED = _type(ResultDelivered)
RETURNED = _type(ResultReturnedToAgency)
LOST = _type(ItemLost)
DAMAGED = _type(ItemDamaged)
RECEIVED = _type(DossierReceived)
REFUSED = _type(DossierRefused)
SUPPLEMENT_REQUESTED = _type(SupplementRequested)
SUPPLEMENT_RECEIVED = _type(SupplementReceived)
PROCESSING = _type(DossierProcessing)
DELAY_NOTIFIED = _type(DelayNotified)
WITHDRAWN = _type(DossierWithdrawn)
CLOSED = _type(DossierClosed)
RESULT_READY = _type(ResultReady)
REGISTERED = _type(DossierRegisteredForReturn)

START_EVENTS = frozenset({ACCEPTED, REGISTERED})

# The place of each event type in the journey: the tiebreak of events stamped with the same instant.
JOURNEY_ORDER: dict[str, int] = {
    ACCEPTED: 0,
    REGISTERED: 0,
    IN_TRANSIT: 1,
    HANDED_TO_AGENCY: 2,
    RECEIVED: 3,
    REFUSED: 4,
    SUPPLEMENT_REQUESTED: 4,
    SUPPLEMENT_RECEIVED: 5,
    PROCESSING: 6,
    DELAY_NOTIFIED: 7,
    WITHDRAWN: 8,
    CLOSED: 8,
    RESULT_READY: 8,
    PICKED_UP: 9,
    OUT_FOR_DELIVERY: 10,
    DELIVERY_FAILED: 11,
    DELIVERED: 12,
    RETURNED: 12,
    LOST: 13,
    DAMAGED: 13,
}
_UNKNOWN_ORDER = 99

# How far along its journey a stage is: an event that is not allowed still applies when it moves the
# dossier to a later rank (a missed scan), never to an earlier one.
RANK: dict[Stage, int] = {
    Stage.ACCEPTED: 1,
    Stage.IN_TRANSIT: 2,
    Stage.HANDED_TO_AGENCY: 3,
    Stage.RECEIVED: 4,
    Stage.AWAITING_SUPPLEMENT: 5,
    Stage.PROCESSING: 6,
    Stage.RESULT_READY: 7,
    Stage.REFUSED: 7,
    Stage.RESULT_PICKED_UP: 8,
    Stage.RESULT_IN_TRANSIT: 9,
    Stage.OUT_FOR_DELIVERY: 10,
    Stage.DELIVERY_FAILED: 11,
    Stage.DELIVERED: 12,
    Stage.RETURNED_TO_AGENCY: 12,
    Stage.WITHDRAWN: 12,
    Stage.CLOSED: 12,
    Stage.LOST: 12,
}

CLOSED_STAGES = frozenset({Stage.DELIVERED, Stage.WITHDRAWN, Stage.LOST, Stage.CLOSED})
# Form SEND_DOSSIER has no return leg: the citizen collects the result (or the refusal) in person.
CLOSED_WITHOUT_RETURN_LEG = frozenset({Stage.RESULT_READY, Stage.REFUSED})
RETURN_LEG_FORMS = frozenset({ServiceForm.RECEIVE_RESULT, ServiceForm.SEND_AND_RECEIVE})


class AnomalyReason(StrEnum):
    """Why an event contradicts the state machine (a closed set: it is a metric label)."""

    NO_START_EVENT = "no_start_event"
    """No acceptance (or registration for return) precedes the event."""
    DUPLICATE_START = "duplicate_start"
    """A second acceptance or registration, under another event id."""
    WRONG_SERVICE_FORM = "wrong_service_form"
    """The event belongs to a leg the dossier's service form does not have."""
    AFTER_CLOSE = "after_close"
    """The journey had already ended (delivered, withdrawn, lost, or collected in person)."""
    SKIPPED_STAGES = "skipped_stages"
    """Applied, but stages the state machine expects before it are missing from the history."""
    OUT_OF_SEQUENCE = "out_of_sequence"
    """Not possible from the stage the history implies, and it would move the dossier backwards."""
    SECOND_DELAY_NOTICE = "second_delay_notice"
    """At most one delay notice per dossier; a later one is recorded but does not move the due date."""
    PICKED_UP_BEFORE_READY = "picked_up_before_ready"
    """The post picked the result up at the agency before the agency reported it ready (by occurrence
    times). Applied: the result is physically with the post. The agency's later report of the result
    ready is then recorded without moving the dossier back and without a second anomaly."""


# --------------------------------------------------------------------------- history


_T = TypeVar("_T")


def _made(cls: type[_T], values: dict[str, Any]) -> _T:
    """An instance of a frozen dataclass from all its field values, without its ``__init__``.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``: 1.7 µs for a
    history entry, paid for every event, step and stage entry projected. The instance is the same
    (equality, hashing and ``replace`` read the fields); ``values`` must name every field."""
    made = object.__new__(cls)
    made.__dict__.update(values)
    return made


@dataclass(frozen=True)
class HistoryEntry:
    """One event of a dossier as the tracker keeps it: the envelope's attributes and the event's data
    without personal data (see ``without_personal_data``), plus the salted digest of the applicant's
    phone for the public lookup when the event carried the applicant's contact."""

    event_id: str
    dossier_id: str
    event_type: str
    version: int
    occurred_at: datetime
    source: str
    data: Mapping[str, Any]
    phone_digest: str | None = None

    @property
    def sort_key(self) -> tuple[datetime, int, str]:
        return (self.occurred_at, JOURNEY_ORDER.get(self.event_type, _UNKNOWN_ORDER), self.event_id)


def history_entry(
    *,
    event_id: str,
    dossier_id: str,
    event_type: str,
    version: int,
    occurred_at: datetime,
    source: str,
    data: Mapping[str, Any],
    phone_digest: str | None = None,
) -> HistoryEntry:
    """``HistoryEntry(…)`` at a third of its cost (see ``_made``): one per event projected."""
    return _made(
        HistoryEntry,
        {
            "event_id": event_id,
            "dossier_id": dossier_id,
            "event_type": event_type,
            "version": version,
            "occurred_at": occurred_at,
            "source": source,
            "data": data,
            "phone_digest": phone_digest,
        },
    )


def ordered(history: Iterable[HistoryEntry]) -> list[HistoryEntry]:
    return sorted(history, key=lambda entry: entry.sort_key)


# --------------------------------------------------------------------------- reading event data


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


# An entry's data holds JSON values (``without_personal_data`` dumps them so, the repository stores them
# so): dates and times are ISO 8601 text.


def _day(data: Mapping[str, Any], name: str) -> date | None:
    value = data.get(name)
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _moment(data: Mapping[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # The contracts refuse a time without offset; one in older stored data is read as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _item_kind(data: Mapping[str, Any]) -> ItemKind:
    """The item an event is about; the dossier when the event does not say (or says what this code
    does not know)."""
    kind = data.get("item_kind")
    # A dictionary, not ``ItemKind(…)``: the enum's call and its exception cost a microsecond per event.
    return _ITEM_KINDS.get(kind, ItemKind.DOSSIER) if isinstance(kind, str) else ItemKind.DOSSIER


_ITEM_KINDS = {kind.value: kind for kind in ItemKind}


# --------------------------------------------------------------------------- custody


@dataclass(frozen=True)
class Custody:
    """Who holds the dossier or result, and the office answering for it (a courier's post office)."""

    kind: CustodyHolderKind
    code: str | None
    office: str | None


@dataclass(frozen=True)
class _HeldBy:
    """The custody an event gives: the holder the field ``code_field`` names, answered for by the office
    ``office_field`` names (by the holder itself when None). None when the event names no holder."""

    kind: CustodyHolderKind
    code_field: str
    office_field: str | None = None

    def __call__(self, data: Mapping[str, Any]) -> Custody | None:
        code = _text(data, self.code_field)
        if code is None:
            return None
        office = _text(data, self.office_field) if self.office_field else code
        return _made(Custody, {"kind": self.kind, "code": code, "office": office})  # one per event


def _citizen(_: Mapping[str, Any]) -> Custody:
    return Custody(CustodyHolderKind.CITIZEN, None, None)


CustodyRule = Callable[[Mapping[str, Any]], Custody | None]
_POST_OFFICE = _HeldBy(CustodyHolderKind.POST_OFFICE, "post_office_code")
_FACILITY = _HeldBy(CustodyHolderKind.POSTAL_FACILITY, "facility_code")
_AGENCY = _HeldBy(CustodyHolderKind.AGENCY, "agency_code")
_COURIER = _HeldBy(CustodyHolderKind.COURIER, "courier_id", "post_office_code")


# --------------------------------------------------------------------------- the state machine


@dataclass(frozen=True)
class Rule:
    """What an event does: the stage it moves the dossier to (None: a fact that moves nothing), the
    stages it may happen from, the custody it gives, and whether it may skip missing stages forward."""

    to: Stage | None
    allowed_from: frozenset[Stage]
    custody: CustodyRule | None = None
    may_skip: bool = True
    needs_return_leg: bool = False


def _from(*stages: Stage) -> frozenset[Stage]:
    return frozenset(stages)


_INBOUND = _from(Stage.ACCEPTED, Stage.IN_TRANSIT)
_RETURN_CARRIED = _from(Stage.RESULT_PICKED_UP, Stage.RESULT_IN_TRANSIT, Stage.DELIVERY_FAILED)
_AT_AGENCY = _from(Stage.HANDED_TO_AGENCY, Stage.RECEIVED, Stage.AWAITING_SUPPLEMENT, Stage.PROCESSING)
_ANY_STARTED = frozenset(Stage)

_RULES: dict[str, Rule] = {
    ACCEPTED: Rule(Stage.ACCEPTED, frozenset(), _POST_OFFICE),
    REGISTERED: Rule(Stage.RECEIVED, frozenset(), _AGENCY),
    RECEIVED: Rule(Stage.RECEIVED, _from(Stage.HANDED_TO_AGENCY), _AGENCY),
    REFUSED: Rule(Stage.REFUSED, _from(Stage.HANDED_TO_AGENCY, Stage.RECEIVED, Stage.AWAITING_SUPPLEMENT)),
    SUPPLEMENT_REQUESTED: Rule(
        Stage.AWAITING_SUPPLEMENT, _from(Stage.HANDED_TO_AGENCY, Stage.RECEIVED, Stage.PROCESSING), _AGENCY
    ),
    SUPPLEMENT_RECEIVED: Rule(Stage.RECEIVED, _from(Stage.AWAITING_SUPPLEMENT), _AGENCY),
    PROCESSING: Rule(Stage.PROCESSING, _from(Stage.RECEIVED, Stage.PROCESSING), _AGENCY),
    DELAY_NOTIFIED: Rule(None, _from(Stage.RECEIVED, Stage.PROCESSING)),
    WITHDRAWN: Rule(Stage.WITHDRAWN, _AT_AGENCY, may_skip=False),
    # Closed by the agency while awaiting the supplement (Decree 118/2025 Art. 19(5)): final, custody stays.
    CLOSED: Rule(Stage.CLOSED, _from(Stage.AWAITING_SUPPLEMENT), may_skip=False),
    RESULT_READY: Rule(Stage.RESULT_READY, _from(Stage.RECEIVED, Stage.PROCESSING), _AGENCY),
    PICKED_UP: Rule(
        Stage.RESULT_PICKED_UP,
        _from(Stage.RESULT_READY, Stage.REFUSED, Stage.RETURNED_TO_AGENCY),
        _POST_OFFICE,
        needs_return_leg=True,
    ),
    OUT_FOR_DELIVERY: Rule(Stage.OUT_FOR_DELIVERY, _RETURN_CARRIED, _COURIER, needs_return_leg=True),
    DELIVERY_FAILED: Rule(
        Stage.DELIVERY_FAILED, _from(Stage.OUT_FOR_DELIVERY), _POST_OFFICE, needs_return_leg=True
    ),
    DELIVERED: Rule(Stage.DELIVERED, _from(Stage.OUT_FOR_DELIVERY), _citizen, needs_return_leg=True),
    RETURNED: Rule(Stage.RETURNED_TO_AGENCY, _from(Stage.DELIVERY_FAILED), _AGENCY, needs_return_leg=True),
}

# Events about one postal item depend on which item it is: the dossier, a supplement or the result.
_ITEM_RULES: dict[tuple[str, ItemKind], Rule] = {
    (IN_TRANSIT, ItemKind.DOSSIER): Rule(Stage.IN_TRANSIT, _INBOUND, _FACILITY),
    (IN_TRANSIT, ItemKind.RESULT): Rule(
        Stage.RESULT_IN_TRANSIT, _RETURN_CARRIED, _FACILITY, needs_return_leg=True
    ),
    # A supplement travels on its own while the dossier waits at the agency: recorded, moves nothing.
    (IN_TRANSIT, ItemKind.SUPPLEMENT): Rule(None, _from(Stage.AWAITING_SUPPLEMENT)),
    (HANDED_TO_AGENCY, ItemKind.DOSSIER): Rule(Stage.HANDED_TO_AGENCY, _INBOUND, _AGENCY),
    (HANDED_TO_AGENCY, ItemKind.SUPPLEMENT): Rule(None, _from(Stage.AWAITING_SUPPLEMENT)),
    (LOST, ItemKind.DOSSIER): Rule(Stage.LOST, _INBOUND, _POST_OFFICE, may_skip=False),
    (LOST, ItemKind.RESULT): Rule(
        Stage.LOST, _RETURN_CARRIED | {Stage.OUT_FOR_DELIVERY}, _POST_OFFICE, may_skip=False
    ),
    (LOST, ItemKind.SUPPLEMENT): Rule(None, _ANY_STARTED),
    (DAMAGED, ItemKind.DOSSIER): Rule(None, _ANY_STARTED),
    (DAMAGED, ItemKind.RESULT): Rule(None, _ANY_STARTED),
    (DAMAGED, ItemKind.SUPPLEMENT): Rule(None, _ANY_STARTED),
}

# An event type this code does not know (a newer producer): recorded, moves nothing.
_NEUTRAL = Rule(None, _ANY_STARTED)


def rule_for(entry: HistoryEntry) -> Rule:
    rule = _RULES.get(entry.event_type)
    if rule is not None:
        return rule
    return _ITEM_RULES.get((entry.event_type, _item_kind(entry.data)), _NEUTRAL)


# --------------------------------------------------------------------------- the fold


class AgencyDuePolicy(Protocol):
    """The agency's due date for a filing at ``filed_at`` of a procedure; None when it cannot tell."""

    def agency_due(self, procedure_code: str, filed_at: datetime) -> date | None: ...


class NoAgencyDue:
    """A policy that never knows: due dates then come only from the agency's own reports."""

    def agency_due(self, procedure_code: str, filed_at: datetime) -> date | None:
        return None


@dataclass(frozen=True)
class Anomaly:
    event_id: str
    reason: AnomalyReason
    detail: str


@dataclass(frozen=True)
class Step:
    """One event of the ordered history and the dossier's state right after it."""

    entry: HistoryEntry
    stage_before: Stage | None
    stage: Stage | None
    custody: Custody | None
    anomaly: Anomaly | None

    @property
    def changed_stage(self) -> bool:
        return self.stage != self.stage_before


@dataclass(frozen=True)
class DossierView:
    """Everything the tracker knows of a dossier: the fold of its ordered history."""

    dossier_id: str
    stage: Stage | None = None
    stage_since: datetime | None = None
    custody: Custody | None = None
    service_form: ServiceForm | None = None
    procedure_code: str | None = None
    agency_code: str | None = None
    origin_post_office: str | None = None
    item_id: str | None = None
    result_item_id: str | None = None
    agency_dossier_code: str | None = None
    accepted_at: datetime | None = None
    filed_at: datetime | None = None
    received_at: datetime | None = None
    result_ready_at: datetime | None = None
    refused_at: datetime | None = None
    picked_up_at: datetime | None = None
    first_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    closed_at: datetime | None = None
    inbound_due_date: date | None = None
    agency_due_date: date | None = None
    appointment_date: date | None = None
    return_due_date: date | None = None
    delay_notified: bool = False
    outcome: str | None = None
    failed_attempts: int = 0
    phone_digest: str | None = None
    start_event_id: str | None = None
    event_count: int = 0
    anomaly_count: int = 0
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    last_event_type: str | None = None
    last_event_id: str | None = None
    steps: tuple[Step, ...] = ()
    """The steps folded by the call that returned this view (every event, for ``fold``)."""

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        """The anomalies among ``steps``."""
        return tuple(step.anomaly for step in self.steps if step.anomaly is not None)

    @property
    def last_key(self) -> tuple[datetime, int, str] | None:
        """The sort key of the last event folded so far."""
        if self.last_event_at is None or self.last_event_id is None:
            return None
        order = JOURNEY_ORDER.get(self.last_event_type or "", _UNKNOWN_ORDER)
        return (self.last_event_at, order, self.last_event_id)

    @property
    def is_open(self) -> bool:
        """Whether the journey still runs. A dossier without a start event is open (it will start)."""
        if self.stage in CLOSED_STAGES:
            return False
        return not (self.service_form is ServiceForm.SEND_DOSSIER and self.stage in CLOSED_WITHOUT_RETURN_LEG)

    @property
    def clock(self) -> tuple[Leg, date | None] | None:
        """The legal clock running now and its due date; None when no clock runs (supplement awaited,
        result waiting for pickup, first delivery attempt made, journey closed)."""
        if not self.is_open or self.stage is None:
            return None
        if self.stage in (Stage.ACCEPTED, Stage.IN_TRANSIT):
            return Leg.INBOUND_POSTAL, self.inbound_due_date
        if self.stage in (Stage.HANDED_TO_AGENCY, Stage.RECEIVED, Stage.PROCESSING):
            return Leg.AGENCY_PROCESSING, self.agency_due_date
        if self.stage in (Stage.RESULT_PICKED_UP, Stage.RESULT_IN_TRANSIT) and self.first_attempt_at is None:
            return Leg.RETURN_POSTAL, self.return_due_date
        return None

    @property
    def due_date(self) -> date | None:
        clock = self.clock
        return clock[1] if clock else None

    @property
    def expected_date(self) -> date | None:
        """The date the citizen can expect the next step: the appointment date while the agency works,
        else the due date of the running postal leg."""
        if self.stage in (Stage.HANDED_TO_AGENCY, Stage.RECEIVED, Stage.PROCESSING) and self.is_open:
            return self.appointment_date or self.agency_due_date
        return self.due_date


@dataclass
class _Folding:
    view: DossierView
    due: AgencyDuePolicy

    def set(self, **changes: Any) -> None:
        # The view is still private to the fold that builds it: filling it in place spares a copy per
        # change (``dataclasses.replace``), which dominated the fold's cost; its __dict__ at once, not
        # a frozen dataclass's __setattr__ per field.
        self.view.__dict__.update(changes)


def fold(dossier_id: str, history: Iterable[HistoryEntry], due: AgencyDuePolicy | None = None) -> DossierView:
    """The dossier's state after its whole history, ordered by ``HistoryEntry.sort_key``."""
    return resume(DossierView(dossier_id), ordered(history), due)


def resume(
    view: DossierView, later: Sequence[HistoryEntry], due: AgencyDuePolicy | None = None
) -> DossierView:
    """Continue a fold with events that all sort after the view's last event, in their order.

    The view holds the whole state of the fold, so ``resume(fold(h[:k]), h[k:]) == fold(h)`` (steps
    aside): a batch that only appends to a dossier's history needs its stored row, not its history.
    """
    last = view.last_key
    if last is not None and later and later[0].sort_key <= last:
        raise ValueError("resume takes events that sort after the view's last event; fold the history")
    # A private copy to fill in place (see _Folding.set); cheaper than dataclasses.replace.
    start = object.__new__(DossierView)
    start.__dict__.update(view.__dict__)
    state = _Folding(start, due or NoAgencyDue())
    steps: list[Step] = []
    for entry in later:
        before = state.view.stage
        rule = rule_for(entry)
        anomaly, effect = _judge(state, entry, rule)
        if effect is _Effect.APPLY:
            _apply(state, entry, rule)
        elif effect is _Effect.FACTS:
            _record_facts(state, entry)
        view = state.view
        steps.append(
            _made(
                Step,
                {
                    "entry": entry,
                    "stage_before": before,
                    "stage": view.stage,
                    "custody": view.custody,
                    "anomaly": anomaly,
                },
            )
        )
    if later:
        state.set(
            event_count=view.event_count + len(later),
            anomaly_count=view.anomaly_count + sum(1 for step in steps if step.anomaly is not None),
            first_event_at=view.first_event_at or later[0].occurred_at,
            last_event_at=later[-1].occurred_at,
            last_event_type=later[-1].event_type,
            last_event_id=later[-1].event_id,
        )
    state.set(steps=tuple(steps))
    return state.view


class _Effect(Enum):
    """What an event does to the fold."""

    NONE = "kept in the history only"
    FACTS = "its dates and references are recorded; stage and custody stay"
    APPLY = "it moves the stage and custody its rule gives, and its facts are recorded"


# The stages from which the post cannot pick a result up yet: the agency has not reported it ready.
_NOT_READY = _from(Stage.HANDED_TO_AGENCY, Stage.RECEIVED, Stage.AWAITING_SUPPLEMENT, Stage.PROCESSING)


def _judge(state: _Folding, entry: HistoryEntry, rule: Rule) -> tuple[Anomaly | None, _Effect]:
    """(the anomaly, if any; what the event does)."""
    view = state.view
    current = view.stage

    def flag(reason: AnomalyReason, detail: str) -> Anomaly:
        return Anomaly(entry.event_id, reason, detail)

    if entry.event_type in START_EVENTS:
        if view.start_event_id is None:
            return None, _Effect.APPLY
        return flag(
            AnomalyReason.DUPLICATE_START, f"the dossier was started by {view.start_event_id}"
        ), _Effect.NONE
    if current is None:
        return flag(AnomalyReason.NO_START_EVENT, "no acceptance or registration precedes it"), _Effect.NONE
    if rule.needs_return_leg and view.service_form not in RETURN_LEG_FORMS:
        form = view.service_form.value if view.service_form else "unknown"
        return flag(
            AnomalyReason.WRONG_SERVICE_FORM, f"service form {form} has no return leg by post"
        ), _Effect.NONE
    if entry.event_type == DELAY_NOTIFIED and view.delay_notified:
        return flag(AnomalyReason.SECOND_DELAY_NOTICE, "a delay notice was already issued"), _Effect.NONE
    if current in rule.allowed_from:
        return None, _Effect.APPLY
    if entry.event_type == PICKED_UP and current in _NOT_READY:
        return flag(
            AnomalyReason.PICKED_UP_BEFORE_READY,
            f"picked up while the agency had it at stage {current.value}",
        ), _Effect.APPLY
    if (
        entry.event_type == RESULT_READY
        and view.is_open
        and view.picked_up_at is not None
        and view.result_ready_at is None
        and view.refused_at is None
        and RANK[current] > RANK[Stage.RESULT_READY]
    ):
        # The agency reports the result ready after the post picked it up (flagged on the pickup).
        return None, _Effect.FACTS
    if (
        entry.event_type == RECEIVED
        and current is Stage.RECEIVED
        and view.service_form is ServiceForm.RECEIVE_RESULT
    ):
        # A dossier filed at the agency's desk is registered for return first and received after (the
        # agency service's FILED → RECEIVED); the registration already put it at RECEIVED here, and the
        # receipt confirms it with the legal due date.
        return None, _Effect.APPLY
    if not view.is_open:
        return flag(AnomalyReason.AFTER_CLOSE, f"the journey closed at stage {current.value}"), _Effect.NONE
    if rule.to is not None and rule.may_skip and RANK[rule.to] > RANK[current]:
        return flag(
            AnomalyReason.SKIPPED_STAGES, f"moved from {current.value} to {rule.to.value}, skipping stages"
        ), _Effect.APPLY
    target = rule.to.value if rule.to else "this event"
    return flag(
        AnomalyReason.OUT_OF_SEQUENCE, f"{target} is not possible from stage {current.value}"
    ), _Effect.NONE


def _apply(state: _Folding, entry: HistoryEntry, rule: Rule) -> None:
    view = state.view
    data = entry.data
    at = entry.occurred_at
    if rule.to is not None and rule.to != view.stage:
        state.set(stage=rule.to, stage_since=at)
        if not state.view.is_open and state.view.closed_at is None:
            state.set(closed_at=at)
    if rule.custody is not None:
        custody = rule.custody(data)
        if custody is not None:
            state.set(custody=custody)
    _record_facts(state, entry)


def _record_facts(state: _Folding, entry: HistoryEntry) -> None:
    """The dates and references each event brings."""
    view = state.view
    data = entry.data
    at = entry.occurred_at
    kind = entry.event_type
    if kind == ACCEPTED:
        form = _text(data, "service_form")
        state.set(
            start_event_id=entry.event_id,
            service_form=ServiceForm(form) if form is not None and form in ServiceForm.__members__ else None,
            procedure_code=_text(data, "procedure_code"),
            agency_code=_text(data, "agency_code"),
            origin_post_office=_text(data, "post_office_code"),
            item_id=_text(data, "item_id"),
            accepted_at=at,
            inbound_due_date=_day(data, "inbound_due_date"),
            phone_digest=entry.phone_digest,
        )
    elif kind == REGISTERED:
        filed_at = _moment(data, "filed_at") or at
        procedure = _text(data, "procedure_code")
        due = state.due.agency_due(procedure, filed_at) if procedure else None
        state.set(
            start_event_id=entry.event_id,
            service_form=ServiceForm.RECEIVE_RESULT,
            procedure_code=procedure,
            agency_code=_text(data, "agency_code"),
            agency_dossier_code=_text(data, "agency_dossier_code"),
            filed_at=filed_at,
            received_at=at,
            agency_due_date=due,
            appointment_date=due,
            phone_digest=entry.phone_digest,
        )
    elif kind == HANDED_TO_AGENCY and _item_kind(data) is ItemKind.DOSSIER:
        filed_at = _moment(data, "signed_at") or at
        due = state.due.agency_due(view.procedure_code, filed_at) if view.procedure_code else None
        state.set(filed_at=filed_at, agency_due_date=due)
    elif kind == RECEIVED:
        legal_due = _day(data, "legal_due_date")
        state.set(
            agency_dossier_code=_text(data, "agency_dossier_code") or view.agency_dossier_code,
            procedure_code=view.procedure_code or _text(data, "procedure_code"),
            filed_at=_moment(data, "filed_at") or view.filed_at,
            received_at=at,
            agency_due_date=legal_due or view.agency_due_date,
            appointment_date=_day(data, "appointment_date") or legal_due,
        )
    elif kind == SUPPLEMENT_RECEIVED:
        # The agency clock restarts from zero at the supplement's arrival.
        filed_at = _moment(data, "received_at") or at
        due = state.due.agency_due(view.procedure_code, filed_at) if view.procedure_code else None
        state.set(filed_at=filed_at, agency_due_date=due, appointment_date=due)
    elif kind == DELAY_NOTIFIED:
        new_due = _day(data, "new_due_date")
        state.set(delay_notified=True, agency_due_date=new_due, appointment_date=new_due)
    elif kind == RESULT_READY:
        state.set(result_ready_at=at, outcome=_text(data, "outcome"))
    elif kind == REFUSED:
        state.set(refused_at=at)
    elif kind == PICKED_UP:
        state.set(
            result_item_id=_text(data, "result_item_id"),
            agency_dossier_code=view.agency_dossier_code or _text(data, "agency_dossier_code"),
            picked_up_at=at,
            return_due_date=_day(data, "return_due_date"),
            first_attempt_at=None,
        )
    elif kind == OUT_FOR_DELIVERY:
        if view.first_attempt_at is None:
            state.set(first_attempt_at=at)
    elif kind == DELIVERY_FAILED:
        state.set(failed_attempts=view.failed_attempts + 1)
    elif kind == DELIVERED:
        state.set(delivered_at=at)
    if kind in (REFUSED, SUPPLEMENT_REQUESTED, WITHDRAWN, CLOSED) and not state.view.agency_dossier_code:
        state.set(agency_dossier_code=_text(data, "agency_dossier_code"))


# --------------------------------------------------------------------------- what changed


@dataclass(frozen=True)
class StageEntry:
    """The dossier entering a stage: one step of the fold that moved it there, and its cause.

    An entry is identified by its dossier, its cause and the stage it entered (``key``): whatever the
    order in which events arrived, the fold of a history gives the same entries.
    """

    dossier_id: str
    from_stage: Stage | None
    to_stage: Stage
    custody: Custody
    cause: HistoryEntry

    @property
    def key(self) -> tuple[str, Stage]:
        return (self.cause.event_id, self.to_stage)


def stage_entries(view: DossierView) -> list[StageEntry]:
    """The stages the view's steps entered, in the order of the history."""
    # A stage is only ever set together with a custody (every start event names its holder).
    return [
        _made(
            StageEntry,
            {
                "dossier_id": view.dossier_id,
                "from_stage": step.stage_before,
                "to_stage": step.stage,
                "custody": step.custody,
                "cause": step.entry,
            },
        )
        for step in view.steps
        if step.stage is not None and step.changed_stage and step.custody is not None
    ]


@dataclass(frozen=True)
class StageChange:
    """A stage entry to publish as tracker.stage_changed, with the stage the dossier is at now.

    ``late`` marks an entry that sorts before a stage already announced: the dossier went through it
    earlier than the stages subscribers already heard of (the agency's report folded after a later
    postal scan, an offline scanner's upload). A subscriber records it and keeps ``current_stage``.
    """

    entry: StageEntry
    late: bool
    current_stage: Stage | None


def stage_changes(
    announced: Sequence[StageEntry], entries: Sequence[StageEntry], current: Stage | None
) -> list[StageChange]:
    """The entries not yet announced, each once, marked late when an announced entry sorts after it.

    ``announced`` are the entries of the fold of the history known before the batch (all of them were
    published when that history was learned); ``entries`` those of the fold with the batch's events.
    Because every batch publishes the entries its fold adds, each entry of a dossier's fold is published
    once whatever the arrival order across topics, the batch boundaries, duplicates or replays.
    """
    done = {entry.key for entry in announced}
    last = max((entry.cause.sort_key for entry in announced), default=None)
    return [
        _made(
            StageChange,
            {
                "entry": entry,
                "late": last is not None and entry.cause.sort_key < last,
                "current_stage": current,
            },
        )
        for entry in entries
        if entry.key not in done
    ]


# --------------------------------------------------------------------------- parties and references


class PartyKind(StrEnum):
    POST_OFFICE = "POST_OFFICE"
    AGENCY = "AGENCY"


class ReferenceKind(StrEnum):
    """A number a citizen or a clerk holds that leads to the dossier."""

    DOSSIER_ITEM = "DOSSIER_ITEM"
    SUPPLEMENT_ITEM = "SUPPLEMENT_ITEM"
    RESULT_ITEM = "RESULT_ITEM"
    AGENCY_DOSSIER_CODE = "AGENCY_DOSSIER_CODE"


_OFFICE_FIELDS = ("post_office_code", "facility_code")

# The fields read inline below, as ``_text`` reads them (a non-empty text, else nothing): these two run
# for every event projected, and a call per field was most of their cost.


def parties(entry: HistoryEntry) -> set[tuple[PartyKind, str]]:
    """The post offices and agencies that handled the dossier in this event: they may look it up."""
    data = entry.data
    found: set[tuple[PartyKind, str]] = set()
    for name in _OFFICE_FIELDS:
        code = data.get(name)
        if code and isinstance(code, str):
            found.add((PartyKind.POST_OFFICE, code))
    agency = data.get("agency_code")
    if agency and isinstance(agency, str):
        found.add((PartyKind.AGENCY, agency))
    return found


_ITEM_REFERENCE = {
    ItemKind.DOSSIER.value: ReferenceKind.DOSSIER_ITEM,
    ItemKind.SUPPLEMENT.value: ReferenceKind.SUPPLEMENT_ITEM,
    ItemKind.RESULT.value: ReferenceKind.RESULT_ITEM,
}
"""The reference an item id is, by the event's ``item_kind`` (the dossier when it says none, or one
this code does not know: as ``_item_kind``)."""

_REFERENCE_FIELDS = (
    ("result_item_id", ReferenceKind.RESULT_ITEM),
    ("dossier_item_id", ReferenceKind.DOSSIER_ITEM),
    ("supplement_item_id", ReferenceKind.SUPPLEMENT_ITEM),
    ("agency_dossier_code", ReferenceKind.AGENCY_DOSSIER_CODE),
)


def references(entry: HistoryEntry) -> set[tuple[str, ReferenceKind]]:
    """The item ids and agency dossier codes this event ties to the dossier."""
    data = entry.data
    found: set[tuple[str, ReferenceKind]] = set()
    item = data.get("item_id")
    if item and isinstance(item, str):
        kind = data.get("item_kind")
        found.add(
            (
                item,
                _ITEM_REFERENCE.get(kind, ReferenceKind.DOSSIER_ITEM)
                if isinstance(kind, str)
                else ReferenceKind.DOSSIER_ITEM,
            )
        )
    for name, kind_of in _REFERENCE_FIELDS:
        value = data.get(name)
        if value and isinstance(value, str):
            found.add((value, kind_of))
    return found


# --------------------------------------------------------------------------- personal data


def without_personal_data(event: Event) -> dict[str, Any]:
    """The event's data as JSON values, without the fields the contract marks as personal data."""
    return event.model_dump(mode="json", exclude=_personal_fields(type(event)) or None)


@functools.cache
def _personal_fields(model: type[BaseModel]) -> dict[str, Any]:
    """The ``exclude`` of model_dump that drops every field marked personal data, nested ones too."""
    spec: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, Mapping) and extra.get("x-personal-data"):
            spec[name] = True
            continue
        nested, many = _nested_model(info.annotation)
        inner = _personal_fields(nested) if nested is not None else {}
        if inner:
            spec[name] = {"__all__": inner} if many else inner
    return spec


def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (directly, optionally, or as a tuple or list of them)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = get_origin(annotation)
    for argument in get_args(annotation):
        found, many = _nested_model(argument)
        if found is not None:
            return found, many or origin in (tuple, list)
    return None, False
