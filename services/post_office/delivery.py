"""The result's way to the citizen: transit scans, delivery attempts, delivery, and the return of an
undeliverable result to the agency (Decision 45/2016 and the postal service's rules; see domain.md).

Pure: each function takes the item as stored and a command, and answers what is recorded or why not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from contracts.enums import (
    DeliveryFailureReason,
    ItemKind,
    RecipientKind,
    Stage,
)
from contracts.events.postal import (
    DeliveryFailedV2,
    DossierInTransit,
    ResultDelivered,
    ResultOutForDelivery,
    ResultReturnedToAgency,
)
from services.post_office.commands import (
    ReturnToAgency,
)

# Fixed for ever: every event id this service derives depends on it.
from services.post_office.domain import (
    AT_A_POSTAL_FACILITY,
    MIN_FAILED_ATTEMPTS_BEFORE_RETURN,
    MIN_WORKING_DAYS_BETWEEN_FAILED_ATTEMPTS,
    Attempt,
    AttemptOutcome,
    Item,
    Reason,
    Recorded,
    RefusedError,
    Verdict,
    event_id_for,
    event_id_for_scan,
    item_envelope,
)
from services.post_office.scan_commands import (
    DeliveredScan,
    DeliveryFailedScan,
    OutForDeliveryScan,
    Scan,
    TransitScan,
)
from services.shared.calendar import WorkingCalendar, to_vietnam_time

# --------------------------------------------------------------------------- scans


def apply_scan(item: Item | None, scan: Scan, post_office_code: str) -> Recorded:
    """Apply one scan (online or from an offline batch) recorded by a post office."""
    if item is None:
        raise RefusedError(
            Verdict.UNKNOWN, Reason.UNKNOWN_ITEM, f"item {scan.item_id} was never recorded by the post"
        )
    if isinstance(scan, TransitScan):
        return _transit(item, scan, post_office_code)
    if isinstance(scan, OutForDeliveryScan):
        return _out_for_delivery(item, scan, post_office_code)
    if isinstance(scan, DeliveryFailedScan):
        return _delivery_failed(item, scan, post_office_code)
    return _delivered(item, scan, post_office_code)


def _transit(item: Item, scan: TransitScan, facility: str) -> Recorded:
    if item.stage not in AT_A_POSTAL_FACILITY:
        raise _not_at_a_facility(item)
    event = DossierInTransit(
        item_id=item.item_id,
        item_kind=item.kind,
        facility_code=facility,
        direction=scan.direction,
        scanned_by=scan.scanned_by,
    )
    stage = Stage.IN_TRANSIT if item.kind is ItemKind.DOSSIER else Stage.RESULT_IN_TRANSIT
    return Recorded(
        replace(item, stage=stage),
        item_envelope(event, item.dossier_id, facility, scan.scanned_at, event_id_for_scan(scan.scan_id)),
    )


def _not_at_a_facility(item: Item) -> RefusedError:
    if item.stage is Stage.OUT_FOR_DELIVERY:
        return RefusedError(
            Verdict.CONFLICT,
            Reason.ALREADY_OUT_FOR_DELIVERY,
            f"result {item.item_id} is out for delivery (attempt {len(item.attempts)}); record that "
            "attempt's outcome first",
        )
    return RefusedError(
        Verdict.CONFLICT,
        Reason.NOT_IN_POSTAL_CUSTODY,
        f"item {item.item_id} is {item.stage.value.lower()}; the post no longer holds it",
    )


def _require_result(item: Item) -> None:
    if item.kind is not ItemKind.RESULT:
        raise RefusedError(
            Verdict.CONFLICT,
            Reason.NOT_A_RESULT,
            f"item {item.item_id} is an inbound dossier; only results are delivered",
        )


def _out_for_delivery(item: Item, scan: OutForDeliveryScan, office: str) -> Recorded:
    _require_result(item)
    if item.stage not in AT_A_POSTAL_FACILITY:
        raise _not_at_a_facility(item)
    attempt = Attempt(number=len(item.attempts) + 1, courier_id=scan.courier_id, started_at=scan.scanned_at)
    event = ResultOutForDelivery(
        result_item_id=item.item_id,
        courier_id=scan.courier_id,
        post_office_code=office,
        attempt=attempt.number,
    )
    return Recorded(
        replace(item, stage=Stage.OUT_FOR_DELIVERY, attempts=(*item.attempts, attempt)),
        item_envelope(event, item.dossier_id, office, scan.scanned_at, event_id_for_scan(scan.scan_id)),
    )


def _delivery_failed(item: Item, scan: DeliveryFailedScan, office: str) -> Recorded:
    _require_result(item)
    current = item.current_attempt
    if item.stage is not Stage.OUT_FOR_DELIVERY or current is None:
        raise RefusedError(
            Verdict.CONFLICT,
            Reason.NOT_OUT_FOR_DELIVERY,
            f"result {item.item_id} is {item.stage.value.lower()}, not out for delivery: record the "
            "out-for-delivery scan first",
        )
    ended = replace(
        current, outcome=AttemptOutcome.FAILED, ended_at=scan.scanned_at, failure_reason=scan.reason
    )
    # Version 2: the courier's note (free text, may name people) goes to the vault (handlers), not the log.
    event = DeliveryFailedV2(
        result_item_id=item.item_id,
        courier_id=scan.courier_id,
        post_office_code=office,
        attempt=current.number,
        reason=scan.reason,
        note_held=scan.note is not None,
        invitation_left=scan.invitation_left,
        next_attempt_on=scan.next_attempt_on,
    )
    return Recorded(
        replace(item, stage=Stage.DELIVERY_FAILED, attempts=(*item.attempts[:-1], ended)),
        item_envelope(event, item.dossier_id, office, scan.scanned_at, event_id_for_scan(scan.scan_id)),
    )


def _delivered(item: Item, scan: DeliveredScan, office: str) -> Recorded:
    _require_result(item)
    if not scan.identity_verified:
        raise RefusedError(
            Verdict.INVALID,
            Reason.IDENTITY_NOT_VERIFIED,
            "a result is handed over only after the recipient's identity document was verified; record a "
            "failed delivery with reason IDENTITY_NOT_VERIFIED instead",
        )
    if scan.recipient_kind is RecipientKind.AUTHORISED_PROXY and not scan.authorisation_checked:
        raise RefusedError(
            Verdict.INVALID,
            Reason.AUTHORISATION_NOT_CHECKED,
            "a proxy receives a result only after the written authorisation was checked",
        )
    current = item.current_attempt
    if item.stage is Stage.OUT_FOR_DELIVERY and current is not None:
        attempt = replace(
            current, outcome=AttemptOutcome.DELIVERED, ended_at=scan.scanned_at, failure_reason=None
        )
        attempts = (*item.attempts[:-1], attempt)
    elif item.stage in AT_A_POSTAL_FACILITY:
        # The citizen collected it at the counter (after an invitation): an attempt without a round.
        attempt = Attempt(
            number=len(item.attempts) + 1,
            courier_id=scan.courier_id,
            started_at=None,
            outcome=AttemptOutcome.DELIVERED,
            ended_at=scan.scanned_at,
        )
        attempts = (*item.attempts, attempt)
    else:
        raise _not_at_a_facility(item)
    event = ResultDelivered(
        result_item_id=item.item_id,
        courier_id=scan.courier_id,
        post_office_code=office,
        attempt=attempt.number,
        recipient_kind=scan.recipient_kind,
        id_document_type=scan.id_document_type,
        identity_verified=scan.identity_verified,
        authorisation_checked=scan.authorisation_checked,
    )
    return Recorded(
        replace(item, stage=Stage.DELIVERED, attempts=attempts),
        item_envelope(event, item.dossier_id, office, scan.scanned_at, event_id_for_scan(scan.scan_id)),
    )


# --------------------------------------------------------------------------- return to the agency


def return_refusal(
    failed_attempt_times: Sequence[datetime], calendar: WorkingCalendar
) -> RefusedError | None:
    """Why an undeliverable result may not go back to the agency yet, or None when it may.

    Decision 45/2016: at least two delivery attempts, at least two working days apart. The days are
    the attempts' days in Vietnam; "two working days apart" counts the working days after the first
    attempt up to and including the last (Monday and Wednesday are two apart; Friday and Monday one).
    """
    if len(failed_attempt_times) < MIN_FAILED_ATTEMPTS_BEFORE_RETURN:
        return RefusedError(
            Verdict.CONFLICT,
            Reason.TOO_FEW_FAILED_ATTEMPTS,
            f"{len(failed_attempt_times)} failed delivery attempt(s) recorded; at least "
            f"{MIN_FAILED_ATTEMPTS_BEFORE_RETURN} are needed before a result goes back to the agency",
        )
    days = sorted(to_vietnam_time(t).date() for t in failed_attempt_times)
    apart = calendar.working_days_between(days[0], days[-1])
    if apart < MIN_WORKING_DAYS_BETWEEN_FAILED_ATTEMPTS:
        return RefusedError(
            Verdict.CONFLICT,
            Reason.FAILED_ATTEMPTS_TOO_CLOSE,
            f"the failed attempts of {days[0]} and {days[-1]} are {apart} working day(s) apart; at least "
            f"{MIN_WORKING_DAYS_BETWEEN_FAILED_ATTEMPTS} are needed before a result goes back to the agency",
        )
    return None


def return_to_agency(item: Item | None, cmd: ReturnToAgency, calendar: WorkingCalendar) -> Recorded:
    if item is None:
        raise RefusedError(
            Verdict.UNKNOWN,
            Reason.UNKNOWN_ITEM,
            f"result {cmd.result_item_id} was never picked up by the post",
        )
    _require_result(item)
    if item.stage not in AT_A_POSTAL_FACILITY:
        raise _not_at_a_facility(item)
    if item.agency_code != cmd.agency_code:
        raise RefusedError(
            Verdict.CONFLICT,
            Reason.WRONG_AGENCY,
            f"result {item.item_id} was released by agency {item.agency_code}, not {cmd.agency_code}",
        )
    failed = item.failed_attempts
    refusal = return_refusal([a.ended_at for a in failed if a.ended_at is not None], calendar)
    if refusal is not None:
        raise refusal
    last_reason = failed[-1].failure_reason or DeliveryFailureReason.OTHER
    event = ResultReturnedToAgency(
        result_item_id=item.item_id,
        agency_code=cmd.agency_code,
        post_office_code=cmd.post_office_code,
        return_record_id=cmd.return_record_id,
        postal_worker_id=cmd.postal_worker_id,
        agency_officer_id=cmd.agency_officer_id,
        attempts=len(item.attempts),
        reason=last_reason,
    )
    envelope = item_envelope(
        event,
        item.dossier_id,
        cmd.post_office_code,
        cmd.returned_at,
        event_id_for(item.item_id, "returned-to-agency"),
    )
    return Recorded(replace(item, stage=Stage.RETURNED_TO_AGENCY), envelope)
