"""The legal clocks of a dossier, in Vietnamese working days: pure rules, time passed in.

A dossier's clocks are derived from the facts recorded about it (`Facts`), never updated in place by
each event. Events of one dossier arrive in order within a topic, but postal and agency events travel
on two topics and may be consumed in either order; recording facts (first value wins, the earliest
delivery attempt wins) and deriving the clocks from all of them makes the result independent of that
interleaving, of redelivery and of replays.

Which event does what to which clock is the table `CLOCK_RULES`; `record` is its implementation and a
unit test checks that the two agree and that every postal and agency event type is in the table.

Counting (Civil Code 2015 Art. 147, services/shared/calendar.py): the day of the start is not counted;
a limit of N working days from day D ends at the end of the N-th working day after D. Timeliness of a
finished postal leg compares the calendar day it finished (Vietnam time) with its due date: before →
early (trước hạn), on it → on time (đúng hạn), after → late (quá hạn); the agency clock's follows the
on-time formula in force when processing ended (services/shared/timeliness.py: the service-quality
index counts more than one supplement request as late, and only a valid apology slip moves the date
it judges against, while the clock's due date is the one announced to the citizen). An open clock is
overdue from 00:00 of the day after its due date (the due date ends at 24:00, Civil Code Art. 148), and
due soon from the working day before its due date.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts.enums import ItemKind, Leg
from contracts.enums import RouteClass as ContractRouteClass
from contracts.envelope import Envelope
from contracts.events import (
    DelayNotified,
    DeliveryFailed,
    DeliveryFailedV2,
    DossierAccepted,
    DossierAcceptedV2,
    DossierClosed,
    DossierHandedToAgency,
    DossierReceived,
    DossierRefused,
    DossierRegisteredForReturn,
    DossierRegisteredForReturnV2,
    DossierWithdrawn,
    Event,
    ItemLost,
    ResultDelivered,
    ResultOutForDelivery,
    ResultPickedUp,
    ResultReady,
    SupplementReceived,
    SupplementRequested,
)
from services.shared.calendar import WorkingCalendar, agency_due_date, to_vietnam_time
from services.shared.catalog import Catalog
from services.shared.legal_rules import LegalRules, default_legal_rules
from services.shared.postal_limits import RouteClass, RouteLimits, postal_leg_due
from services.shared.timeliness import AgencyProcessing, ApologySlip, against, agency_timeliness
from services.shared.timeliness import Timeliness as Timeliness  # the clocks' vocabulary, defined once
from services.turnaround.provinces import UNKNOWN, ProvinceMap

# --------------------------------------------------------------------------- vocabulary


class ClockState(StrEnum):
    RUNNING = "running"
    SUSPENDED = "suspended"  # agency clock while a supplement is awaited
    FINISHED = "finished"
    CANCELLED = "cancelled"  # withdrawn, refused or lost: no timeliness
    CLOSED = "closed"  # agency clock of a dossier the agency closed (supplement never came): no timeliness


class Threshold(StrEnum):
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


class Effect(StrEnum):
    START = "start"
    FINISH = "finish"
    SUSPEND = "suspend"
    RESTART = "restart"
    MOVE_DUE_DATE = "move_due_date"
    CANCEL = "cancel"
    CLOSE = "close"


@dataclass(frozen=True)
class ClockRule:
    event_type: str
    leg: Leg
    effect: Effect
    note: str


_IN, _AG, _RET = Leg.INBOUND_POSTAL, Leg.AGENCY_PROCESSING, Leg.RETURN_POSTAL

CLOCK_RULES: tuple[ClockRule, ...] = (
    ClockRule("postal.dossier_accepted", _IN, Effect.START, "J = acceptance day; due J+n by route class"),
    ClockRule("postal.dossier_handed_to_agency", _IN, Effect.FINISH, "item DOSSIER; at the signing time"),
    ClockRule(
        "postal.dossier_handed_to_agency",
        _AG,
        Effect.START,
        "item DOSSIER; filing time = signed_at; 15:00 cut-off; due = filing day + catalog target",
    ),
    ClockRule("agency.dossier_registered_for_return", _AG, Effect.START, "form RECEIVE_RESULT: at filed_at"),
    ClockRule("agency.dossier_received", _AG, Effect.START, "at filed_at, when no handover was seen"),
    ClockRule("agency.supplement_requested", _AG, Effect.SUSPEND, "no alerts while suspended"),
    ClockRule("agency.supplement_received", _AG, Effect.RESTART, "from zero at received_at; generation+1"),
    ClockRule("agency.delay_notified", _AG, Effect.MOVE_DUE_DATE, "once per dossier; generation+1"),
    ClockRule("agency.result_ready", _AG, Effect.FINISH, "at the event time"),
    ClockRule("agency.dossier_refused", _AG, Effect.CANCEL, "no timeliness; the refusal returns by post"),
    ClockRule("agency.dossier_closed", _AG, Effect.CLOSE, "if still open; no timeliness, counted apart"),
    ClockRule("agency.dossier_withdrawn", _IN, Effect.CANCEL, "if still open"),
    ClockRule("agency.dossier_withdrawn", _AG, Effect.CANCEL, "if still open"),
    ClockRule("agency.dossier_withdrawn", _RET, Effect.CANCEL, "if still open"),
    ClockRule("postal.item_lost", _IN, Effect.CANCEL, "item DOSSIER, if still open"),
    ClockRule("postal.item_lost", _RET, Effect.CANCEL, "item RESULT, if still open"),
    ClockRule("postal.result_picked_up", _RET, Effect.START, "J = pickup day; due J+n by route class"),
    ClockRule("postal.result_out_for_delivery", _RET, Effect.FINISH, "the first attempt"),
    ClockRule("postal.delivery_failed", _RET, Effect.FINISH, "the first attempt, if not seen going out"),
    ClockRule("postal.result_delivered", _RET, Effect.FINISH, "the first attempt, if not seen going out"),
)

NO_CLOCK_EFFECT: frozenset[str] = frozenset(
    {
        "postal.dossier_in_transit",
        "postal.item_damaged",
        "postal.result_returned_to_agency",  # counted, the return clock ended at the first attempt
        "agency.dossier_processing",
        # The contact's owner erased it: no fact of the dossier's journey.
        "postal.personal_data_erased",
        "agency.personal_data_erased",
    }
)
"""Postal and agency events that move no clock (some are counted by metrics)."""

# The contract's route vocabulary → the configurable table's (deploy/postal/route_limits.yaml).
ROUTE_CLASSES: Mapping[ContractRouteClass, RouteClass] = {
    ContractRouteClass.LOCAL: RouteClass.SAME_COMMUNE,
    ContractRouteClass.INTRA_PROVINCIAL: RouteClass.SAME_PROVINCE,
    ContractRouteClass.BETWEEN_MAJOR_CITIES: RouteClass.BETWEEN_SPECIAL_CITIES,
    ContractRouteClass.INTER_PROVINCIAL: RouteClass.INTER_PROVINCIAL,
}


@dataclass(frozen=True)
class ClockRules:
    """Everything the derivation needs besides the facts: configuration, never I/O."""

    calendar: WorkingCalendar
    catalog: Catalog
    route_limits: RouteLimits
    provinces: ProvinceMap
    legal: LegalRules = field(default_factory=default_legal_rules)
    """The legal parameters (the forwarding cut-off), each as in force on the day of the fact."""


# --------------------------------------------------------------------------- facts


class Revision(BaseModel):
    """A change to the agency clock, in the order the agency reported it."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["suspend", "restart", "delay"]
    at: datetime
    new_due_date: date | None = None
    breach: bool = False
    """A delay notice issued later than the rules allow (the event's ``breach``)."""


