"""Realistic dossier events for the benchmarks, and a fast way to pre-fill the event topics with them.

A population is the full journeys of N dossiers in the three service forms of Art. 5 (40 % send the
dossier by post, 40 % send and receive, 20 % receive the result only), about ten events each: transit
scans, a supplement round trip for some, a delay notice for a few, failed delivery attempts for some.
Dossiers start spread over 60 days of business hours across 50 agencies, 300 post offices and every
procedure of the catalog that may go by post; events are published in the order they happened, so a
batch of records touches hundreds of dossiers at different points of their journeys, as live traffic
does. About 1 % of the dossiers have one transit scan published after the event that followed it (an
offline scanner), which sends the tracker down its refold path.

Envelopes are written as plain JSON from templates (the contract's sample events, dumped once): a
million events render in seconds. ``check_sample`` validates a share of them with the contract's
decoder, and the tracker benchmark checks that the tracker applied every event it was given.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts.envelope import dataschema_uri, decode
from contracts.events import EVENT_TYPES, topic_for
from contracts.samples import VIETNAM, sample_event
from contracts.sources import agency_source, post_office_source
from contracts.values import (
    dossier_id_for_agency_code,
    dossier_id_for_item,
    make_agency_dossier_code,
    make_s10,
)
from services.shared.catalog import load_catalog

PERIOD_DAYS = 60
AGENCIES = tuple(f"000.{p:02d}.{a:02d}.H{p:02d}" for p in (1, 22, 48, 79, 92) for a in range(1, 11))
POST_OFFICES = tuple(f"{p:02d}{o:04d}" for p in (10, 11, 55, 70, 90) for o in range(0, 6000, 100))
FACILITIES = tuple(f"{p:02d}9{f:03d}" for p in (10, 55, 70) for f in range(0, 1000, 100))
PERIOD_START = datetime(2025, 3, 3, tzinfo=VIETNAM)

ACCEPTED = "postal.dossier_accepted"
IN_TRANSIT = "postal.dossier_in_transit"
HANDED = "postal.dossier_handed_to_agency"
PICKED_UP = "postal.result_picked_up"
OUT = "postal.result_out_for_delivery"
FAILED = "postal.delivery_failed"
DELIVERED = "postal.result_delivered"
RECEIVED = "agency.dossier_received"
SUPPLEMENT_REQUESTED = "agency.supplement_requested"
SUPPLEMENT_RECEIVED = "agency.supplement_received"
PROCESSING = "agency.dossier_processing"
DELAY = "agency.delay_notified"
READY = "agency.result_ready"
REGISTERED = "agency.dossier_registered_for_return"


def _latest(event_type: str) -> int:
    return max(version for (kind, version) in EVENT_TYPES if kind == event_type)


@dataclass(frozen=True)
class Template:
    event_type: str
    version: int
    topic: str
    dataschema: str
    data: dict[str, Any]


def _templates() -> dict[str, Template]:
    found = {}
    for event_type in (
        ACCEPTED,
        IN_TRANSIT,
        HANDED,
        PICKED_UP,
        OUT,
        FAILED,
        DELIVERED,
        RECEIVED,
        SUPPLEMENT_REQUESTED,
        SUPPLEMENT_RECEIVED,
        PROCESSING,
        DELAY,
        READY,
        REGISTERED,
    ):
        version = _latest(event_type)
        found[event_type] = Template(
            event_type,
            version,
            topic_for(event_type).name,
            dataschema_uri(event_type, version),
            sample_event((event_type, version)).model_dump(mode="json"),
        )
    return found


@dataclass(frozen=True)
class Record:
    """One Kafka record of a population, rendered."""

    topic: str
    key: bytes
    value: bytes


Step = tuple[str, int, dict[str, Any]]
"""(event type, n to tell repeated events of one type apart, the fields of this step)"""


@dataclass(frozen=True)
class Journey:
    dossier_id: str
    form: str
    steps: tuple[Step, ...]
    times: tuple[datetime, ...]
    late: int | None
    """The index of a transit scan published after the event that followed it, if any."""


class Population:
    """The journeys of ``dossiers`` dossiers numbered from ``first``; deterministic for a seed."""

    def __init__(
        self, dossiers: int, *, first: int = 0, seed: int = 45_2016, late_share: float = 0.01
    ) -> None:
        self.first = first
        self.count = dossiers
        self.seed = seed
        self.late_share = late_share
        self._templates = _templates()
        self._procedures = tuple(p.code for p in load_catalog() if p.by_post)

    # ------------------------------------------------------------------ one dossier

    def journey(self, index: int) -> Journey:
        rng = random.Random(self.seed * 1_000_003 + index)
        serial = index % 10**8
        item_id = make_s10("EB", serial)
        result_item_id = make_s10("RR", serial)
        supplement_item_id = make_s10("EE", serial)
        # (day, agency) is unique for index mod 3000, the sequence for index div 3000.
        day_index = index % PERIOD_DAYS
        agency = AGENCIES[(index // PERIOD_DAYS) % len(AGENCIES)]
        start = PERIOD_START + timedelta(days=day_index, hours=7.5 + rng.random() * 9)
        code = make_agency_dossier_code(agency, start.date(), index // 3000 % 9999 + 1)
        office = rng.choice(POST_OFFICES)
        courier = f"courier-{rng.randrange(10_000):04d}"
        procedure = rng.choice(self._procedures)
        roll = rng.random()
        form = "SEND_DOSSIER" if roll < 0.4 else "SEND_AND_RECEIVE" if roll < 0.8 else "RECEIVE_RESULT"
        dossier_id = (
            dossier_id_for_agency_code(code) if form == "RECEIVE_RESULT" else dossier_id_for_item(item_id)
        )
        desk = {"agency_code": agency, "officer_id": f"officer-{rng.randrange(1000):03d}"}
        coded = {**desk, "agency_dossier_code": code}

        steps: list[Step] = []
        if form != "RECEIVE_RESULT":
            steps.append(
                (
                    ACCEPTED,
                    0,
                    {
                        "item_id": item_id,
                        "service_form": form,
                        "procedure_code": procedure,
                        "agency_code": agency,
                        "post_office_code": office,
                        "clerk_id": f"clerk-{rng.randrange(10_000):04d}",
                        "inbound_due_date": (start + timedelta(days=4)).date().isoformat(),
                    },
                )
            )
            for n in range(rng.randint(1, 3)):
                steps.append(
                    (
                        IN_TRANSIT,
                        n,
                        {
                            "item_id": item_id,
                            "item_kind": "DOSSIER",
                            "facility_code": rng.choice(FACILITIES),
                            "direction": "DEPARTED" if n % 2 == 0 else "ARRIVED",
                        },
                    )
                )
            steps.append(
                (
                    HANDED,
                    0,
                    {
                        "item_id": item_id,
                        "agency_code": agency,
                        "post_office_code": office,
                        "handover_record_id": f"BBGN-{index:09d}",
                    },
                )
            )
            steps.append((RECEIVED, 0, {**coded, "procedure_code": procedure, "item_id": item_id}))
            if form == "SEND_AND_RECEIVE" and rng.random() < 0.2:
                steps.append((SUPPLEMENT_REQUESTED, 0, coded))
                steps.append((SUPPLEMENT_RECEIVED, 0, {**coded, "supplement_item_id": supplement_item_id}))
        else:
            steps.append((REGISTERED, 0, {**coded, "procedure_code": procedure}))
        steps.append((PROCESSING, 0, coded))
        if rng.random() < 0.1:
            steps.append((DELAY, 0, coded))
        steps.append((READY, 0, {**coded, "result_reference": f"KQ-{index:09d}"}))
        if form != "SEND_DOSSIER":
            pickup = {
                "result_item_id": result_item_id,
                "dossier_item_id": item_id if form == "SEND_AND_RECEIVE" else None,
                "agency_dossier_code": code,
                "agency_code": agency,
                "post_office_code": office,
                "pickup_record_id": f"PN-{index:09d}",
            }
            steps.append((PICKED_UP, 0, pickup))
            for n in range(rng.randint(0, 2)):
                steps.append(
                    (
                        IN_TRANSIT,
                        10 + n,
                        {
                            "item_id": result_item_id,
                            "item_kind": "RESULT",
                            "facility_code": rng.choice(FACILITIES),
                            "direction": "DEPARTED" if n % 2 == 0 else "ARRIVED",
                        },
                    )
                )
            carrier = {"result_item_id": result_item_id, "courier_id": courier, "post_office_code": office}
            attempt = 1
            while attempt < 3 and rng.random() < 0.2:
                steps.append((OUT, attempt, {**carrier, "attempt": attempt}))
                steps.append((FAILED, attempt, {**carrier, "attempt": attempt, "next_attempt_on": None}))
                attempt += 1
            steps.append((OUT, attempt, {**carrier, "attempt": attempt}))
            steps.append((DELIVERED, 0, {**carrier, "attempt": attempt}))

        times = [start]
        for _ in steps[1:]:
            times.append(times[-1] + timedelta(hours=rng.uniform(0.5, 30)))
        late = None
        if rng.random() < self.late_share:
            scans = [i for i, step in enumerate(steps[:-1]) if step[0] == IN_TRANSIT]
            late = scans[0] if scans else None
        return Journey(dossier_id, form, tuple(steps), tuple(times), late)

    def render(self, journey: Journey, step: int) -> Record:
        event_type, n, fields = journey.steps[step]
        template = self._templates[event_type]
        data = {**template.data, **fields}
        at = journey.times[step]
        if event_type == HANDED:
            data["signed_at"] = at.isoformat()
        elif event_type == RECEIVED:
            filed = journey.times[step - 1]
            due = _add_days(at.date(), 10)
            data.update(
                filed_at=filed.isoformat(),
                legal_due_date=due,
                appointment_date=due,
                appointment_later_than_legal=False,
            )
        elif event_type == SUPPLEMENT_RECEIVED:
            data["received_at"] = at.isoformat()
        elif event_type == REGISTERED:
            data["filed_at"] = (at - timedelta(hours=1)).isoformat()
        elif event_type == DELAY:
            data.update(
                previous_due_date=_add_days(at.date(), 2),
                new_due_date=_add_days(at.date(), 9),
                issued_on=at.date().isoformat(),
            )
        elif event_type == PICKED_UP:
            data["return_due_date"] = _add_days(at.date(), 4)
        event_id = uuid.uuid5(uuid.UUID(journey.dossier_id), f"{event_type}#{n}")
        source = (
            agency_source(fields["agency_code"])
            if event_type.startswith("agency.")
            else post_office_source(str(fields.get("post_office_code") or fields.get("facility_code")))
        )
        envelope = {
            "specversion": "1.0",
            "id": str(event_id),
            "type": event_type,
            "source": source,
            "subject": journey.dossier_id,
            "time": at.isoformat(),
            "datacontenttype": "application/json",
            "dataschema": template.dataschema,
            "schemaversion": template.version,
            "data": data,
        }
        value = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        return Record(template.topic, journey.dossier_id.encode(), value)

    # ------------------------------------------------------------------ the whole population

    def schedule(self) -> list[tuple[datetime, int, int]]:
        """(publication time, dossier index, step) of every event, in publication order."""
        plan: list[tuple[datetime, int, int]] = []
        for index in range(self.first, self.first + self.count):
            journey = self.journey(index)
            for step, at in enumerate(journey.times):
                if step == journey.late:
                    # An offline scanner uploads the scan a little after the next event happened.
                    at = journey.times[step + 1] + timedelta(minutes=30)
                plan.append((at, index, step))
        plan.sort()
        return plan

    def records(self, limit: int | None = None) -> Iterator[Record]:
        """Every record in publication order (at most ``limit``)."""
        plan = self.schedule()
        if limit is not None:
            plan = plan[:limit]
        cache: dict[int, Journey] = {}
        remaining: dict[int, int] = {}
        for _, index, _ in plan:
            remaining[index] = remaining.get(index, 0) + 1
        for _, index, step in plan:
            journey = cache.get(index)
            if journey is None:
                journey = cache[index] = self.journey(index)
            yield self.render(journey, step)
            remaining[index] -= 1
            if not remaining[index]:
                del cache[index], remaining[index]

    def size(self) -> int:
        return sum(len(self.journey(index).steps) for index in range(self.first, self.first + self.count))


def _add_days(day: date, days: int) -> str:
    return (day + timedelta(days=days)).isoformat()


def dossiers_for(events: int) -> int:
    """Enough dossiers to make ``events`` events (a journey averages 9.2 events)."""
    return max(1, round(events / 9.0))


def check_sample(records: list[Record], every: int = 97) -> int:
    """Decode every ``every``-th record with the contract's decoder; returns how many were checked."""
    checked = 0
    for record in records[::every]:
        decode(record.value, record.key)
        checked += 1
    return checked


def utc_now() -> datetime:
    return datetime.now(UTC)
