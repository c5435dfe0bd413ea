"""Planning the simulated journeys: pure, with the current time, the rules and a seeded random source
passed in.

The simulated day is today. Dossiers reaching the agencies' desks today were accepted at post offices
on earlier working days, so their inbound leg lies in the past and is recorded with those times. Desk
officers report through the agency service's HTTP API, which stamps every report with the server's
clock: from a desk's first report on, everything happens live. Agencies connected through their
provincial one-stop system report on agency.intake.v1 with the acts' own times, so their dossiers'
whole journeys — days of processing, return legs, failed deliveries two working days apart and
returns to the agency — lie in the past. Every journey's acts are in time order, and no act lies in
the future: an act planned after `horizon` is left out, and its dossier stays open where it is (which
is how overdue dossiers come about).

The mix (weights are relative):
- forms SEND_DOSSIER 30, RECEIVE_RESULT 25, SEND_AND_RECEIVE 45; counter 80 % / at the address 20 %;
- 3 % of packages are first presented without a required document (refused with what is missing);
- inbound and return legs early / on time / late against J+n about 55 / 30 / 15;
- agency: refused 4 %, withdrawn 2 %, supplement requested 10 % (a fifth never supplied), delay notice
  6 % (a fifth late: a breach), never finished 10 %; results early / on time / late 40 / 40 / 20;
  denied 8 %;
- delivery: failed first attempts 22 % (half of them fail again and go back to the agency),
  damaged 1 %, lost 0.5 %; offline offices' delivery rounds are uploaded as late batches.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from contracts.enums import (
    DeliveryFailureReason,
    DocumentForm,
    IdDocumentType,
    Outcome,
    RecipientKind,
    RouteClass,
    ServiceForm,
    TransitDirection,
)
from contracts.events.parts import DocumentChecked
from contracts.values import make_agency_dossier_code, make_s10
from services.shared.calendar import VN_TZ, WorkingCalendar, agency_due_date, to_vietnam_time
from services.shared.catalog import Catalog, Procedure
from services.shared.legal_rules import LegalRules
from services.shared.postal_limits import RouteClass as LimitClass
from services.shared.postal_limits import RouteLimits
from services.simulator import geography as geo
from services.simulator import people
from services.simulator import steps as s
from services.simulator.geography import Agency, AgencyLevel, PostOffice, Province, Reporting

FORMS = {ServiceForm.SEND_DOSSIER: 30, ServiceForm.RECEIVE_RESULT: 25, ServiceForm.SEND_AND_RECEIVE: 45}
HOME_WEIGHTS = {"ha_noi": 30, "ho_chi_minh": 30, "da_nang": 12, "hue": 10, "quang_ninh": 10, "can_tho": 8}
# How often citizens file each procedure by post (the catalog's by-post procedures; others weigh 1).
POPULARITY = {
    "1.001193": 8,  # birth registration
    "1.004222": 8,  # permanent residence
    "1.004194": 5,
    "3.000333": 7,  # judicial record certificate
    "1.001456": 6,  # passport
    "1.000466": 5,  # CCCD (central)
    "2.001610": 4,  # enterprise registration
    "1.001612": 4,  # household business
    "1.004873": 4,
    "1.002804": 3,
    "1.013978": 2,
    "1.010041": 2,
}
CHARGES = {
    "ho_tich": 8_000,
    "cu_tru": 20_000,
    "can_cuoc": 30_000,
    "xuat_nhap_canh": 200_000,
    "ly_lich_tu_phap": 200_000,
    "ho_kinh_doanh": 100_000,
    "xay_dung": 75_000,
    "giay_phep_lai_xe": 135_000,
}
POSTAGE = {
    RouteClass.LOCAL: 20_000,
    RouteClass.INTRA_PROVINCIAL: 26_000,
    RouteClass.BETWEEN_MAJOR_CITIES: 32_000,
    RouteClass.INTER_PROVINCIAL: 38_000,
}
# The contracts name route classes after the circular, the limit table after the 2025 reform.
LIMIT_CLASS = {
    RouteClass.LOCAL: LimitClass.SAME_COMMUNE,
    RouteClass.INTRA_PROVINCIAL: LimitClass.SAME_PROVINCE,
    RouteClass.BETWEEN_MAJOR_CITIES: LimitClass.BETWEEN_SPECIAL_CITIES,
    RouteClass.INTER_PROVINCIAL: LimitClass.INTER_PROVINCIAL,
}
FAILURES = {
    DeliveryFailureReason.NOT_AT_HOME: 60,
    DeliveryFailureReason.ADDRESS_NOT_FOUND: 10,
    DeliveryFailureReason.REFUSED: 5,
    DeliveryFailureReason.IDENTITY_NOT_VERIFIED: 10,
    DeliveryFailureReason.OTHER: 15,
}
REFUSALS = (
    "Hồ sơ không thuộc thẩm quyền giải quyết của cơ quan",
    "Người yêu cầu không đủ điều kiện theo quy định",
    "Giấy tờ trong hồ sơ đã hết hiệu lực",
)
SUPPLEMENT_REASONS = ("Bản sao chưa được chứng thực", "Tờ khai thiếu chữ ký", "Giấy tờ bị mờ, không đọc được")
DELAY_REASONS = ("Cần xác minh thông tin với cơ quan liên quan", "Hệ thống dữ liệu chuyên ngành gián đoạn")
DEPARTMENTS = (
    "Phòng Tư pháp",
    "Phòng Cảnh sát QLHC về TTXH",
    "Phòng Đăng ký kinh doanh",
    "Bộ phận chuyên môn",
)
WITHDRAWALS = ("Công dân xin rút hồ sơ", "Công dân nộp lại hồ sơ mới")
TIMELINESS = {"early": 55, "on_time": 30, "late": 15}
AGENCY_DELTA = {-2: 15, -1: 25, 0: 40, 1: 12, 2: 8}

# Where a procedure of each level goes: the commune desk or the provincial centre of the citizen's
# province, or the central agency in the capital; some provincial dossiers go to another province.
LEAD = timedelta(minutes=3)
"""Past acts end this long before now, so that none is in the future when it is sent."""


class Serials:
    """Allocates identifiers that no earlier run used (persisted by the caller)."""

    def __init__(self, item: int, record: int, codes: dict[str, int] | None = None) -> None:
        self.item = item
        self.record = record
        self.codes: dict[str, int] = dict(codes or {})

    def next_item(self, prefix: str) -> str:
        self.item += 1
        return make_s10(prefix, self.item % 100_000_000)

    def next_record(self, prefix: str) -> str:
        self.record += 1
        return f"{prefix}-{self.record:08d}"

    def next_code(self, agency: str, day: date) -> str:
        key = f"{agency}/{day:%y%m%d}"
        self.codes[key] = self.codes.get(key, 0) + 1
        return make_agency_dossier_code(agency, day, self.codes[key] % 10_000 or 1)


@dataclass(frozen=True)
class Rules:
    calendar: WorkingCalendar
    catalog: Catalog
    limits: RouteLimits
    legal: LegalRules
    """The legal parameters the services apply (the cut-off hour of the filing day)."""


@dataclass
class Sessions:
    """Handover records of the run, by (office, agency, day, sitting): one record lists many items."""

    serials: Serials
    by_key: dict[tuple[str, str, date, int], s.HandoverSession] = field(default_factory=dict)

    def session(self, office: str, agency: str, signed_at: datetime, sitting: int) -> s.HandoverSession:
        key = (office, agency, to_vietnam_time(signed_at).date(), sitting)
        found = self.by_key.get(key)
        if found is None:
            found = s.HandoverSession(
                record_id=self.serials.next_record("BBGN"),
                office=office,
                agency=agency,
                postal_worker_id=f"postman-{office}-1",
                agency_officer_id=f"officer-{agency.replace('.', '')}-1",
                signed_at=signed_at,
            )
            self.by_key[key] = found
        return found


T = TypeVar("T")


def _weighted(rng: random.Random, weights: dict[T, int]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class Planner:
    """Plans journeys against the current time. Every random choice comes from ``rng``."""

    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        rules: Rules,
        serials: Serials,
        *,
        history_working_days: int = 15,
        use_agency_systems: bool = True,
    ) -> None:
        self.rng = rng
        self.now = to_vietnam_time(now)
        self.horizon = self.now - LEAD
        self.today = self.now.date()
        self.rules = rules
        self.cal = rules.calendar
        self.serials = serials
        self.sessions = Sessions(serials)
        self.history = max(2, history_working_days)
        self.use_agency_systems = use_agency_systems
        self.procedures = [p for p in rules.catalog if p.by_post]

    # ----------------------------------------------------------------------- time helpers

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), VN_TZ)

    def some_time(self, day: date, start: tuple[int, int], end: tuple[int, int]) -> datetime:
        first, last = start[0] * 60 + start[1], end[0] * 60 + end[1]
        minutes = self.rng.randrange(first, max(first + 1, last))
        return self.at(day, minutes // 60, minutes % 60)

    def wd(self, day: date, n: int) -> date:
        """``n`` working days after (or before) ``day``; ``day`` itself when n is 0 and it is working."""
        if n == 0:
            return day if self.cal.is_working_day(day) else self.cal.next_working_day(day)
        return self.cal.add_working_days(day, n)

    def after(self, moment: datetime, minutes: tuple[int, int], closes: int = 17) -> datetime:
        """Some minutes after ``moment``, moved to the next working morning when the office has closed."""
        later = moment + timedelta(minutes=self.rng.randrange(*minutes))
        if later.hour >= closes or later.date() != moment.date():
            morning = self.cal.next_working_day(moment.date())
            return self.some_time(morning, (7, 30), (9, 0))
        return later

    def timeliness_days(self, limit: int) -> int:
        kind = _weighted(self.rng, TIMELINESS)
        if kind == "early":
            return self.rng.randrange(0, limit) if limit > 0 else 0
        if kind == "on_time":
            return limit
        return limit + self.rng.randrange(1, 3)

    # ----------------------------------------------------------------------- choices

    def _procedure(self) -> Procedure:
        weights = [POPULARITY.get(p.code, 1) for p in self.procedures]
        return self.rng.choices(self.procedures, weights=weights)[0]

    def _agency(self, procedure: Procedure, home: Province) -> tuple[Province, Agency]:
        if procedure.agency_level == AgencyLevel.CENTRAL.value:
            agency = geo.CAPITAL.agency(AgencyLevel.CENTRAL)
            assert agency is not None
            return geo.CAPITAL, agency
        province = home
        if procedure.agency_level == AgencyLevel.PROVINCE.value and self.rng.random() < 0.12:
            province = self.rng.choice([p for p in geo.PROVINCES if p.key != home.key])
        level = (
            AgencyLevel.COMMUNE
            if procedure.agency_level == AgencyLevel.COMMUNE.value
            else AgencyLevel.PROVINCE
        )
        agency = province.agency(level) or province.agencies[0]
        return province, agency

    def _documents(self, procedure: Procedure) -> tuple[DocumentChecked, ...]:
        chosen = []
        for doc in procedure.documents:
            if doc.conditional and self.rng.random() < 0.7:
                continue
            form = DocumentForm.ORIGINAL
            if doc.form == "copy":
                form = DocumentForm.CERTIFIED_COPY if self.rng.random() < 0.5 else DocumentForm.COPY
            chosen.append(DocumentChecked(name=doc.name, form=form, count=doc.count))
        return tuple(chosen)

    def _office_for(self, province: Province, commune: str) -> PostOffice:
        return next((o for o in province.post_offices if o.commune == commune), province.post_offices[0])

    # ----------------------------------------------------------------------- a journey

    def plan(self) -> s.Journey:
        rng = self.rng
        form = _weighted(rng, FORMS)
        home = geo.BY_KEY[_weighted(rng, HOME_WEIGHTS)]
        procedure = self._procedure()
        agency_province, agency = self._agency(procedure, home)
        reporting = agency.reporting if self.use_agency_systems else Reporting.DESK
        needs_id = procedure.field_key in (
            "xuat_nhap_canh",
            "can_cuoc",
            "ly_lich_tu_phap",
            "giay_phep_lai_xe",
        )
        applicant, notify_by = people.with_consent(rng, people.applicant(rng, home, with_id=needs_id))
        home_office = self._office_for(home, applicant.address.commune)
        if rng.random() < 0.3:
            home_office = rng.choice(home.post_offices)
        journey = s.Journey(
            form=form,
            procedure_code=procedure.code,
            agency=agency,
            agency_province=agency_province,
            home=home,
            home_office=home_office,
            applicant=applicant,
            reporting=reporting,
            item_id=None,
            result_item_id=None,
            agency_dossier_code=None,
            steps=[],
            scenario="",
            notify_by=notify_by,
        )
        live = reporting is Reporting.DESK
        if form is ServiceForm.RECEIVE_RESULT:
            last = self._filed_at_the_agency(journey, procedure, live)
        else:
            last = self._inbound(journey, procedure, live)
        if last is None:
            return journey
        outcome = self._agency_work(journey, procedure, last, live)
        if outcome is not None and form is not ServiceForm.SEND_DOSSIER:
            self._return_leg(journey, outcome, live)
        return journey

    # ----------------------------------------------------------------------- inbound leg

    def _inbound(self, j: s.Journey, procedure: Procedure, live: bool) -> datetime | None:
        """Acceptance, transit and handover, in the past: the handover time, or None if not handed over."""
        rng = self.rng
        j.item_id = self.serials.next_item("EB")
        route = geo.route_class(j.home, j.home_office.commune, j.agency_province, j.agency.commune)
        slip = rng.random() < 0.05
        limit = self.rules.limits.days(LIMIT_CLASS[route], slip)
        inbound_days = self.timeliness_days(limit)
        sitting = rng.choice((0, 0, 1, 2))  # 09:30, 14:00 or 15:30 (after the cut-off)
        if live:
            # Today's desk receives it: choose the filing day so that a result ready today is early, on
            # time or late against the procedure's target.
            target = procedure.target.working_days or 0
            taken = max(0, target + _weighted(rng, AGENCY_DELTA))
            handover_day = self.wd(self.today, -taken) if taken else self.today
            if handover_day >= self.today and self.now.time() < time(10, 0):
                handover_day = self.cal.previous_working_day(self.today)  # today's first sitting is 09:30
            sitting = rng.choice((0, 1))
        else:
            handover_day = self.wd(self.today, -rng.randrange(1, self.history + 1))
        if not self.cal.is_working_day(handover_day):
            handover_day = self.cal.previous_working_day(handover_day)
        accept_day = self.wd(handover_day, -inbound_days) if inbound_days else handover_day
        accepted_at = self.some_time(accept_day, (7, 30), (11, 0) if inbound_days == 0 else (16, 30))
        if accepted_at > self.horizon:
            accepted_at = self.horizon - timedelta(hours=2)
        charge = CHARGES.get(procedure.field_key, 0)
        if procedure.code == "1.001193":
            charge = 0  # birth registration is free
        postage = POSTAGE[route] * (2 if j.form is ServiceForm.SEND_AND_RECEIVE else 1) + (
            8_000 if slip else 0
        )
        j.steps.append(
            s.Accept(
                at=accepted_at,
                office=j.home_office.code,
                clerk_id=f"clerk-{j.home_office.code}-{rng.randrange(1, 4)}",
                channel="AT_ADDRESS" if rng.random() < 0.2 else "COUNTER",
                route=route,
                documents=self._documents(procedure),
                fee_vnd=50_000 if procedure.field_key == "dang_ky_doanh_nghiep" else 0,
                charge_vnd=charge,
                postage_vnd=postage,
                slip_back=slip,
                forgets_a_document=rng.random() < 0.03,
            )
        )
        t = accepted_at
        # Transit: the origin office dispatches, the sorting centres pass it on.
        path: list[tuple[PostOffice, TransitDirection]] = [(j.home_office, TransitDirection.DEPARTED)]
        path.append((j.home.facility, TransitDirection.ARRIVED))
        if j.agency_province.key != j.home.key:
            path += [
                (j.home.facility, TransitDirection.DEPARTED),
                (j.agency_province.facility, TransitDirection.ARRIVED),
            ]
            path.append((j.agency_province.facility, TransitDirection.DEPARTED))
        elif route is not RouteClass.LOCAL:
            path.append((j.home.facility, TransitDirection.DEPARTED))
        else:
            path = [(j.home_office, TransitDirection.DEPARTED)] if rng.random() < 0.5 else []
        handing = j.home_office if j.agency_province.key == j.home.key else j.agency_province.post_offices[0]
        for office, direction in path:
            t = self.after(t, (30, 240), closes=22)
            if t > self.horizon:
                j.scenario = "in transit"
                return None
            j.steps.append(
                s.Transit(at=t, office=office.code, item=j.item_id, direction=direction, scan_id=uuid.uuid4())
            )
        if rng.random() < 0.005:
            t = self.after(t, (60, 600))
            j.scenario = "in transit"
            if t <= self.horizon:
                j.steps.append(
                    s.Incident(
                        at=t,
                        office=handing.code,
                        item=j.item_id,
                        lost=True,
                        at_fault=True,
                        compensation_vnd=4 * postage,
                    )
                )
                j.scenario = "lost"
            return None
        if rng.random() < 0.02:
            j.scenario = "stuck in transit"  # misrouted: never reaches the agency, the clock runs over
            return None
        if rng.random() < 0.01:
            t = self.after(t, (10, 120))
            j.steps.append(
                s.Incident(
                    at=t,
                    office=handing.code,
                    item=j.item_id,
                    lost=False,
                    at_fault=False,
                    compensation_vnd=None,
                )
            )
        # The handover: one record per desk and sitting lists every item handed over then.
        if handover_day < to_vietnam_time(t).date():
            handover_day = to_vietnam_time(t).date()
            if not self.cal.is_working_day(handover_day):
                handover_day = self.cal.next_working_day(handover_day)
        signed_at = self.at(handover_day, *((9, 30), (14, 0), (15, 30))[sitting])
        while signed_at <= t:
            sitting += 1
            if sitting > 2:
                handover_day, sitting = self.cal.next_working_day(handover_day), 0
            signed_at = self.at(handover_day, *((9, 30), (14, 0), (15, 30))[sitting])
        if signed_at > self.horizon:
            j.scenario = "waiting for handover"
            return None
        session = self.sessions.session(handing.code, j.agency.code, signed_at, sitting)
        session.items.append(j.item_id)
        j.steps.append(s.HandOver(at=session.signed_at, session=session))
        return session.signed_at

    def _filed_at_the_agency(self, j: s.Journey, procedure: Procedure, live: bool) -> datetime | None:
        """Form RECEIVE_RESULT: filed in person or online, registered for return of the result by post."""
        rng = self.rng
        target = procedure.target.working_days or 0
        if live:
            taken = max(0, target + _weighted(rng, AGENCY_DELTA))
            day = self.wd(self.today, -taken) if taken else self.today
        else:
            day = self.wd(self.today, -rng.randrange(1, self.history))
        if not self.cal.is_working_day(day):
            day = self.cal.previous_working_day(day)
        filed_at = self.some_time(day, (7, 30), (11, 30))
        if filed_at > self.horizon:
            day = self.cal.previous_working_day(day)
            filed_at = self.some_time(day, (7, 30), (11, 30))
        j.agency_dossier_code = self.serials.next_code(j.agency.code, day)
        channel = "ONLINE" if rng.random() < 0.4 else "IN_PERSON"
        registered_at = None if live else self.after(filed_at, (5, 40))
        address = j.applicant.address
        j.steps.append(
            s.Register(at=registered_at, filing_channel=channel, filed_at=filed_at, delivery_address=address)
        )
        # The agency service asks for a receipt before processing (status FILED → RECEIVED).
        legal = agency_due_date(filed_at, procedure.target, self.cal, self.rules.legal.cutoff_at(filed_at))
        received_at = None if live else self.after(registered_at or filed_at, (1, 20))
        j.steps.append(
            s.Receive(at=received_at, appointment_date=legal, legal_due_date=legal, filed_at=filed_at)
        )
        j.extras.update(filed_at=filed_at, due=legal, code_day=day)
        return received_at or filed_at

    # ----------------------------------------------------------------------- the agency

    def _agency_work(self, j: s.Journey, procedure: Procedure, last: datetime, live: bool) -> str | None:
        """The desk's reports. Returns what goes back by post ("result" or "refusal"), or None."""
        rng = self.rng

        def stamp(moment: datetime) -> datetime | None:
            return None if live else moment

        def too_late(moment: datetime) -> bool:
            return not live and moment > self.horizon

        if j.form is not ServiceForm.RECEIVE_RESULT:
            filed_at = last
            legal = agency_due_date(
                filed_at, procedure.target, self.cal, self.rules.legal.cutoff_at(filed_at)
            )
            received_at = self.after(filed_at, (10, 120))
            if too_late(received_at):
                j.scenario = "handed to agency"
                return None
            day = to_vietnam_time(received_at).date() if not live else self.today
            if rng.random() < 0.04:
                with_code = j.form is ServiceForm.SEND_AND_RECEIVE
                if with_code:
                    j.agency_dossier_code = self.serials.next_code(j.agency.code, day)
                j.steps.append(
                    s.Refuse(at=stamp(received_at), reason=rng.choice(REFUSALS), with_code=with_code)
                )
                j.scenario = "refused"
                j.extras["ready_at"] = received_at
                return "refusal" if with_code else None
            j.agency_dossier_code = self.serials.next_code(j.agency.code, day)
            appointment = legal if rng.random() < 0.9 else self.wd(legal, 1)
            j.steps.append(
                s.Receive(
                    at=stamp(received_at),
                    appointment_date=appointment,
                    legal_due_date=legal,
                    filed_at=filed_at,
                )
            )
            t = received_at
        else:
            filed_at = j.extras["filed_at"]
            legal = j.extras["due"]
            t = last
        due = legal
        if rng.random() < 0.02:
            t = self.after(t, (60, 60 * 24))
            if not too_late(t):
                j.steps.append(s.Withdraw(at=stamp(t), reason=rng.choice(WITHDRAWALS)))
                j.scenario = "withdrawn"
            return None
        if rng.random() < 0.10:
            requested = self.after(t, (30, 60 * 30))
            if too_late(requested):
                j.scenario = "received"
                return None
            missing = tuple(d.name for d in procedure.documents[:1])
            j.steps.append(
                s.RequestSupplement(
                    at=stamp(requested), documents=missing, reason=rng.choice(SUPPLEMENT_REASONS)
                )
            )
            if rng.random() < 0.2:
                j.scenario = "awaiting supplement"
                return None
            supplied = self.some_time(
                self.wd(to_vietnam_time(requested).date(), rng.randrange(1, 4)), (8, 0), (14, 30)
            )
            if live:
                j.steps.append(s.ReceiveSupplement(at=None, received_at=None))
                t = filed_at = self.now
                due = agency_due_date(
                    self.now, procedure.target, self.cal, self.rules.legal.cutoff_at(self.now)
                )
            else:
                if supplied > self.horizon:
                    j.scenario = "awaiting supplement"
                    return None
                recorded = self.after(supplied, (5, 90))
                if recorded > self.horizon:
                    recorded = supplied
                j.steps.append(s.ReceiveSupplement(at=recorded, received_at=supplied))
                t, filed_at = recorded, supplied
                due = agency_due_date(
                    supplied, procedure.target, self.cal, self.rules.legal.cutoff_at(supplied)
                )
        if rng.random() < 0.6:
            t = self.after(t, (30, 300))
            if too_late(t):
                j.scenario = "received"
                return None
            j.steps.append(s.Processing(at=stamp(t), department=rng.choice(DEPARTMENTS)))
        if rng.random() < 0.06:
            step = self._delay(
                t, due, self.cal.filing_day(filed_at, self.rules.legal.cutoff_at(filed_at)), live
            )
            if step is not None:
                j.steps.append(step)
                t = step.at or t
                if step.new_due_date is not None:
                    due = step.new_due_date
        if rng.random() < 0.10:
            j.scenario = "processing"
            return None
        if live:
            ready_at = self.now
        else:
            delta = _weighted(rng, AGENCY_DELTA)
            ready_day = self.wd(due, delta) if delta else due
            earliest = to_vietnam_time(t).date()
            ready_day = max(ready_day, earliest)
            if not self.cal.is_working_day(ready_day):
                ready_day = self.cal.next_working_day(ready_day)
            ready_at = self.some_time(ready_day, (8, 0), (16, 30))
            if ready_at <= t:
                ready_at = self.after(t, (20, 180))
            if ready_at > self.horizon:
                j.scenario = "processing"
                return None
        outcome = Outcome.DENIED if rng.random() < 0.08 else Outcome.APPROVED
        j.steps.append(
            s.ResultReady(at=stamp(ready_at), outcome=outcome, reference=self.serials.next_record("QD"))
        )
        j.scenario = "result ready" if outcome is Outcome.APPROVED else "denied"
        j.extras["ready_at"] = ready_at
        return "result"

    def _delay(self, t: datetime, due: date, filing_day: date, live: bool) -> s.NotifyDelay | None:
        rng = self.rng
        new_due = self.wd(due, rng.randrange(2, 6))
        reason = rng.choice(DELAY_REASONS)
        if live:
            return s.NotifyDelay(
                at=None,
                previous_due_date=None,
                new_due_date=None,
                extra_working_days=3,
                issued_on=None,
                breach=None,
                reason=reason,
            )
        breach = rng.random() < 0.2
        issued = due if breach else self.wd(due, -rng.randrange(1, 3))
        earliest = max(to_vietnam_time(t).date(), filing_day)
        if issued < earliest:
            issued = earliest
        moment = self.some_time(issued, (8, 0), (16, 30))
        if moment <= t:
            moment = self.after(t, (10, 120))
            issued = to_vietnam_time(moment).date()
        if moment > self.horizon or issued > due:
            return None
        latest = self.cal.add_working_days(due, -1)
        return s.NotifyDelay(
            at=moment,
            previous_due_date=due,
            new_due_date=new_due,
            extra_working_days=0,
            issued_on=issued,
            breach=issued > latest,
            reason=reason,
        )

    # ----------------------------------------------------------------------- return leg

    def _return_leg(self, j: s.Journey, what: str, live: bool) -> None:
        rng = self.rng
        ready_at: datetime = j.extras["ready_at"]
        pickup_office = j.agency_province.post_offices[0]
        delivery_office = j.home_office
        route = geo.route_class(j.agency_province, j.agency.commune, j.home, j.applicant.address.commune)
        limit = self.rules.limits.days(LIMIT_CLASS[route])
        j.result_item_id = self.serials.next_item("RR")

        def stamp(moment: datetime) -> datetime | None:
            return None if live else moment

        if live:
            picked_at = self.now
        else:
            moment = to_vietnam_time(ready_at)
            picked_at = (
                self.some_time(moment.date(), (15, 0), (16, 45))
                if moment.hour < 14
                else self.some_time(self.cal.next_working_day(moment.date()), (8, 0), (10, 0))
            )
            if picked_at <= ready_at:
                picked_at = self.after(ready_at, (20, 90))
            if picked_at > self.horizon:
                return
        j.steps.append(
            s.PickUp(
                at=stamp(picked_at),
                office=pickup_office.code,
                record_id=self.serials.next_record("PN"),
                postal_worker_id=f"postman-{pickup_office.code}-2",
                agency_officer_id=f"officer-{j.agency.code.replace('.', '')}-2",
                route=route,
            )
        )
        j.scenario = "result picked up"
        t = picked_at
        assert j.result_item_id is not None
        hops: list[tuple[PostOffice, TransitDirection]] = []
        if pickup_office.code != delivery_office.code:
            hops = [(pickup_office, TransitDirection.DEPARTED)]
            if j.agency_province.key != j.home.key:
                hops += [
                    (j.agency_province.facility, TransitDirection.ARRIVED),
                    (j.agency_province.facility, TransitDirection.DEPARTED),
                ]
            hops.append((delivery_office, TransitDirection.ARRIVED))
        for office, direction in hops:
            if not live:
                t = self.after(t, (30, 300), closes=22)
                if t > self.horizon:
                    return
            j.steps.append(
                s.Transit(
                    at=stamp(t),
                    office=office.code,
                    item=j.result_item_id,
                    direction=direction,
                    scan_id=uuid.uuid4(),
                )
            )
        if rng.random() < 0.003:
            lost_at = self.after(t, (30, 300))
            if not live and lost_at > self.horizon:
                return
            j.steps.append(
                s.Incident(
                    at=stamp(lost_at),
                    office=delivery_office.code,
                    item=j.result_item_id,
                    lost=True,
                    at_fault=True,
                    compensation_vnd=None,
                )
            )
            j.scenario = "lost"
            return
        if not live and rng.random() < 0.02:
            return  # left at the office: the return clock runs over
        courier = f"courier-{delivery_office.code}-{rng.randrange(1, 5)}"
        offline = delivery_office.offline_scanner
        if live:
            self._live_delivery(j, delivery_office, courier, offline)
            return
        first_day = self.wd(to_vietnam_time(picked_at).date(), max(1, self.timeliness_days(limit)))
        out_at = self.some_time(first_day, (7, 30), (9, 30))
        if out_at <= t:
            out_at = self.after(t, (30, 120))
        attempts: list[s.Step] = []
        fails = rng.random() < 0.22
        first_end = self.after(out_at, (60, 300), closes=19)
        if out_at > self.horizon or first_end > self.horizon:
            if out_at <= self.horizon:
                j.steps.append(
                    s.OutForDelivery(
                        at=out_at,
                        office=delivery_office.code,
                        courier_id=courier,
                        scan_id=uuid.uuid4(),
                        offline=False,
                    )
                )
                j.scenario = "out for delivery"
            return
        attempts.append(
            s.OutForDelivery(
                at=out_at,
                office=delivery_office.code,
                courier_id=courier,
                scan_id=uuid.uuid4(),
                offline=offline,
            )
        )
        if not fails:
            attempts.append(self._delivered(first_end, delivery_office, courier, offline))
            j.steps += attempts
            j.scenario = "delivered"
            return
        second_day = self.wd(to_vietnam_time(first_end).date(), 2)
        attempts.append(
            s.DeliveryFailed(
                at=first_end,
                office=delivery_office.code,
                courier_id=courier,
                scan_id=uuid.uuid4(),
                reason=_weighted(rng, FAILURES),
                next_attempt_on=second_day,
                offline=offline,
            )
        )
        j.scenario = "delivery failed"
        out2 = self.some_time(second_day, (7, 30), (9, 30))
        end2 = self.after(out2, (60, 300), closes=19)
        if end2 > self.horizon:
            j.steps += attempts
            return
        attempts.append(
            s.OutForDelivery(
                at=out2,
                office=delivery_office.code,
                courier_id=courier,
                scan_id=uuid.uuid4(),
                offline=offline,
            )
        )
        if rng.random() < 0.5:
            attempts.append(self._delivered(end2, delivery_office, courier, offline))
            j.steps += attempts
            j.scenario = "delivered"
            return
        attempts.append(
            s.DeliveryFailed(
                at=end2,
                office=delivery_office.code,
                courier_id=courier,
                scan_id=uuid.uuid4(),
                reason=_weighted(rng, FAILURES),
                next_attempt_on=None,
                offline=False,
            )
        )
        # The return needs both failures on record first: those scans go online.
        attempts = [self._online(step) for step in attempts]
        returned_at = self.some_time(self.cal.next_working_day(to_vietnam_time(end2).date()), (9, 0), (15, 0))
        j.steps += attempts
        j.scenario = "delivery failed"
        if returned_at > self.horizon:
            return
        j.steps.append(
            s.Return(
                at=returned_at,
                office=delivery_office.code,
                record_id=self.serials.next_record("BBTL"),
                postal_worker_id=f"postman-{delivery_office.code}-1",
                agency_officer_id=f"officer-{j.agency.code.replace('.', '')}-2",
            )
        )
        j.scenario = "returned"

    def _live_delivery(self, j: s.Journey, office: PostOffice, courier: str, offline: bool) -> None:
        rng = self.rng
        j.steps.append(
            s.OutForDelivery(
                at=None, office=office.code, courier_id=courier, scan_id=uuid.uuid4(), offline=offline
            )
        )
        j.scenario = "out for delivery"
        if rng.random() < 0.1:
            return  # still on the round
        if rng.random() < 0.1:
            j.steps.append(
                s.DeliveryFailed(
                    at=None,
                    office=office.code,
                    courier_id=courier,
                    scan_id=uuid.uuid4(),
                    reason=_weighted(rng, FAILURES),
                    next_attempt_on=self.wd(self.today, 2),
                    offline=offline,
                )
            )
            j.scenario = "delivery failed"
            return
        j.steps.append(self._delivered(None, office, courier, offline))
        j.scenario = "delivered"

    def _delivered(self, at: datetime | None, office: PostOffice, courier: str, offline: bool) -> s.Delivered:
        rng = self.rng
        proxy = rng.random() < 0.1
        document = _weighted(
            rng, {IdDocumentType.CCCD: 90, IdDocumentType.PASSPORT: 7, IdDocumentType.OTHER: 3}
        )
        return s.Delivered(
            at=at,
            office=office.code,
            courier_id=courier,
            scan_id=uuid.uuid4(),
            recipient=RecipientKind.AUTHORISED_PROXY if proxy else RecipientKind.APPLICANT,
            id_document=document,
            offline=offline,
        )

    @staticmethod
    def _online(step: s.Step) -> s.Step:
        if isinstance(step, s.OutForDelivery | s.DeliveryFailed | s.Delivered) and step.offline:
            from dataclasses import replace

            return replace(step, offline=False)
        return step