class Facts(BaseModel):
    """What is known about one dossier, as far as its clocks are concerned. Stored as JSON."""

    model_config = ConfigDict(frozen=True)

    procedure_code: str | None = None
    agency_code: str | None = None
    accepted_at: datetime | None = None
    accepting_post_office: str | None = None
    inbound_route: ContractRouteClass | None = None
    carries_appointment_slip: bool = False
    handed_over_at: datetime | None = None
    handover_post_office: str | None = None
    filed_at: datetime | None = None
    legal_due_date: date | None = None
    revisions: tuple[Revision, ...] = ()
    result_ready_at: datetime | None = None
    refused_at: datetime | None = None
    withdrawn_at: datetime | None = None
    closed_at: datetime | None = None
    """When the agency closed the dossier awaiting its supplement (agency.dossier_closed)."""
    picked_up_at: datetime | None = None
    pickup_post_office: str | None = None
    return_route: ContractRouteClass | None = None
    first_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    inbound_lost_at: datetime | None = None
    result_lost_at: datetime | None = None


def record(facts: Facts, envelope: Envelope[Event]) -> Facts:
    """The facts after one more event of the dossier. First values win: a repeated report changes nothing."""
    event, at = envelope.data, envelope.time
    f = facts

    def first(**values: object) -> Facts:
        return f.model_copy(update={k: v for k, v in values.items() if getattr(f, k) is None})

    match event:
        case DossierAccepted() | DossierAcceptedV2():  # v2: the same facts, without the contact
            f = first(
                procedure_code=event.procedure_code,
                agency_code=event.agency_code,
                accepted_at=at,
                accepting_post_office=event.post_office_code,
                inbound_route=event.route_class,
            )
            if f.accepted_at == at:
                f = f.model_copy(update={"carries_appointment_slip": event.carries_appointment_slip_back})
        case DossierHandedToAgency() if event.item_kind is ItemKind.DOSSIER:
            f = first(
                handed_over_at=event.signed_at,
                handover_post_office=event.post_office_code,
                agency_code=event.agency_code,
            )
        case DossierRegisteredForReturn() | DossierRegisteredForReturnV2():
            f = first(
                procedure_code=event.procedure_code, agency_code=event.agency_code, filed_at=event.filed_at
            )
        case DossierReceived():
            f = first(
                procedure_code=event.procedure_code,
                agency_code=event.agency_code,
                filed_at=event.filed_at,
                legal_due_date=event.legal_due_date,
            )
        case SupplementRequested():
            f = _revised(f, Revision(kind="suspend", at=at))
        case SupplementReceived():
            f = _revised(f, Revision(kind="restart", at=event.received_at))
        case DelayNotified():
            f = _revised(
                f, Revision(kind="delay", at=at, new_due_date=event.new_due_date, breach=event.breach)
            )
        case ResultReady():
            f = first(result_ready_at=at, agency_code=event.agency_code)
        case DossierRefused():
            f = first(refused_at=at, agency_code=event.agency_code)
        case DossierWithdrawn():
            f = first(withdrawn_at=at)
        case DossierClosed():
            f = first(closed_at=at)
        case ResultPickedUp():
            f = first(
                picked_up_at=at,
                pickup_post_office=event.post_office_code,
                return_route=event.route_class,
                agency_code=event.agency_code,
            )
        case ResultOutForDelivery() | DeliveryFailed() | DeliveryFailedV2():
            f = _earliest_attempt(f, at)
        case ResultDelivered():
            f = _earliest_attempt(first(delivered_at=at), at)
        case ItemLost() if event.item_kind is ItemKind.DOSSIER:
            f = first(inbound_lost_at=at)
        case ItemLost() if event.item_kind is ItemKind.RESULT:
            f = first(result_lost_at=at)
    return f


