"""The rules an agency's reports are judged by: the legal parameters in force on the day of each fact
(services/shared/legal_rules.py), the working calendar and the procedure catalog, and what they decide —
due dates, the apology slip's lead time, a supplement request's breaches, when a dossier awaiting its
supplement is closed. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from contracts.enums import SupplementBreach
from services.agency.rejections import Reason, ReportRejectedError
from services.shared.calendar import VN_TZ, WorkingCalendar, agency_due_date, to_vietnam_time
from services.shared.catalog import Catalog, UnknownProcedureError
from services.shared.legal_rules import LegalRules, NoRuleInForceError, Period, default_legal_rules

if TYPE_CHECKING:
    from services.agency.domain import Dossier


@dataclass(frozen=True)
class Rules:
    """The service's operational parameters; the legal ones are `LegalRules`, dated (deploy/rules)."""

    clock_skew: timedelta = timedelta(seconds=120)
    """How far ahead of the service's clock a reported time may lie: desks' clocks drift a little."""


@dataclass(frozen=True)
class SupplementJudgement:
    """What the rules in force say of a supplement request: recorded whatever they say, flagged if broken."""

    request_number: int
    window_ends_on: date | None
    rule_set: str | None
    """None when no rule set was in force (a dossier received before the first one)."""
    breaches: tuple[SupplementBreach, ...]


@dataclass(frozen=True)
class ClosureDue:
    """When a dossier awaiting its supplement is closed by the rules in force on the day of the request."""

    rule_set: str
    period: Period
    period_ended_on: date
    """The period's last day: the applicant has all of it."""
    closes_at: datetime
    """The end of that day: 00:00 of the next day, Vietnam time."""


@dataclass(frozen=True)
class Policy:
    """Everything the rules consult besides the dossier: the parameters, the calendar and the catalog."""

    calendar: WorkingCalendar
    catalog: Catalog
    rules: Rules = Rules()
    legal: LegalRules = field(default_factory=default_legal_rules)
    """The legal parameters, each applied as in force on the day of the fact it judges."""

    def filing_day(self, filed_at: datetime) -> date:
        return self.calendar.filing_day(filed_at, self.legal.cutoff_at(filed_at))

    def legal_due_date(self, filed_at: datetime, procedure_code: str) -> date:
        """The filing day (after the cut-off rule) plus the procedure's target in working days."""
        try:
            target = self.catalog.get(procedure_code).target
        except UnknownProcedureError:
            raise ReportRejectedError(
                Reason.UNKNOWN_PROCEDURE, f"procedure {procedure_code} is not in the procedure catalog"
            ) from None
        return agency_due_date(filed_at, target, self.calendar, self.legal.cutoff_at(filed_at))

    def delay_breach(self, issued_on: date, due_date: date) -> bool:
        """True when the slip was issued later than the lead time before the due date allows (the lead
        time in force on the day the slip was issued)."""
        lead = self.legal.on(issued_on).apology_lead
        if lead.unit == "working":
            latest = self.calendar.add_working_days(due_date, -lead.days)
        else:
            latest = due_date - timedelta(days=lead.days)
        return issued_on > latest

    def delay_notices_allowed(self, issued_on: date) -> int | None:
        return self.legal.on(issued_on).apology_slips_allowed

    def closure_due(self, requested_at: datetime) -> ClosureDue | None:
        """When a dossier whose supplement was requested at `requested_at` is closed without it, by the
        closure period in force on the day of the request; None when that rule set has none."""
        notice_day = to_vietnam_time(requested_at).date()
        try:
            rules = self.legal.on(notice_day)
        except NoRuleInForceError:
            return None
        if rules.closure is None:
            return None
        last_day = rules.closure.end(notice_day, self.calendar)
        closes_at = datetime.combine(last_day + timedelta(days=1), time(0), VN_TZ)
        return ClosureDue(rules.rule_set, rules.closure, last_day, closes_at)

    def judge_supplement_request(self, dossier: Dossier, requested_at: datetime) -> SupplementJudgement:
        """The request's number, its window and its breaches, by the rules in force on the day the
        window counts from: the receipt (Decree 118 Art. 19(5)), or the filing day before one."""
        start = to_vietnam_time(dossier.received_at).date() if dossier.received_at else dossier.filing_day
        if start is None:  # a filed dossier always has its filing day; guard records from before it
            start = to_vietnam_time(requested_at).date()
        number = dossier.supplement_requests + 1
        try:
            rules = self.legal.on(start)
        except NoRuleInForceError:  # before the first rule set: recorded and counted, judged by none
            return SupplementJudgement(number, None, None, ())
        window_end = rules.supplement_window.end(start, self.calendar) if rules.supplement_window else None
        breaches: list[SupplementBreach] = []
        allowed = rules.supplement_requests_allowed
        if allowed is not None and number > allowed:
            breaches.append(SupplementBreach.SECOND_SUPPLEMENT_REQUEST)
        if window_end is not None and to_vietnam_time(requested_at).date() > window_end:
            breaches.append(SupplementBreach.LATE_SUPPLEMENT_REQUEST)
        return SupplementJudgement(number, window_end, rules.rule_set, tuple(breaches))
