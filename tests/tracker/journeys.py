"""Journeys of the three service forms as envelopes, with unique item ids, codes and event ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contracts.enums import ItemKind, ServiceForm
from contracts.envelope import Envelope
from contracts.events import Event
from contracts.samples import SAMPLE_AGENCY, VIETNAM, sample_event, source_for
from contracts.values import dossier_id_for_agency_code, dossier_id_for_item
from tests.fixtures.ids import unique_agency_dossier_code, unique_item_id

START = datetime(2025, 3, 14, 9, 0, tzinfo=VIETNAM)


@dataclass(frozen=True)
class Dossier:
    form: ServiceForm
    dossier_id: str
    item_id: str
    result_item_id: str
    agency_dossier_code: str

    def envelope(self, event_type: str, at: datetime, n: int = 0, **changes: Any) -> Envelope[Event]:
        """An event of this dossier at ``at``; ``n`` tells apart repeated events of one type."""
        event = sample_event(_selector(event_type), **{**self._fields(event_type), **changes})
        event_id = uuid.uuid5(uuid.UUID(self.dossier_id), f"{event_type}#{n}")
        return Envelope.new(
            event, subject=self.dossier_id, source=source_for(event_type), time=at, id=event_id
        )

    def _fields(self, event_type: str) -> dict[str, Any]:
        inbound = None if self.form is ServiceForm.RECEIVE_RESULT else self.item_id
        code = self.agency_dossier_code
        fields: dict[str, dict[str, Any]] = {
            "postal.dossier_accepted": {"item_id": self.item_id, "service_form": self.form},
            "postal.dossier_in_transit": {"item_id": self.item_id},
            "postal.dossier_handed_to_agency": {"item_id": self.item_id},
            "postal.result_picked_up": {
                "result_item_id": self.result_item_id,
                "dossier_item_id": inbound,
                "agency_dossier_code": code,
            },
            "postal.result_out_for_delivery": {"result_item_id": self.result_item_id},
            "postal.delivery_failed": {"result_item_id": self.result_item_id},
            "postal.result_delivered": {"result_item_id": self.result_item_id},
            "postal.result_returned_to_agency": {"result_item_id": self.result_item_id},
            "postal.item_lost": {"item_id": self.item_id},
            "postal.item_damaged": {"item_id": self.item_id},
            "agency.dossier_received": {"agency_dossier_code": code, "item_id": inbound},
            "agency.supplement_requested": {"agency_dossier_code": code},
            "agency.supplement_received": {"agency_dossier_code": code},
            "agency.dossier_processing": {"agency_dossier_code": code},
            "agency.delay_notified": {"agency_dossier_code": code},
            "agency.dossier_withdrawn": {"agency_dossier_code": code},
            "agency.dossier_closed": {"agency_dossier_code": code},
            "agency.result_ready": {"agency_dossier_code": code},
            "agency.dossier_registered_for_return": {"agency_dossier_code": code},
        }
        return fields.get(event_type, {})


# The journeys start with the version 1 events that carried the applicant's contact: the tracker reads
# them through the upcaster and digests the phone with its own lookup key, which the lookup-key tests
# rotate. tests/tracker/test_personal_data_versions.py covers version 2, as the producers publish it.
V1_STARTS = {"postal.dossier_accepted", "agency.dossier_registered_for_return"}


def _selector(event_type: str) -> str | tuple[str, int]:
    return (event_type, 1) if event_type in V1_STARTS else event_type


def new_dossier(form: ServiceForm) -> Dossier:
    item_id = unique_item_id("EB")
    result_item_id = unique_item_id("RR")
    code = unique_agency_dossier_code(SAMPLE_AGENCY)
    dossier_id = (
        dossier_id_for_agency_code(code)
        if form is ServiceForm.RECEIVE_RESULT
        else dossier_id_for_item(item_id)
    )
    return Dossier(form, dossier_id, item_id, result_item_id, code)


RESULT_IN_TRANSIT = {"item_kind": ItemKind.RESULT}


def journey(dossier: Dossier, start: datetime = START) -> list[Envelope[Event]]:
    """Every event of the dossier's full journey in its form, one hour apart."""
    steps: list[tuple[str, int, dict[str, Any]]]
    if dossier.form is ServiceForm.SEND_DOSSIER:
        steps = [
            ("postal.dossier_accepted", 0, {}),
            ("postal.dossier_in_transit", 0, {}),
            ("postal.dossier_handed_to_agency", 0, {}),
            ("agency.dossier_received", 0, {}),
            ("agency.dossier_processing", 0, {}),
            ("agency.result_ready", 0, {}),
        ]
    elif dossier.form is ServiceForm.SEND_AND_RECEIVE:
        steps = [
            ("postal.dossier_accepted", 0, {}),
            ("postal.dossier_in_transit", 0, {}),
            ("postal.dossier_handed_to_agency", 0, {}),
            ("agency.dossier_received", 0, {}),
            ("agency.supplement_requested", 0, {}),
            ("agency.supplement_received", 0, {}),
            ("agency.dossier_processing", 0, {}),
            ("agency.delay_notified", 0, {}),
            ("agency.result_ready", 0, {}),
            ("postal.result_picked_up", 0, {}),
            ("postal.dossier_in_transit", 1, {"item_id": dossier.result_item_id, **RESULT_IN_TRANSIT}),
            ("postal.result_out_for_delivery", 0, {"attempt": 1}),
            ("postal.delivery_failed", 0, {"attempt": 1}),
            ("postal.result_out_for_delivery", 1, {"attempt": 2}),
            ("postal.result_delivered", 0, {"attempt": 2}),
        ]
    else:
        steps = [
            ("agency.dossier_registered_for_return", 0, {}),
            # The desk files the dossier it registered (the agency service's FILED → RECEIVED).
            ("agency.dossier_received", 0, {}),
            ("agency.dossier_processing", 0, {}),
            ("agency.result_ready", 0, {}),
            ("postal.result_picked_up", 0, {}),
            ("postal.result_out_for_delivery", 0, {"attempt": 1}),
            ("postal.result_delivered", 0, {"attempt": 1}),
        ]
    return [
        dossier.envelope(event_type, start + timedelta(hours=i), n, **changes)
        for i, (event_type, n, changes) in enumerate(steps)
    ]