def _revised(f: Facts, revision: Revision) -> Facts:
    """The facts with one more revision of the agency clock, unless that very report is already there:
    a fresh consumer group replaying the log onto the same database applies every event again, and a
    second copy would count as a second supplement request or delay notice."""
    if revision in f.revisions:
        return f
    return f.model_copy(update={"revisions": (*f.revisions, revision)})


def _earliest_attempt(f: Facts, at: datetime) -> Facts:
    if f.first_attempt_at is None or at < f.first_attempt_at:
        return f.model_copy(update={"first_attempt_at": at})
    return f


# --------------------------------------------------------------------------- clocks


@dataclass(frozen=True)
class Clock:
    """One legal clock of a dossier as it stands. `generation` changes whenever the due date is re-set
    (a restart after a supplement, the delay notice), so alerts are once per generation and threshold."""

    leg: Leg
    generation: int
    state: ClockState
    started_at: datetime
    start_day: date  # J, or the filing day after the cut-off rule
    due_date: date | None
    province: str
    field_key: str
    route: str  # route class of a postal leg, "" for the agency clock
    agency_code: str | None = None
    post_office_code: str | None = None
    procedure_code: str | None = None
    """The dossier's procedure (thủ tục), for the quality reports' top late procedures."""
    finished_at: datetime | None = None
    finished_day: date | None = None
    working_days: int | None = None
    timeliness: Timeliness | None = None
    # A finished clock is counted in the tallies once, when the facts that classify it are known.
    counted: bool = False

    @property
    def is_open(self) -> bool:
        return self.state in (ClockState.RUNNING, ClockState.SUSPENDED)


