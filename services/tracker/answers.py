"""What the tracker's API answers: the response bodies, and how stored rows and folds become them.

Times are shown in Vietnam's time (+07:00). The public body carries no personal data and no staff ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Row

from contracts.enums import CustodyHolderKind, Leg, ServiceForm, Stage
from contracts.values import AwareTime
from services.shared.calendar import to_vietnam_time
from services.shared.legal_rules import LegalRules
from services.shared.timeliness import Timeliness
from services.tracker import lookups
from services.tracker.adapters.repository import utc
from services.tracker.domain import AnomalyReason, Custody, HistoryEntry, Step
from services.tracker.timeliness import agency_grade

# --------------------------------------------------------------------------- response bodies


class Body(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)


class ValidationIssue(Body):
    loc: list[str | int]
    type: str | None = None
    msg: str | None = None


class Problem(Body):
    """RFC 9457 problem details with a machine-readable reason."""

    status: int
    reason: str
    detail: str
    errors: list[ValidationIssue] | None = None


class Office(Body):
    code: str
    """Postal code of the post office, or the agency's id (Circular 10/2016/TT-BTTTT)."""
    name: str | None = None
    """Its name, when the office directory knows it."""


class PublicHolder(Body):
    kind: CustodyHolderKind
    """Who holds the dossier or the result now."""
    office: Office | None = None
    """The post office, facility or agency holding it (a courier's post office); none for the citizen."""


class PublicDossier(Body):
    """What anyone holding the reference and the phone's last four digits may see: no personal data."""

    reference: str
    """The item id or agency dossier code looked up."""
    service_form: ServiceForm | None = None
    stage: Stage
    stage_since: AwareTime
    holder: PublicHolder | None = None
    accepted_at: AwareTime | None = None
    """When the post office accepted the dossier (forms SEND_DOSSIER and SEND_AND_RECEIVE)."""
    filed_at: AwareTime | None = None
    """The filing time at the agency, from which its processing time counts."""
    result_ready_at: AwareTime | None = None
    delivered_at: AwareTime | None = None
    expected_date: date | None = None
    """The appointment date while the agency works; else the due date of the running postal leg."""
    overdue: bool
    """Whether the running leg's due date has passed."""
    post_office: Office | None = None
    """The post office that accepted the dossier."""
    agency: Office | None = None
    """The agency the dossier is addressed to."""
    last_update: AwareTime


class CustodyOut(Body):
    kind: CustodyHolderKind
    code: str | None = None
    """Post office or facility code, courier staff id, or agency code; none for the citizen."""
    office: str | None = None
    """The office answering for it: a courier's post office."""


class ClockOut(Body):
    leg: Leg
    due_date: date | None = None
    overdue: bool


class AnomalyOut(Body):
    reason: AnomalyReason
    detail: str


BreachReason = Literal["second_supplement_request", "late_supplement_request", "late_delay_notice"]


class BreachOut(Body):
    """A report the agency made although the rules in force did not allow it: recorded, and flagged."""

    reason: BreachReason
    """second_supplement_request, late_supplement_request (Decree 118 Art. 16(3), 19(5)) or
    late_delay_notice (an apology slip issued later than the lead time before the due date)."""
    event_id: str
    event_type: str
    occurred_at: AwareTime


class DossierSummary(Body):
    dossier_id: str
    stage: Stage | None = None
    """None while no acceptance or registration has arrived."""
    stage_since: AwareTime | None = None
    service_form: ServiceForm | None = None
    procedure_code: str | None = None
    agency_code: str | None = None
    origin_post_office: str | None = None
    item_id: str | None = None
    result_item_id: str | None = None
    agency_dossier_code: str | None = None
    custody: CustodyOut | None = None
    clock: ClockOut | None = None
    expected_date: date | None = None
    is_open: bool
    event_count: int
    anomaly_count: int
    last_event_at: AwareTime


class HistoryItem(Body):
    event_id: str
    type: str
    version: int
    occurred_at: AwareTime
    source: str
    stage_after: Stage | None = None
    custody_after: CustodyOut | None = None
    anomaly: AnomalyOut | None = None
    data: dict[str, Any]
    """The event's data without personal data."""


class PartyOut(Body):
    kind: str
    code: str


class ReferenceOut(Body):
    reference: str
    kind: str


