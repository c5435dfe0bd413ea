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
    """The tracker moved a dossier to another stage and recorded who holds it now.

    Emitted once per stage change, caused by one postal or agency event (named here so consumers can
    trace and deduplicate). The envelope's time is the causing event's time.
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