def vn_day(moment: datetime) -> date:
    return to_vietnam_time(moment).date()


classify = against
"""A postal leg's timeliness against its due date (services/shared/timeliness.py)."""


def elapsed_working_days(start_day: date, end_day: date, calendar: WorkingCalendar) -> int:
    """Working days after start_day up to and including end_day; never negative."""
    return max(0, calendar.working_days_between(start_day, end_day))


def _finish(clock: Clock, at: datetime, calendar: WorkingCalendar) -> Clock:
    day = vn_day(at)
    return replace(
        clock,
        state=ClockState.FINISHED,
        finished_at=at,
        finished_day=day,
        working_days=elapsed_working_days(clock.start_day, day, calendar),
        timeliness=classify(day, clock.due_date) if clock.due_date is not None else None,
    )


def _cancel(clock: Clock, at: datetime) -> Clock:
    return replace(clock, state=ClockState.CANCELLED, finished_at=at, finished_day=vn_day(at))


def field_key(facts: Facts, catalog: Catalog) -> str:
    code = facts.procedure_code
    return catalog.get(code).field_key if code is not None and code in catalog else UNKNOWN


def clocks_of(facts: Facts, rules: ClockRules) -> dict[Leg, Clock]:
    """Every clock the facts have started, each in its current state."""
    clocks: dict[Leg, Clock] = {}
    fkey = field_key(facts, rules.catalog)
    inbound = _inbound_clock(facts, rules, fkey)
    if inbound is not None:
        clocks[Leg.INBOUND_POSTAL] = inbound
    agency = _agency_clock(facts, rules, fkey)
    if agency is not None:
        clocks[Leg.AGENCY_PROCESSING] = agency
    ret = _return_clock(facts, rules, fkey)
    if ret is not None:
        clocks[Leg.RETURN_POSTAL] = ret
    return clocks


def _inbound_clock(f: Facts, rules: ClockRules, fkey: str) -> Clock | None:
    if f.accepted_at is None or f.inbound_route is None:
        return None
    j = vn_day(f.accepted_at)
    route = ROUTE_CLASSES[f.inbound_route]
    clock = Clock(
        leg=Leg.INBOUND_POSTAL,
        generation=0,
        state=ClockState.RUNNING,
        started_at=f.accepted_at,
        start_day=j,
        due_date=postal_leg_due(j, route, rules.calendar, f.carries_appointment_slip, rules.route_limits),
        province=rules.provinces.of_post_office(f.accepting_post_office) or UNKNOWN,
        field_key=fkey,
        route=route.value,
        agency_code=f.agency_code,
        post_office_code=f.accepting_post_office,
        procedure_code=f.procedure_code,
    )
    if f.handed_over_at is not None:
        return _finish(clock, f.handed_over_at, rules.calendar)
    stop = _earliest(f.withdrawn_at, f.inbound_lost_at)
    return _cancel(clock, stop) if stop is not None else clock


