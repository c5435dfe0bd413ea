"""The acts of a simulated journey, in the order they happen to one dossier.

A step with ``at`` set happened at that (past) moment; ``at`` None means "now", when the simulator
reaches it: agency desks stamp their reports with the server's clock, so every act after a desk report
happens live. Offline scans are held by the scanning device and uploaded in a batch later.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contracts.enums import (
    DeliveryFailureReason,
    IdDocumentType,
    NotificationChannel,
    Outcome,
    RecipientKind,
    RouteClass,
    ServiceForm,
    TransitDirection,
)
from contracts.events.parts import Address, ApplicantContact, DocumentChecked
from contracts.values import dossier_id_for_agency_code, dossier_id_for_item
from services.simulator.geography import Agency, PostOffice, Province, Reporting


@dataclass(frozen=True)
class Step:
    at: datetime | None


# --------------------------------------------------------------------------- the post


@dataclass(frozen=True)
class Accept(Step):
    office: str
    clerk_id: str
    channel: str
    route: RouteClass
    documents: tuple[DocumentChecked, ...]
    fee_vnd: int
    charge_vnd: int
    postage_vnd: int
    slip_back: bool
    forgets_a_document: bool
    """The clerk first submits the package without one required document (and is told what is missing)."""


@dataclass(frozen=True)
class Transit(Step):
    office: str
    item: str
    direction: TransitDirection
    scan_id: uuid.UUID


@dataclass(frozen=True)
class HandoverSession:
    """One signed handover record: many items, one agency desk, one signing moment."""

    record_id: str
    office: str
    agency: str
    postal_worker_id: str
    agency_officer_id: str
    signed_at: datetime
    items: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HandOver(Step):
    session: HandoverSession


@dataclass(frozen=True)
class PickUp(Step):
    office: str
    record_id: str
    postal_worker_id: str
    agency_officer_id: str
    route: RouteClass


@dataclass(frozen=True)
class OutForDelivery(Step):
    office: str
    courier_id: str
    scan_id: uuid.UUID
    offline: bool


@dataclass(frozen=True)
class DeliveryFailed(Step):
    office: str
    courier_id: str
    scan_id: uuid.UUID
    reason: DeliveryFailureReason
    next_attempt_on: date | None
    offline: bool


@dataclass(frozen=True)
class Delivered(Step):
    office: str
    courier_id: str
    scan_id: uuid.UUID
    recipient: RecipientKind
    id_document: IdDocumentType
    offline: bool


@dataclass(frozen=True)
class Return(Step):
    office: str
    record_id: str
    postal_worker_id: str
    agency_officer_id: str


@dataclass(frozen=True)
class Incident(Step):
    office: str
    item: str
    lost: bool
    at_fault: bool
    compensation_vnd: int | None


# --------------------------------------------------------------------------- the agency


@dataclass(frozen=True)
class Register(Step):
    filing_channel: str
    filed_at: datetime
    delivery_address: Address


@dataclass(frozen=True)
class Receive(Step):
    appointment_date: date
    legal_due_date: date
    filed_at: datetime


@dataclass(frozen=True)
class Refuse(Step):
    reason: str
    with_code: bool


@dataclass(frozen=True)
class RequestSupplement(Step):
    documents: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class ReceiveSupplement(Step):
    received_at: datetime | None
    """The new filing time; None: now."""


@dataclass(frozen=True)
class Processing(Step):
    department: str


@dataclass(frozen=True)
class NotifyDelay(Step):
    previous_due_date: date | None
    """Known for past acts (agency systems send it); desk reports let the service fill it in."""
    new_due_date: date | None
    extra_working_days: int
    issued_on: date | None
    breach: bool | None
    reason: str


@dataclass(frozen=True)
class Withdraw(Step):
    reason: str


@dataclass(frozen=True)
class ResultReady(Step):
    outcome: Outcome
    reference: str


AGENCY_STEPS: tuple[type[Step], ...] = (
    Register,
    Receive,
    Refuse,
    RequestSupplement,
    ReceiveSupplement,
    Processing,
    NotifyDelay,
    Withdraw,
    ResultReady,
)


# --------------------------------------------------------------------------- the journey


@dataclass
class Journey:
    """One dossier's planned acts, and what the run learns about it."""

    form: ServiceForm
    procedure_code: str
    agency: Agency
    agency_province: Province
    home: Province
    home_office: PostOffice
    applicant: ApplicantContact
    reporting: Reporting
    item_id: str | None
    result_item_id: str | None
    agency_dossier_code: str | None
    steps: list[Step]
    scenario: str
    """A few words for the summary: "delivered", "returned", "refused", …"""
    notify_by: tuple[NotificationChannel, ...] = ()
    """The channels the applicant agreed to be told on (the intake's `notify_by`)."""
    done: int = 0
    failed: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def dossier_id(self) -> str:
        if self.item_id is not None:
            return dossier_id_for_item(self.item_id)
        assert self.agency_dossier_code is not None
        return dossier_id_for_agency_code(self.agency_dossier_code)

    @property
    def events(self) -> int:
        """Events the played acts produced (an apology slip with no running clock is not issued)."""
        return self.done - int(self.extras.get("skipped", 0))

    @property
    def reference(self) -> str:
        """What an officer knows the dossier by: the inbound item id, else the agency dossier code."""
        return self.item_id or self.agency_dossier_code or ""
