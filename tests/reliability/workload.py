"""A realistic, seeded stream of postal and agency events for many dossiers.

Each dossier follows its service form's journey (some stop part way, so clocks stay open and fall due),
with transit scans, supplements, apology slips and failed deliveries drawn at random. The data is
consistent the way real producers keep it: the handover's signing time is the agency's filing time,
every event names the same post office, agency and procedure, and the post office and the agency are
in one province. Event ids are deterministic (uuid5 of the dossier id, type and repetition), so the
expected state can be computed from the events alone.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from contracts.enums import DeliveryFailureReason, ItemKind, RouteClass, ServiceForm
from contracts.envelope import Envelope, KafkaRecord, kafka_record
from contracts.events import Event, topic_for
from contracts.samples import sample_event, source_for
from contracts.values import (
    dossier_id_for_agency_code,
    dossier_id_for_item,
    make_agency_dossier_code,
    make_s10,
)
from services.shared.calendar import VN_TZ, WorkingCalendar, agency_due_date, load_calendar
from services.shared.catalog import Catalog, load_catalog

# Hồ Chí Minh City: post office prefix 70 and agency segment H29 map to the same province, so the agency
# clock's province does not depend on which of the two topics is consumed first.
POST_OFFICE = "700000"
AGENCY = "000.00.00.H29"
PROCEDURES = ("2.001610", "1.001456", "3.000333")  # 3, 8 and 10 working days
FORMS = (ServiceForm.SEND_DOSSIER, ServiceForm.SEND_AND_RECEIVE, ServiceForm.RECEIVE_RESULT)
FORM_WEIGHTS = (0.3, 0.5, 0.2)
# Journeys start on one of the DAYS days before the workload's moment ("now"), and what would happen after
# it is cut off: the journeys of the last weeks are still under way, so their clocks fall due around the
# services' today (they run on the wall clock) and reach every threshold, not only overdue.
DAYS = 110


@dataclass
class Dossier:
    serial: int
    form: ServiceForm
    procedure: str
    item_id: str
    result_item_id: str
    agency_dossier_code: str
    events: list[Envelope[Event]] = field(default_factory=list)
    dossier_id: str = ""

    def __post_init__(self) -> None:
        self.dossier_id = (
            dossier_id_for_agency_code(self.agency_dossier_code)
            if self.form is ServiceForm.RECEIVE_RESULT
            else dossier_id_for_item(self.item_id)
        )

    def add(self, event_type: str, at: datetime, **fields: Any) -> datetime:
        n = sum(1 for e in self.events if e.type == event_type)
        event = sample_event(event_type, **fields)
        self.events.append(
            Envelope.new(
                event,
                subject=self.dossier_id,
                source=source_for(event_type),
                time=at,
                id=uuid.uuid5(uuid.UUID(self.dossier_id), f"{event_type}#{n}"),
            )
        )
        return at


class _Builder:
    def __init__(
        self, rng: random.Random, calendar: WorkingCalendar, catalog: Catalog, now: datetime
    ) -> None:
        self.rng = rng
        self.calendar = calendar
        self.catalog = catalog
        self.now = now
        self.first_day = now.astimezone(VN_TZ).date() - timedelta(days=DAYS)

    def start(self) -> datetime:
        day = self.first_day + timedelta(days=self.rng.randrange(DAYS))
        while not self.calendar.is_working_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, time(self.rng.randrange(8, 15), self.rng.randrange(60)), VN_TZ)

    def later(self, at: datetime, hours: float) -> datetime:
        return at + timedelta(hours=hours, minutes=self.rng.randrange(1, 50))

    def inbound(self, d: Dossier, at: datetime) -> datetime:
        office = {"post_office_code": POST_OFFICE}
        at = d.add(
            "postal.dossier_accepted",
            at,
            item_id=d.item_id,
            procedure_code=d.procedure,
            agency_code=AGENCY,
            service_form=d.form,
            route_class=RouteClass.INTRA_PROVINCIAL,
            carries_appointment_slip_back=False,
            **office,
        )
        for _ in range(self.rng.choice((0, 1, 1, 2))):
            at = d.add("postal.dossier_in_transit", self.later(at, 3), item_id=d.item_id)
        signed = self.later(at, 20)
        d.add(
            "postal.dossier_handed_to_agency",
            signed,
            item_id=d.item_id,
            item_kind=ItemKind.DOSSIER,
            agency_code=AGENCY,
            signed_at=signed,
            **office,
        )
        due = agency_due_date(signed, self.catalog.get(d.procedure).target, self.calendar)
        return d.add(
            "agency.dossier_received",
            self.later(signed, 0.5),
            agency_code=AGENCY,
            agency_dossier_code=d.agency_dossier_code,
            procedure_code=d.procedure,
            item_id=d.item_id,
            filed_at=signed,
            legal_due_date=due,
            appointment_date=due,
            appointment_later_than_legal=False,
        )

    def agency(self, d: Dossier, at: datetime) -> datetime:
        code = {"agency_code": AGENCY, "agency_dossier_code": d.agency_dossier_code}
        if self.rng.random() < 0.2:
            at = d.add("agency.supplement_requested", self.later(at, 24), **code)
            received = self.later(at, 48)
            at = d.add("agency.supplement_received", received, received_at=received, **code)
        at = d.add("agency.dossier_processing", self.later(at, 2), **code)
        if self.rng.random() < 0.15:
            at = d.add(
                "agency.delay_notified",
                self.later(at, 24),
                new_due_date=at.date() + timedelta(days=20),
                previous_due_date=at.date() + timedelta(days=5),
                issued_on=at.date() + timedelta(days=1),
                **code,
            )
        return d.add("agency.result_ready", self.later(at, 30), **code)

    def registration(self, d: Dossier, at: datetime) -> datetime:
        return d.add(
            "agency.dossier_registered_for_return",
            at,
            agency_code=AGENCY,
            agency_dossier_code=d.agency_dossier_code,
            procedure_code=d.procedure,
            filed_at=at,
        )

    def return_leg(self, d: Dossier, at: datetime) -> datetime:
        result = {"result_item_id": d.result_item_id, "post_office_code": POST_OFFICE}
        at = d.add(
            "postal.result_picked_up",
            self.later(at, 20),
            dossier_item_id=None if d.form is ServiceForm.RECEIVE_RESULT else d.item_id,
            agency_dossier_code=d.agency_dossier_code,
            agency_code=AGENCY,
            route_class=RouteClass.INTRA_PROVINCIAL,
            return_due_date=at.date() + timedelta(days=3),
            **result,
        )
        if self.rng.random() < 0.5:
            at = d.add(
                "postal.dossier_in_transit",
                self.later(at, 2),
                item_id=d.result_item_id,
                item_kind=ItemKind.RESULT,
            )
        attempt = 1
        at = d.add("postal.result_out_for_delivery", self.later(at, 20), attempt=attempt, **result)
        if self.rng.random() < 0.25:
            at = d.add(
                "postal.delivery_failed",
                self.later(at, 3),
                attempt=attempt,
                reason=DeliveryFailureReason.NOT_AT_HOME,
                next_attempt_on=at.date() + timedelta(days=3),
                **result,
            )
            attempt = 2
            at = d.add("postal.result_out_for_delivery", self.later(at, 70), attempt=attempt, **result)
        return d.add("postal.result_delivered", self.later(at, 2), attempt=attempt, **result)

    def journey(self, d: Dossier) -> None:
        at = self.start()
        at = self.registration(d, at) if d.form is ServiceForm.RECEIVE_RESULT else self.inbound(d, at)
        at = self.agency(d, at)
        if d.form is not ServiceForm.SEND_DOSSIER:
            self.return_leg(d, at)
        # A quarter of the dossiers are still under way: their clocks stay open and fall due.
        if self.rng.random() < 0.25:
            del d.events[self.rng.randrange(1, len(d.events)) :]
        # So is every journey that reaches past now (its first event is before today).
        future = [i for i, e in enumerate(d.events) if e.time > self.now]
        if future:
            del d.events[future[0] :]


@dataclass(frozen=True)
class Workload:
    seed: int
    dossiers: list[Dossier]

    @functools.cached_property
    def events(self) -> list[Envelope[Event]]:
        """Every event in the order they happened (so each dossier's events are in journey order)."""
        return sorted((e for d in self.dossiers for e in d.events), key=lambda e: (e.time, str(e.id)))

    @functools.cached_property
    def by_dossier(self) -> dict[str, list[Envelope[Event]]]:
        return {d.dossier_id: d.events for d in self.dossiers}

    @functools.cached_property
    def keys(self) -> set[bytes]:
        return {d.dossier_id.encode() for d in self.dossiers}

    def __len__(self) -> int:
        return sum(len(d.events) for d in self.dossiers)


def workload(seed: int, events: int, now: datetime | None = None) -> Workload:
    """Dossiers until exactly `events` events (the last journey is cut short to fit), all before `now`
    (default: the wall clock, which the services under test run on)."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    builder = _Builder(rng, load_calendar(), load_catalog(), now)
    base = rng.randrange(10**8 - 10**6)
    dossiers: list[Dossier] = []
    count = 0
    while count < events:
        n = len(dossiers)
        dossier = Dossier(
            serial=base + n,
            form=rng.choices(FORMS, FORM_WEIGHTS)[0],
            procedure=rng.choice(PROCEDURES),
            item_id=make_s10("EB", base + n),
            result_item_id=make_s10("RR", base + n),
            agency_dossier_code=make_agency_dossier_code(
                AGENCY, builder.first_day + timedelta(days=n // 9000 + base % 300), n % 9000 + 1
            ),
        )
        builder.journey(dossier)
        del dossier.events[events - count :]
        if not dossier.events:
            continue  # a journey that would start after `now`: nothing of it has happened yet
        dossiers.append(dossier)
        count += len(dossier.events)
    return Workload(seed, dossiers)


def records(envelopes: list[Envelope[Event]]) -> Iterator[tuple[str, KafkaRecord]]:
    for envelope in envelopes:
        yield topic_for(envelope.type).name, kafka_record(envelope)