class DossierDetailOut(DossierSummary):
    accepted_at: AwareTime | None = None
    filed_at: AwareTime | None = None
    received_at: AwareTime | None = None
    result_ready_at: AwareTime | None = None
    picked_up_at: AwareTime | None = None
    first_attempt_at: AwareTime | None = None
    delivered_at: AwareTime | None = None
    closed_at: AwareTime | None = None
    contact_erased_at: AwareTime | None = None
    """When the owner of the applicant's contact (the post office or the agency) erased it; from then
    on the public lookup answers for this dossier as for an unknown one."""
    inbound_due_date: date | None = None
    agency_due_date: date | None = None
    appointment_date: date | None = None
    return_due_date: date | None = None
    delay_notified: bool
    supplement_requests: int
    """Supplement requests the agency made on the dossier (the rules allow one)."""
    agency_timeliness: Timeliness | None = None
    """Once the result is ready: early, on time or late as the service-quality index counts it (more
    than one supplement request is late whatever the dates; only an apology slip issued in time moves
    the appointment), by the rules in force on the day processing ended. None while processing runs."""
    breaches: list[BreachOut]
    """The agency's reports flagged as breaking the rules in force, in occurrence order."""
    outcome: str | None = None
    failed_attempts: int
    parties: list[PartyOut]
    references: list[ReferenceOut]
    history: list[HistoryItem]
    """Every event in occurrence order, with the stage and custody after it and its anomaly."""


class DossierPage(Body):
    items: list[DossierSummary]
    next_cursor: str | None = None
    """Pass as ``cursor`` for the next page; none on the last page."""


class AnomalyRow(Body):
    event_id: str
    dossier_id: str
    event_type: str
    occurred_at: AwareTime
    reason: AnomalyReason
    detail: str


class AnomalyPage(Body):
    items: list[AnomalyRow]
    next_cursor: str | None = None


# --------------------------------------------------------------------------- office names

DEFAULT_DIRECTORY = Path(__file__).with_name("offices.yaml")


class OfficeDirectory:
    """Names of post offices and agencies by code, for the lookups (a YAML file of code: name)."""

    def __init__(self, names: dict[str, str]) -> None:
        self._names = names

    @classmethod
    def load(cls, path: str | Path | None) -> OfficeDirectory:
        file = Path(path) if path else DEFAULT_DIRECTORY
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        names: dict[str, str] = {}
        for section in ("post_offices", "agencies"):
            for code, name in (raw.get(section) or {}).items():
                names[str(code)] = str(name)
        return cls(names)

    def office(self, code: str | None) -> Office | None:
        return Office(code=code, name=self._names.get(code)) if code else None


# --------------------------------------------------------------------------- shaping answers


def _local(moment: datetime | None) -> datetime | None:
    aware = utc(moment)
    return to_vietnam_time(aware) if aware else None


def _custody(kind: str | None, code: str | None, office: str | None) -> CustodyOut | None:
    return CustodyOut(kind=CustodyHolderKind(kind), code=code, office=office) if kind else None


def _custody_of(custody: Custody | None) -> CustodyOut | None:
    return CustodyOut(kind=custody.kind, code=custody.code, office=custody.office) if custody else None


def _overdue(due: date | None, today: date) -> bool:
    return due is not None and due < today


def summary_fields(row: Row[Any], today: date) -> dict[str, Any]:
    last = _local(row.last_event_at)
    assert last is not None
    return {
        "dossier_id": row.dossier_id,
        "stage": row.stage,
        "stage_since": _local(row.stage_since),
        "service_form": row.service_form,
        "procedure_code": row.procedure_code,
        "agency_code": row.agency_code,
        "origin_post_office": row.origin_post_office,
        "item_id": row.item_id,
        "result_item_id": row.result_item_id,
        "agency_dossier_code": row.agency_dossier_code,
        "custody": _custody(row.custody_kind, row.custody_code, row.custody_office),
        "clock": ClockOut(leg=Leg(row.clock), due_date=row.due_date, overdue=_overdue(row.due_date, today))
        if row.clock
        else None,
        "expected_date": row.expected_date,
        "is_open": row.is_open,
        "event_count": row.event_count,
        "anomaly_count": row.anomaly_count,
        "last_event_at": last,
    }


