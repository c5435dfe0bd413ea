"""The agency clock's grade on a dossier's detail: the shared definition (services/shared/timeliness.py)
applied to the tracker's history of the dossier.

The tracker keeps the facts the grade needs: the appointment it shows (the receipt slip's date, or after
a supplement the date counted from its arrival, moved by the apology slip), the slip's own
``previous_due_date`` and ``breach``, and every supplement request. It grades nothing itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from services.shared.legal_rules import LegalRules
from services.shared.timeliness import AgencyProcessing, ApologySlip, Timeliness, agency_timeliness
from services.tracker.domain import DELAY_NOTIFIED, SUPPLEMENT_RECEIVED, SUPPLEMENT_REQUESTED, HistoryEntry


def _day(data: Mapping[str, Any], name: str) -> date | None:
    value = data.get(name)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def agency_grade(
    history: Iterable[HistoryEntry],
    result_ready_at: datetime | None,
    shown_due_date: date | None,
    legal: LegalRules,
) -> Timeliness | None:
    """The grade of the agency clock once the result is ready; None while it runs or without a date.

    ``shown_due_date`` is the tracker's agency due date after the whole history (a valid or late slip
    moved it; the index takes back a late one through the slip's ``previous_due_date``)."""
    if result_ready_at is None:
        return None
    requests = 0
    apology: ApologySlip | None = None
    before_slip: date | None = None
    slip_seen = False
    for entry in history:
        kind, data = entry.event_type, entry.data
        if kind == SUPPLEMENT_REQUESTED:
            requests += 1
        elif kind == SUPPLEMENT_RECEIVED:
            # The restart sets a new appointment: the earlier slip moved the old one.
            apology, before_slip = None, None
        elif kind == DELAY_NOTIFIED and not slip_seen:
            slip_seen = True  # at most one slip per dossier moves a date
            new_date = _day(data, "new_due_date")
            if new_date is not None:
                apology = ApologySlip(new_date, valid=data.get("breach") is not True)
                before_slip = _day(data, "previous_due_date")
    appointment = (before_slip or apology.new_date) if apology is not None else shown_due_date
    if appointment is None:
        return None
    return agency_timeliness(AgencyProcessing(result_ready_at, appointment, apology, requests), legal)
