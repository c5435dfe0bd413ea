"""Building realistic event sequences of dossiers for the turnaround tests: contract samples with the
times, codes and routes of each scenario, and a distinct event id per event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from contracts.enums import ItemKind, RouteClass
from contracts.envelope import Envelope
from contracts.events import Event
from contracts.samples import sample_event, source_for
from contracts.values import dossier_id_for_item, make_agency_dossier_code, make_s10
from services.shared.calendar import VN_TZ, WorkingCalendar, agency_due_date
from services.shared.catalog import Catalog

ENTERPRISE = "2.001610"  # 3 working days, field dang_ky_doanh_nghiep
PASSPORT = "1.001456"  # 8 working days, field xuat_nhap_canh
JUDICIAL_RECORD = "3.000333"  # 10 working days, field ly_lich_tu_phap


def vn(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), VN_TZ)


@dataclass
class Journey:
    """One dossier's events, appended in the order they happen."""

    serial: int
    post_office: str = "100000"
    procedure: str = ENTERPRISE
    agency: str = "000.00.01.H22"
    events: list[Envelope[Event]] = field(default_factory=list)

    @property
    def item_id(self) -> str:
        return make_s10("EB", self.serial)

    @property
    def dossier_id(self) -> str:
        return dossier_id_for_item(self.item_id)

    @property
    def agency_dossier_code(self) -> str:
        return make_agency_dossier_code(self.agency, date(2026, 3, 2), self.serial % 9999 + 1)

    def add(self, kind: str, at: datetime, **changes: Any) -> Envelope[Event]:
        event = sample_event(kind, **changes)
        envelope = Envelope.new(
            event,
            subject=self.dossier_id,
            source=source_for(event.type),
            time=at,
            id=uuid.uuid5(uuid.UUID(self.dossier_id), f"{event.type}/{len(self.events)}"),
        )
        self.events.append(envelope)
        return envelope

    def accepted(self, at: datetime, route: RouteClass = RouteClass.INTRA_PROVINCIAL) -> Envelope[Event]:
        return self.add(
            "postal.dossier_accepted",
            at,
            item_id=self.item_id,
            procedure_code=self.procedure,
            agency_code=self.agency,
            post_office_code=self.post_office,
            route_class=route,
        )

    def handed_over(self, at: datetime) -> Envelope[Event]:
        return self.add(
            "postal.dossier_handed_to_agency",
            at,
            item_id=self.item_id,
            item_kind=ItemKind.DOSSIER,
            agency_code=self.agency,
            post_office_code=self.post_office,
            signed_at=at,
        )

    def received(self, filed_at: datetime, calendar: WorkingCalendar, catalog: Catalog) -> Envelope[Event]:
        due = agency_due_date(filed_at, catalog.get(self.procedure).target, calendar)
        return self.add(
            "agency.dossier_received",
            filed_at,
            agency_code=self.agency,
            agency_dossier_code=self.agency_dossier_code,
            procedure_code=self.procedure,
            item_id=self.item_id,
            filed_at=filed_at,
            legal_due_date=due,
            appointment_date=due,
            appointment_later_than_legal=False,
        )

    def agency_event(self, kind: str, at: datetime, **changes: Any) -> Envelope[Event]:
        return self.add(
            kind, at, agency_code=self.agency, agency_dossier_code=self.agency_dossier_code, **changes
        )

    def picked_up(self, at: datetime, route: RouteClass = RouteClass.INTRA_PROVINCIAL) -> Envelope[Event]:
        return self.add(
            "postal.result_picked_up",
            at,
            result_item_id=make_s10("RR", self.serial),
            dossier_item_id=self.item_id,
            agency_dossier_code=self.agency_dossier_code,
            agency_code=self.agency,
            post_office_code=self.post_office,
            route_class=route,
            return_due_date=at.date(),
        )

    def postal_event(self, kind: str, at: datetime, **changes: Any) -> Envelope[Event]:
        return self.add(
            kind, at, result_item_id=make_s10("RR", self.serial), post_office_code=self.post_office, **changes
        )