def _agency_clock(f: Facts, rules: ClockRules, fkey: str) -> Clock | None:
    # The handover's signing time is the filing time of a dossier that came by post; the agency's own
    # filed_at (the same instant, by contract) stands in until the handover event is consumed.
    start = f.handed_over_at or f.filed_at
    if start is None:
        return None
    province = (
        rules.provinces.of_post_office(f.handover_post_office)
        or rules.provinces.of_agency(f.agency_code)
        or rules.provinces.of_post_office(f.pickup_post_office)
        or UNKNOWN
    )
    clock = Clock(
        leg=Leg.AGENCY_PROCESSING,
        generation=0,
        state=ClockState.RUNNING,
        started_at=start,
        start_day=rules.calendar.filing_day(start, rules.legal.cutoff_at(start)),
        due_date=_agency_due(f, start, start, rules),
        province=province,
        field_key=fkey,
        route="",
        agency_code=f.agency_code,
        post_office_code=f.handover_post_office,
        procedure_code=f.procedure_code,
    )
    delay_used = False
    requests = 0
    appointment, apology = clock.due_date, None
    for revision in f.revisions:
        if revision.kind == "suspend":
            requests += 1
        if revision.kind == "suspend" and clock.state is ClockState.RUNNING:
            clock = replace(clock, state=ClockState.SUSPENDED)
        elif revision.kind == "restart":
            clock = replace(
                clock,
                generation=clock.generation + 1,
                state=ClockState.RUNNING,
                started_at=revision.at,
                start_day=rules.calendar.filing_day(revision.at, rules.legal.cutoff_at(revision.at)),
                due_date=_agency_due(f, start, revision.at, rules),
            )
            # The restart sets a new appointment: an earlier apology slip moved the old one.
            appointment, apology = clock.due_date, None
        elif revision.kind == "delay" and not delay_used:
            # At most one apology slip per dossier; a second one is ignored (the agency service refuses it).
            delay_used = True
            clock = replace(clock, generation=clock.generation + 1, due_date=revision.new_due_date)
            if revision.new_due_date is not None:
                apology = ApologySlip(revision.new_due_date, valid=not revision.breach)
    if f.result_ready_at is not None:
        finished = _finish(clock, f.result_ready_at, rules.calendar)
        # A procedure without a known target has no appointment but the one its apology slip set.
        base = appointment if appointment is not None else apology.new_date if apology else None
        if base is None:
            return finished
        processing = AgencyProcessing(f.result_ready_at, base, apology, requests)
        return replace(finished, timeliness=agency_timeliness(processing, rules.legal))
    stop = _earliest(f.refused_at, f.withdrawn_at)
    if f.closed_at is not None and (stop is None or f.closed_at < stop):
        # Closed while awaiting the supplement: stopped without a timeliness, kept apart from cancellations.
        return replace(_cancel(clock, f.closed_at), state=ClockState.CLOSED)
    return _cancel(clock, stop) if stop is not None else clock


def _agency_due(f: Facts, first_filing: datetime, filing: datetime, rules: ClockRules) -> date | None:
    code = f.procedure_code
    if code is not None and code in rules.catalog:
        return agency_due_date(
            filing, rules.catalog.get(code).target, rules.calendar, rules.legal.cutoff_at(filing)
        )
    if f.legal_due_date is None:
        return None
    # A procedure the catalog does not know: the agency's legal due date gives the target in working days.
    first_day = rules.calendar.filing_day(first_filing, rules.legal.cutoff_at(first_filing))
    target = max(0, rules.calendar.working_days_between(first_day, f.legal_due_date))
    return rules.calendar.add_working_days(
        rules.calendar.filing_day(filing, rules.legal.cutoff_at(filing)), target
    )