def history_item(step: Step) -> HistoryItem:
    entry = step.entry
    occurred = _local(entry.occurred_at)
    assert occurred is not None
    return HistoryItem(
        event_id=entry.event_id,
        type=entry.event_type,
        version=entry.version,
        occurred_at=occurred,
        source=entry.source,
        stage_after=step.stage,
        custody_after=_custody_of(step.custody),
        anomaly=AnomalyOut(reason=step.anomaly.reason, detail=step.anomaly.detail) if step.anomaly else None,
        data=dict(entry.data),
    )


_SUPPLEMENT_REQUESTED = "agency.supplement_requested"
_DELAY_NOTIFIED = "agency.delay_notified"


def breaches_of(entries: Iterable[HistoryEntry]) -> list[BreachOut]:
    """The breaches flagged on a dossier's events: each reason of a supplement request; a late slip."""
    out = []
    for entry in entries:
        if entry.data.get("breach") is not True:
            continue
        if entry.event_type == _SUPPLEMENT_REQUESTED:
            reasons = [r for r in entry.data.get("breach_reasons", ()) if r in get_args(BreachReason)]
        elif entry.event_type == _DELAY_NOTIFIED:
            reasons = ["late_delay_notice"]
        else:
            continue
        occurred = _local(entry.occurred_at)
        assert occurred is not None
        out += [
            BreachOut(reason=r, event_id=entry.event_id, event_type=entry.event_type, occurred_at=occurred)
            for r in reasons
        ]
    return out


def detail_of(detail: lookups.DossierDetail, today: date, legal: LegalRules) -> DossierDetailOut:
    row = detail.row
    history = [step.entry for step in detail.view.steps]
    return DossierDetailOut(
        **summary_fields(row, today),
        accepted_at=_local(row.accepted_at),
        filed_at=_local(row.filed_at),
        received_at=_local(row.received_at),
        result_ready_at=_local(row.result_ready_at),
        picked_up_at=_local(row.picked_up_at),
        first_attempt_at=_local(row.first_attempt_at),
        delivered_at=_local(row.delivered_at),
        closed_at=_local(row.closed_at),
        contact_erased_at=_local(row.contact_erased_at),
        inbound_due_date=row.inbound_due_date,
        agency_due_date=row.agency_due_date,
        appointment_date=row.appointment_date,
        return_due_date=row.return_due_date,
        delay_notified=row.delay_notified,
        supplement_requests=sum(
            1 for step in detail.view.steps if step.entry.event_type == _SUPPLEMENT_REQUESTED
        ),
        agency_timeliness=agency_grade(history, utc(row.result_ready_at), row.agency_due_date, legal),
        breaches=breaches_of(history),
        outcome=row.outcome,
        failed_attempts=row.failed_attempts,
        parties=[PartyOut(kind=kind, code=code) for kind, code in detail.parties],
        references=[ReferenceOut(reference=ref, kind=kind) for ref, kind in detail.references],
        history=[history_item(step) for step in detail.view.steps],
    )


def public_of(row: Row[Any], ref: str, directory: OfficeDirectory, today: date) -> PublicDossier:
    holder = None
    if row.custody_kind:
        kind = CustodyHolderKind(row.custody_kind)
        holder = PublicHolder(
            kind=kind,
            office=None if kind is CustodyHolderKind.CITIZEN else directory.office(row.custody_office),
        )
    stage_since = _local(row.stage_since)
    last = _local(row.last_event_at)
    assert stage_since is not None and last is not None
    return PublicDossier(
        reference=ref,
        service_form=row.service_form,
        stage=row.stage,
        stage_since=stage_since,
        holder=holder,
        accepted_at=_local(row.accepted_at),
        filed_at=_local(row.filed_at),
        result_ready_at=_local(row.result_ready_at),
        delivered_at=_local(row.delivered_at),
        expected_date=row.expected_date,
        overdue=_overdue(row.due_date, today),
        post_office=directory.office(row.origin_post_office),
        agency=directory.office(row.agency_code),
        last_update=last,
    )


def anomaly_row(row: Row[Any]) -> AnomalyRow:
    return AnomalyRow(
        event_id=row.event_id,
        dossier_id=row.dossier_id,
        event_type=row.event_type,
        occurred_at=_local(row.occurred_at) or row.occurred_at,
        reason=AnomalyReason(row.reason),
        detail=row.detail,
    )
