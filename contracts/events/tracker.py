"""Events of the tracker: its view of a dossier's journey.

Producer: the tracker (source ``/tracker``); topic tracker.stage-changed.v1.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from contracts.enums import Stage
from contracts.events.base import Event
from contracts.events.parts import CustodyHolder


class StageChanged(Event):
    """The dossier entered a stage, and who held it then.

    Guarantee: every stage a dossier enters is published exactly once, with an id derived from the
    dossier, the causing event and the stage entered, whatever the order in which the tracker learned the
    postal and agency events (two topics nothing orders against each other), its batch boundaries,
    duplicates, replays, restarts or rebalances; a re-publication after a crash carries the same id. The
    envelope's time is the causing event's occurrence time. A stage learned after a later stage was
    announced (the agency's report folded after the postal scan that follows it) is published with
    ``late`` set; ``current_stage`` always names where the dossier is now, so a subscriber shows that
    and never steps a dossier back. A stage entry that a fact learned later shows never happened (an
    anomaly) is not retracted: ``current_stage`` of the next message corrects the view.
    """

    type: Literal["tracker.stage_changed"] = "tracker.stage_changed"
    version: Literal[1] = 1
    from_stage: Stage | None = None
    """The previous stage; none for the dossier's first event."""
    to_stage: Stage
    """The new stage."""
    custody: CustodyHolder
    """Who holds the dossier or result now."""
    cause_event_id: UUID
    """The id of the event that caused the change."""
    cause_event_type: str = Field(min_length=1, max_length=100)
    """The type of that event."""
    late: bool = False
    """The dossier entered this stage before a stage already announced: record it, don't move to it."""
    current_stage: Stage | None = None
    """The dossier's stage once the tracker folded this event in (absent from messages of before 2026-12)."""