def _return_clock(f: Facts, rules: ClockRules, fkey: str) -> Clock | None:
    if f.picked_up_at is None or f.return_route is None:
        return None
    j = vn_day(f.picked_up_at)
    route = ROUTE_CLASSES[f.return_route]
    clock = Clock(
        leg=Leg.RETURN_POSTAL,
        generation=0,
        state=ClockState.RUNNING,
        started_at=f.picked_up_at,
        start_day=j,
        due_date=postal_leg_due(j, route, rules.calendar, False, rules.route_limits),
        province=rules.provinces.of_post_office(f.pickup_post_office) or UNKNOWN,
        field_key=fkey,
        route=route.value,
        agency_code=f.agency_code,
        post_office_code=f.pickup_post_office,
        procedure_code=f.procedure_code,
    )
    if f.first_attempt_at is not None:
        return _finish(clock, f.first_attempt_at, rules.calendar)
    stop = _earliest(f.withdrawn_at, f.result_lost_at)
    return _cancel(clock, stop) if stop is not None else clock


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def classifiable(facts: Facts) -> bool:
    """Whether a finished clock's labels are final. The procedure (hence the field) comes from the
    acceptance (postal topic) or the agency's registration (agency topic); a return clock can finish
    on the postal topic before a RECEIVE_RESULT dossier's registration is consumed."""
    return facts.procedure_code is not None


def reconcile(stored: Clock | None, derived: Clock, facts: Facts) -> tuple[Clock, bool]:
    """The clock to keep, and whether to count it in the tallies now.

    A finished or cancelled clock is final: facts arriving later do not change its timing. A finished
    clock is counted once, as soon as its facts classify it; one that finished before that is kept
    uncounted and takes its labels (field, province, post office) from the facts when they arrive, so
    the tallies do not depend on which topic a consumer read first."""
    if stored is not None and not stored.is_open:
        if stored.state is ClockState.FINISHED and not stored.counted and classifiable(facts):
            classified = replace(
                stored,
                province=derived.province,
                field_key=derived.field_key,
                agency_code=derived.agency_code,
                post_office_code=derived.post_office_code,
                procedure_code=derived.procedure_code,
                counted=True,
            )
            return classified, True
        return stored, False
    if derived.state is ClockState.FINISHED:
        count = classifiable(facts)
        return replace(derived, counted=count), count
    return derived, False


# --------------------------------------------------------------------------- thresholds and alerts


def due_soon_from(due_date: date, calendar: WorkingCalendar) -> date:
    """The first day on which a clock is due within one working day: the working day before its due date."""
    return calendar.previous_working_day(due_date)


def threshold_reached(clock: Clock, today: date, calendar: WorkingCalendar) -> Threshold | None:
    """The alert threshold a running clock stands at on `today` (Vietnam date), if any."""
    if clock.state is not ClockState.RUNNING or clock.due_date is None:
        return None
    if today > clock.due_date:
        return Threshold.OVERDUE
    if today >= due_soon_from(clock.due_date, calendar):
        return Threshold.DUE_SOON
    return None


def alert_horizon(today: date, calendar: WorkingCalendar) -> date:
    """Clocks due on or before this day are due soon or overdue on `today` (the inverse of due_soon_from)."""
    return calendar.next_working_day(today)


ALERT_NAMESPACE = uuid.UUID("6f0c7b0e-3d61-4a4f-9a57-2f1d8c4e9b10")


def alert_event_id(dossier_id: str, leg: Leg, generation: int, threshold: Threshold) -> uuid.UUID:
    """The event id of an alert: the same for the same clock, generation and threshold, whoever emits it."""
    return uuid.uuid5(ALERT_NAMESPACE, f"{dossier_id}/{leg.value}/{generation}/{threshold.value}")


# --------------------------------------------------------------------------- the whole journey


@dataclass(frozen=True)
class Journey:
    """Acceptance (or filing, for form RECEIVE_RESULT) to delivery."""

    province: str
    days: int
    working_days: int


def journey(facts: Facts, rules: ClockRules) -> Journey | None:
    start = facts.accepted_at or facts.filed_at
    if start is None or facts.delivered_at is None:
        return None
    first_day, last_day = vn_day(start), vn_day(facts.delivered_at)
    province = (
        rules.provinces.of_post_office(facts.accepting_post_office)
        or rules.provinces.of_post_office(facts.pickup_post_office)
        or UNKNOWN
    )
    return Journey(
        province=province,
        days=max(0, (last_day - first_day).days),
        working_days=elapsed_working_days(first_day, last_day, rules.calendar),
    )
