"""Events of the turnaround service: legal clocks about to run out or run out
(source ``/turnaround``; topic turnaround.clock-alerts.v1)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from contracts.enums import Leg
from contracts.events.base import Event
from contracts.values import AgencyCode, PostOfficeCode


class ClockAlert(Event):
    """A threshold reached by one legal clock of a dossier; once per clock and threshold."""

    leg: Leg
    """The clock: inbound postal leg, agency processing or return postal leg."""
    due_date: date
    """The clock's current due date (the last working day allowed)."""
    agency_code: AgencyCode | None = None
    """The agency responsible for the leg, for AGENCY_PROCESSING (and the agency of the dossier)."""
    post_office_code: PostOfficeCode | None = None
    """The post office responsible for the leg, for postal legs."""


class ClockDueSoon(ClockAlert):
    """A running clock of a dossier is due within one working day."""

    type: Literal["turnaround.clock_due_soon"] = "turnaround.clock_due_soon"
    version: Literal[1] = 1


class ClockOverdue(ClockAlert):
    """A running clock of a dossier passed its due date without finishing."""

    type: Literal["turnaround.clock_overdue"] = "turnaround.clock_overdue"
    version: Literal[1] = 1
