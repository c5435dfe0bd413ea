"""What the page shows of a dossier, from the public answer and the fold of its history: the stage in plain
words, the timeline (what happened, where, when in Vietnam time), the expected date and the office to
contact. Pure: no I/O, no clock reads.

Only office codes and names reach the page: a courier's custody is shown as the post office answering for
it, never the courier's staff id, and the citizen's own custody as no place at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from contracts.enums import CustodyHolderKind, ItemKind
from services.shared.calendar import to_vietnam_time
from services.tracker.answers import Office, OfficeDirectory, PublicDossier
from services.tracker.domain import Step
from services.tracker.page.wording import Contact, Wording

_ITEM_KINDS = {kind.value: kind for kind in ItemKind}


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    """In Vietnam time."""
    text: str
    place: Office | None


@dataclass(frozen=True)
class TrackingView:
    reference: str
    stage_name: str
    explanation: str
    stage_since: datetime
    expected_date: date | None
    overdue: bool
    contact: Office | None
    timeline: list[TimelineItem]
    """Newest first: the citizen comes for the latest news."""
    last_update: datetime


def _item_kind(data: Mapping[str, Any]) -> ItemKind:
    """The postal item an event is about (the dossier when it does not say), as the fold reads it."""
    kind = data.get("item_kind")
    return _ITEM_KINDS.get(kind, ItemKind.DOSSIER) if isinstance(kind, str) else ItemKind.DOSSIER


def _place(step: Step, directory: OfficeDirectory) -> Office | None:
    custody = step.custody
    if custody is None or custody.kind is CustodyHolderKind.CITIZEN:
        return None
    return directory.office(custody.office)


def timeline_of(steps: Iterable[Step], directory: OfficeDirectory, wording: Wording) -> list[TimelineItem]:
    items = []
    for step in steps:
        entry = step.entry
        items.append(
            TimelineItem(
                at=to_vietnam_time(entry.occurred_at),
                text=wording.event(entry.event_type, _item_kind(entry.data)),
                place=_place(step, directory),
            )
        )
    return items[::-1]


def contact_of(answer: PublicDossier, wanted: Contact) -> Office | None:
    """The office the stage's wording names, else the first other office the answer knows."""
    holder = answer.holder.office if answer.holder else None
    offices = {Contact.AGENCY: answer.agency, Contact.POST_OFFICE: answer.post_office, Contact.HOLDER: holder}
    for office in (offices[wanted], answer.agency, answer.post_office, holder):
        if office is not None:
            return office
    return None


def tracking_view(
    answer: PublicDossier, steps: Iterable[Step], directory: OfficeDirectory, wording: Wording
) -> TrackingView:
    words = wording.stage(answer.stage)
    return TrackingView(
        reference=answer.reference,
        stage_name=words.name,
        explanation=words.explanation,
        stage_since=answer.stage_since,
        expected_date=answer.expected_date,
        overdue=answer.overdue,
        contact=contact_of(answer, words.contact),
        timeline=timeline_of(steps, directory, wording),
        last_update=answer.last_update,
    )
