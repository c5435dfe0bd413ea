"""Early, on time or late: the one definition of a finished clock's timeliness.

Official statistics grade a finished dossier early (trước hạn, 2), on time (đúng hạn, 1) or late (quá
hạn, 0). A postal leg is graded against its due date (`against`). The agency's processing clock is
graded by the formula of the rule set in force (deploy/rules, `on_time_formula`), through
`agency_timeliness` — turnaround's metrics and the tracker's dossier detail both call it, so a report
and a dashboard never disagree on a dossier:

- ``due_date`` (Decree 61/2018 until Decision 766/QĐ-TTg took effect): the day processing ended against
  the appointment date, moved once by the apology slip (phiếu xin lỗi và hẹn lại) whether or not it was
  issued in time;
- ``index_766`` (the service-quality index provinces are scored on): processing ended on or before the
  appointment date, moved once by a *valid* apology slip only (one issued at least the lead time before
  the date it moves; a late slip is recorded with a breach flag and does not excuse the delay), and
  more supplement requests than the rule allows make the dossier late whatever the dates.

The applicant's supplement time is not counted, by either formula, because the appointment date given
here is the one of the clock's current generation: a supplement's arrival restarts processing from zero
(Decree 118/2025 Art. 19(5); Decree 61/2018 before it) and a new appointment date is counted from it,
so the days between the request and the arrival never reach the comparison. The index's wording ("the
applicant's supplement time not counted") is the weaker of the two: a restart from zero also forgives
the agency's own days before the request, which the decree grants and the index does not take back.

Which rule set judges a dossier: the one in force on the day processing ended (Vietnam time). The
timeliness is a fact about the end of processing, and the index scores the dossiers finished in a
period: a dossier filed on 30/6/2025 and finished on 10/7/2025 counts in July's score, by July's rules.
A day before the first rule set falls back to the due-date comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from services.shared.calendar import to_vietnam_time
from services.shared.legal_rules import LegalRules, NoRuleInForceError, OnTime


class Timeliness(StrEnum):
    EARLY = "early"  # trước hạn
    ON_TIME = "on_time"  # đúng hạn
    LATE = "late"  # quá hạn


SCORES: dict[Timeliness, int] = {Timeliness.EARLY: 2, Timeliness.ON_TIME: 1, Timeliness.LATE: 0}
"""The grades official statistics give each timeliness."""

AGAINST_DUE_DATE = OnTime("due_date")
"""The formula applied to a day no rule set covers."""


def against(finished_day: date, due_date: date) -> Timeliness:
    """Before the due date → early, on it → on time (it ends at 24:00), after it → late."""
    if finished_day < due_date:
        return Timeliness.EARLY
    if finished_day == due_date:
        return Timeliness.ON_TIME
    return Timeliness.LATE


@dataclass(frozen=True)
class ApologySlip:
    """The apology and new appointment slip: the date it sets, and whether it was issued in time."""

    new_date: date
    valid: bool
    """Issued at least the lead time before the date it moves (the event's ``breach`` unset)."""


@dataclass(frozen=True)
class AgencyProcessing:
    """What the index needs of a finished agency clock."""

    finished_at: datetime
    """When the result was ready."""
    appointment_date: date
    """The receipt slip's date, or after a supplement the date counted from its arrival; before any
    apology slip."""
    apology: ApologySlip | None
    """The first apology slip of the current appointment, if any (at most one moves it)."""
    supplement_requests: int
    """Every supplement request recorded on the dossier, allowed or not."""


def formula_on(day: date, legal: LegalRules) -> OnTime:
    """The on-time formula in force on a day."""
    try:
        return legal.on(day).on_time
    except NoRuleInForceError:
        return AGAINST_DUE_DATE


def appointment(processing: AgencyProcessing, formula: OnTime) -> date:
    """The date the formula judges against: the appointment, moved once by the apology slip it accepts."""
    slip = processing.apology
    if slip is None or (formula.formula == "index_766" and not slip.valid):
        return processing.appointment_date
    return slip.new_date


def judge(processing: AgencyProcessing, formula: OnTime) -> Timeliness:
    """The timeliness of a finished agency clock by one formula."""
    limit = formula.late_above_supplement_requests
    if formula.formula == "index_766" and limit is not None and processing.supplement_requests > limit:
        return Timeliness.LATE
    return against(to_vietnam_time(processing.finished_at).date(), appointment(processing, formula))


def agency_timeliness(processing: AgencyProcessing, legal: LegalRules) -> Timeliness:
    """The timeliness of a finished agency clock by the formula in force on the day processing ended."""
    day = to_vietnam_time(processing.finished_at).date()
    return judge(processing, formula_on(day, legal))
