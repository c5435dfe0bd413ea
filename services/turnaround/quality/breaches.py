"""Which breaches of the rules an event or a finished clock reveals: each one opens a nonconformity
(ISO 9001:2015 cl. 10.2). Pure: the facts, the clock and the dated rules are passed in.

A breach is identified by its dossier, its kind and its occurrence (which notice, request, leg or result
it is about); the nonconformity's id is derived from that key (uuid5), so the projector — run again on a
redelivered event, a replay from offset 0 or a rebuild — computes the same row and opens it once. The
occurrence never depends on the event's id or on how often an event was applied: a delay notice is
numbered among the distinct notices of the dossier (a replayed one is the same notice), a supplement
request by its number, a leg by its name, a returned result by its item id.

Each breach cites the rule it breaks as in force on the day of the fact: an agency's breaches the one-stop
rule set of deploy/rules (services/shared/legal_rules.py) and the article of the parameter broken; a
postal one the postal rule set of deploy/postal/breach_rules.yaml. Nothing is opened for a fact no rule
set covers. Its facts are dates, codes and counts only — never the applicant's data nor a free text.

A running postal leg that becomes overdue opens nothing here: the J+n limit is about when the leg ends,
and an overdue leg is already announced by the scheduler's ClockOverdue alert; the nonconformity opens
when the leg ends past its due date (its facts then say by how much), keyed by the leg, so a leg that
never ends (lost) is the lost-item incident rather than a late leg.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from contracts.enums import Leg, SupplementBreach
from contracts.envelope import Envelope
from contracts.events import DelayNotified, Event, ResultReturnedToAgency, SupplementRequested
from services.shared.calendar import to_vietnam_time
from services.shared.legal_rules import NoRuleInForceError
from services.shared.timeliness import Timeliness
from services.turnaround.domain import Clock, ClockRules, Facts, Revision
from services.turnaround.provinces import UNKNOWN
from services.turnaround.quality.postal_rules import PostalRules


class BreachKind(StrEnum):
    """The breaches the rules define (a closed set: it is a metric label and a filter of the register)."""

    RESULT_LATE_WITHOUT_DELAY_NOTICE = "result_late_without_delay_notice"
    LATE_DELAY_NOTICE = "late_delay_notice"
    SECOND_DELAY_NOTICE = "second_delay_notice"
    SECOND_SUPPLEMENT_REQUEST = "second_supplement_request"
    LATE_SUPPLEMENT_REQUEST = "late_supplement_request"
    POSTAL_LEG_LATE = "postal_leg_late"
    RESULT_RETURNED_TO_AGENCY = "result_returned_to_agency"


class Responsible(StrEnum):
    """The kind of unit that must analyse a nonconformity."""

    AGENCY = "agency"
    POST_OFFICE = "post_office"


AGENCY_PARAMETER: Mapping[BreachKind, str] = {
    # A late result needed an apology slip issued before the due date (Art. 19(6)).
    BreachKind.RESULT_LATE_WITHOUT_DELAY_NOTICE: "apology_lead",
    BreachKind.LATE_DELAY_NOTICE: "apology_lead",
    BreachKind.SECOND_DELAY_NOTICE: "apology_slips_allowed",
    BreachKind.SECOND_SUPPLEMENT_REQUEST: "supplement_requests_allowed",
    BreachKind.LATE_SUPPLEMENT_REQUEST: "supplement_request_window",
}
"""The parameter of the one-stop rule set each agency breach breaks: its citation is the article."""

SUPPLEMENT_KINDS: Mapping[SupplementBreach, BreachKind] = {
    SupplementBreach.SECOND_SUPPLEMENT_REQUEST: BreachKind.SECOND_SUPPLEMENT_REQUEST,
    SupplementBreach.LATE_SUPPLEMENT_REQUEST: BreachKind.LATE_SUPPLEMENT_REQUEST,
}

NAMESPACE = uuid.UUID("0b8f4a52-6c3e-4f0e-9d7a-5e2b1c9a7d31")

Fact = str | int | None


def nonconformity_id(dossier_id: str, kind: BreachKind, occurrence: str) -> str:
    """The same id for the same breach, whichever replica or replay opens it."""
    return str(uuid.uuid5(NAMESPACE, f"{dossier_id}/{kind.value}/{occurrence}"))


@dataclass(frozen=True)
class Citation:
    rule_set: str
    article: str


@dataclass(frozen=True)
class Breach:
    dossier_id: str
    kind: BreachKind
    occurrence: str
    leg: Leg
    responsible: Responsible
    responsible_code: str
    province: str
    procedure_code: str | None
    citation: Citation
    detected_at: datetime
    """When the breach happened: the time of the event that revealed it."""
    facts: Mapping[str, Fact] = field(default_factory=dict)

    @property
    def nonconformity_id(self) -> str:
        return nonconformity_id(self.dossier_id, self.kind, self.occurrence)


def _day(moment: datetime) -> date:
    return to_vietnam_time(moment).date()


def distinct_delay_notices(facts: Facts) -> list[Revision]:
    """The dossier's delay notices in the order reported, each once: an event applied again (a replay
    with a fresh consumer group) records the same notice again, which is not a second notice."""
    seen: list[Revision] = []
    for revision in facts.revisions:
        if revision.kind == "delay" and all(
            (r.at, r.new_due_date) != (revision.at, revision.new_due_date) for r in seen
        ):
            seen.append(revision)
    return seen


def delay_notice_number(facts: Facts, at: datetime, new_due_date: date) -> int:
    """Which notice of the dossier this is (1 for the first); `facts` have recorded it."""
    notices = [(r.at, r.new_due_date) for r in distinct_delay_notices(facts)]
    return notices.index((at, new_due_date)) + 1


def notice_before_result(facts: Facts) -> bool:
    """Whether a delay notice was issued for the appointment the result was judged against: after the
    last restart (a supplement's arrival sets a new appointment; an earlier slip moved the old one)."""
    noticed = False
    for revision in facts.revisions:
        if revision.kind == "restart":
            noticed = False
        elif revision.kind == "delay":
            noticed = True
    return noticed


@dataclass(frozen=True)
class BreachRules:
    """The dated rules the breaches are judged and cited by, and the province map."""

    clocks: ClockRules
    postal: PostalRules

    # ----------------------------------------------------------------- citations

    def agency_citation(self, kind: BreachKind, day: date) -> Citation | None:
        """The one-stop rule set in force on `day` and the article of the parameter `kind` breaks."""
        legal = self.clocks.legal
        try:
            in_force = legal.on(day)
        except NoRuleInForceError:
            return None
        parameter = AGENCY_PARAMETER[kind]
        rows = [r for r in legal.rows if r.parameter == parameter and r.effective_from <= day]
        article = max(rows, key=lambda r: r.effective_from).citation
        return Citation(in_force.rule_set, article)

    def postal_citation(self, kind: BreachKind, day: date) -> Citation | None:
        in_force = self.postal.on(day)
        if in_force is None:
            return None
        if kind is BreachKind.POSTAL_LEG_LATE:
            return Citation(in_force.rule_set, in_force.postal_leg_late)
        return Citation(in_force.rule_set, in_force.result_returned_to_agency)

    def agency_province(self, facts: Facts, agency_code: str | None) -> str:
        """The agency clock's province: the post office that handed the dossier over, else the agency's."""
        provinces = self.clocks.provinces
        return (
            provinces.of_post_office(facts.handover_post_office)
            or provinces.of_agency(agency_code)
            or UNKNOWN
        )

    # ----------------------------------------------------------------- events

    def of_event(self, envelope: Envelope[Event], facts: Facts) -> list[Breach]:
        """The breaches an event reveals, `facts` being the dossier's facts once it is recorded."""
        event = envelope.data
        if isinstance(event, DelayNotified):
            return self._delay_notice(envelope, event, facts)
        if isinstance(event, SupplementRequested):
            return self._supplement_request(envelope, event, facts)
        if isinstance(event, ResultReturnedToAgency):
            return self._returned(envelope, event, facts)
        return []

    def _agency_breach(
        self,
        envelope: Envelope[Event],
        facts: Facts,
        agency_code: str,
        kind: BreachKind,
        occurrence: str,
        judged_on: date,
        breach_facts: Mapping[str, Fact],
    ) -> Breach | None:
        citation = self.agency_citation(kind, judged_on)
        if citation is None:
            return None
        return Breach(
            dossier_id=envelope.subject,
            kind=kind,
            occurrence=occurrence,
            leg=Leg.AGENCY_PROCESSING,
            responsible=Responsible.AGENCY,
            responsible_code=agency_code,
            province=self.agency_province(facts, agency_code),
            procedure_code=facts.procedure_code,
            citation=citation,
            detected_at=envelope.time,
            facts=breach_facts,
        )

    def _delay_notice(self, envelope: Envelope[Event], event: DelayNotified, facts: Facts) -> list[Breach]:
        number = delay_notice_number(facts, envelope.time, event.new_due_date)
        try:
            allowed = self.clocks.legal.on(event.issued_on).apology_slips_allowed
        except NoRuleInForceError:
            return []
        shown: dict[str, Fact] = {
            "notice_number": number,
            "issued_on": event.issued_on.isoformat(),
            "previous_due_date": event.previous_due_date.isoformat(),
            "new_due_date": event.new_due_date.isoformat(),
        }
        found: list[Breach | None] = []
        if event.breach:
            found.append(
                self._agency_breach(
                    envelope,
                    facts,
                    event.agency_code,
                    BreachKind.LATE_DELAY_NOTICE,
                    f"notice-{number}",
                    event.issued_on,
                    shown,
                )
            )
        if allowed is not None and number > allowed:
            found.append(
                self._agency_breach(
                    envelope,
                    facts,
                    event.agency_code,
                    BreachKind.SECOND_DELAY_NOTICE,
                    f"notice-{number}",
                    event.issued_on,
                    {**shown, "notices_allowed": allowed},
                )
            )
        return [b for b in found if b is not None]

    def _supplement_request(
        self, envelope: Envelope[Event], event: SupplementRequested, facts: Facts
    ) -> list[Breach]:
        if not event.breach_reasons:
            return []
        number = event.request_number or _request_number(facts, envelope.time)
        # Judged as the agency judged it: by the rules in force on the day its window counts from.
        filed = facts.filed_at or facts.handed_over_at
        judged_on = _day(filed) if filed is not None else _day(envelope.time)
        shown: dict[str, Fact] = {
            "request_number": number,
            "requested_on": _day(envelope.time).isoformat(),
            "window_ends_on": event.window_ends_on.isoformat() if event.window_ends_on else None,
            "judged_by": event.rule_set,
        }
        found = [
            self._agency_breach(
                envelope,
                facts,
                event.agency_code,
                SUPPLEMENT_KINDS[reason],
                f"request-{number}",
                judged_on,
                shown,
            )
            for reason in dict.fromkeys(event.breach_reasons)
        ]
        return [b for b in found if b is not None]

    def _returned(
        self, envelope: Envelope[Event], event: ResultReturnedToAgency, facts: Facts
    ) -> list[Breach]:
        kind = BreachKind.RESULT_RETURNED_TO_AGENCY
        citation = self.postal_citation(kind, _day(envelope.time))
        if citation is None:
            return []
        return [
            Breach(
                dossier_id=envelope.subject,
                kind=kind,
                occurrence=event.result_item_id,
                leg=Leg.RETURN_POSTAL,
                responsible=Responsible.POST_OFFICE,
                responsible_code=event.post_office_code,
                province=self.clocks.provinces.of_post_office(event.post_office_code) or UNKNOWN,
                procedure_code=facts.procedure_code,
                citation=citation,
                detected_at=envelope.time,
                facts={
                    "result_item_id": event.result_item_id,
                    "returned_on": _day(envelope.time).isoformat(),
                    "attempts": event.attempts,
                    "last_failure_reason": event.reason.value,
                    "agency_code": event.agency_code,
                },
            )
        ]

    # ----------------------------------------------------------------- clocks

    def of_finished_clock(self, dossier_id: str, clock: Clock, facts: Facts) -> list[Breach]:
        """The breach a clock that just finished reveals: a late result without a delay notice for its
        appointment, or a postal leg past its J+n due date. Late is the timeliness stored on the clock
        (services/shared/timeliness.py), the one definition of on time."""
        if clock.timeliness is not Timeliness.LATE or clock.finished_at is None:
            return []
        shown: dict[str, Fact] = {
            "start_day": clock.start_day.isoformat(),
            "due_date": clock.due_date.isoformat() if clock.due_date else None,
            "finished_on": clock.finished_day.isoformat() if clock.finished_day else None,
            "working_days": clock.working_days,
        }
        if clock.leg is Leg.AGENCY_PROCESSING:
            kind = BreachKind.RESULT_LATE_WITHOUT_DELAY_NOTICE
            agency = clock.agency_code or facts.agency_code
            if notice_before_result(facts) or agency is None:
                return []
            citation = self.agency_citation(kind, _day(clock.finished_at))
            responsible, code = Responsible.AGENCY, agency
        else:
            kind = BreachKind.POSTAL_LEG_LATE
            if clock.post_office_code is None:
                return []
            citation = self.postal_citation(kind, clock.start_day)
            responsible, code = Responsible.POST_OFFICE, clock.post_office_code
            shown["route"] = clock.route
        if citation is None:
            return []
        return [
            Breach(
                dossier_id=dossier_id,
                kind=kind,
                occurrence=clock.leg.value,
                leg=clock.leg,
                responsible=responsible,
                responsible_code=code,
                province=clock.province,
                procedure_code=clock.procedure_code or facts.procedure_code,
                citation=citation,
                detected_at=clock.finished_at,
                facts=shown,
            )
        ]


def _request_number(facts: Facts, at: datetime) -> int:
    """A request's number when its event does not carry one (events from before it was kept): its place
    among the dossier's distinct requests; `facts` have recorded it."""
    moments = list(dict.fromkeys(r.at for r in facts.revisions if r.kind == "suspend"))
    return moments.index(at) + 1
