"""Closure of a dossier whose supplement never came (Decree 118/2025 Art. 19(5)), on real dates.

The boundary implemented: the period counts from the day of the request (the notice), that day not
counted (Civil Code Art. 147); the applicant has the whole of the period's last day, and the dossier is
closed when that day ends, at 00:00 of the next day (Vietnam time). Calendar facts: Tết 2026 is off
from Saturday 14 to Sunday 22 February.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from contracts.enums import ClosureReason, Outcome
from contracts.sources import agency_source
from services.agency import commands as cmd
from services.agency.domain import AUTOMATIC_OFFICER, Dossier, Status, accept, closure_time, due_closure
from services.agency.policy import Policy
from services.agency.rejections import Reason, ReportRejectedError, Verdict
from services.shared.legal_rules import Period
from tests.agency.test_domain import AGENCY, OFFICER, POLICY, received, rejection, reported, vn

REQUEST = cmd.RequestSupplement(missing_documents=("Ảnh",), reason="Thiếu ảnh")
ONE_SECOND = timedelta(seconds=1)


def _awaiting(requested_at: datetime, policy: Policy = POLICY) -> Dossier:
    filed_at = requested_at - timedelta(days=1)
    return reported(received(filed_at, policy=policy), REQUEST, requested_at, policy)


def _closed_automatically(dossier: Dossier, now: datetime, policy: Policy = POLICY) -> Dossier:
    event = due_closure(dossier, now, policy)
    assert event is not None
    return accept(
        dossier,
        event,
        subject=dossier.dossier_id,
        source=agency_source(AGENCY),
        occurred_at=closure_time(dossier, policy),
        now=now,
        policy=policy,
    )


def _working_day_policy(days: int) -> Policy:
    """A test rule set whose closure period counts working days (the files' Decree 118 counts calendar)."""
    legal = POLICY.legal
    segments = tuple(
        replace(s, closure=Period(days, "working")) if s.closure is not None else s for s in legal.segments
    )
    return replace(POLICY, legal=replace(legal, segments=segments))


def test_a_calendar_period_closes_the_dossier_when_its_fifteenth_day_after_the_notice_ends() -> None:
    # Notice on Friday 6 February 2026: the 15th day after is Saturday 21 February (in Tết: calendar
    # days count every day); the dossier is closed at 00:00 on Sunday 22 February.
    dossier = _awaiting(vn(2026, 2, 6, 10))
    last_moment = vn(2026, 2, 22, 0) - ONE_SECOND

    assert due_closure(dossier, last_moment, POLICY) is None
    event = due_closure(dossier, vn(2026, 2, 22, 0), POLICY)

    assert event is not None
    assert event.reason is ClosureReason.SUPPLEMENT_NOT_COMPLETED and event.automatic
    assert (event.period_days, event.period_unit) == (15, "calendar")
    assert event.period_ended_on == date(2026, 2, 21)
    assert event.rule_set == "decree_118_2025"
    assert event.officer_id == AUTOMATIC_OFFICER
    assert event.supplement_requested_at == vn(2026, 2, 6, 10)
    assert closure_time(dossier, POLICY) == vn(2026, 2, 22, 0)
    assert dossier.closure_due_at == vn(2026, 2, 22, 0)


def test_a_working_day_period_ends_with_its_last_working_day_by_the_calendar() -> None:
    # Notice on Thursday 12 February 2026, 5 working days: Fri 13, then Tết (14–22 off), Mon 23 … Thu 26.
    policy = _working_day_policy(5)
    dossier = _awaiting(vn(2026, 2, 12, 10), policy)

    assert due_closure(dossier, vn(2026, 2, 27, 0) - ONE_SECOND, policy) is None
    event = due_closure(dossier, vn(2026, 2, 27, 0), policy)

    assert event is not None
    assert (event.period_days, event.period_unit, event.period_ended_on) == (5, "working", date(2026, 2, 26))
    assert _closed_automatically(dossier, vn(2026, 2, 27, 0), policy).status is Status.CLOSED


def test_a_request_under_decree_61_is_never_closed_automatically() -> None:
    dossier = _awaiting(vn(2025, 6, 30, 16))  # the last day of Decree 61: no closure period

    assert dossier.closure_due_at is None
    assert due_closure(dossier, vn(2026, 6, 30, 16), POLICY) is None


def test_a_request_on_the_first_day_of_decree_118_closes_by_its_period() -> None:
    dossier = _awaiting(vn(2025, 7, 1, 9))

    assert due_closure(dossier, vn(2025, 7, 17, 0) - ONE_SECOND, POLICY) is None
    event = due_closure(dossier, vn(2025, 7, 17, 0), POLICY)
    assert event is not None and event.period_ended_on == date(2025, 7, 16)


def test_the_supplement_arriving_in_time_cancels_the_closure() -> None:
    dossier = _awaiting(vn(2026, 3, 2, 10))
    back = reported(dossier, cmd.ReceiveSupplement(received_at=vn(2026, 3, 17, 16)), vn(2026, 3, 17, 16))

    assert back.status is Status.RECEIVED and back.closure_due_at is None
    assert due_closure(back, vn(2026, 4, 1, 0), POLICY) is None


def test_after_the_closure_a_supplement_report_is_a_conflict_named_dossier_closed() -> None:
    dossier = _closed_automatically(_awaiting(vn(2026, 3, 2, 10)), vn(2026, 3, 18, 0))

    assert dossier.status is Status.CLOSED
    late = cmd.ReceiveSupplement(received_at=vn(2026, 3, 18, 8))
    assert rejection(dossier, late, vn(2026, 3, 18, 9)) is Reason.DOSSIER_CLOSED
    assert Reason.DOSSIER_CLOSED.verdict is Verdict.CONFLICT


def test_an_officer_closes_a_dossier_awaiting_its_supplement_with_a_reason() -> None:
    dossier = _awaiting(vn(2026, 3, 2, 10))
    close = cmd.CloseDossier(reason=ClosureReason.SUPPLEMENT_DECLINED)

    after = reported(dossier, close, vn(2026, 3, 5, 10))

    assert after.status is Status.CLOSED
    assert rejection(after, close, vn(2026, 3, 6, 10)) is Reason.DOSSIER_CLOSED
    assert due_closure(after, vn(2026, 4, 1), POLICY) is None  # closed once


def test_an_officer_cannot_close_a_dossier_that_awaits_no_supplement() -> None:
    close = cmd.CloseDossier(reason=ClosureReason.OTHER, note="Hồ sơ nộp trùng")
    running = received(vn(2026, 3, 2, 10))
    ready = reported(
        running, cmd.ReadyResult(outcome=Outcome.APPROVED, result_reference="HC-1"), vn(2026, 3, 3, 10)
    )

    assert rejection(running, close, vn(2026, 3, 3, 10)) is Reason.NO_SUPPLEMENT_REQUESTED
    assert rejection(ready, close, vn(2026, 3, 4, 10)) is Reason.RESULT_ALREADY_READY


def test_an_officers_other_reason_needs_a_note() -> None:
    with pytest.raises(ValueError, match="note"):
        cmd.CloseDossier(reason=ClosureReason.OTHER)


def test_an_automatic_closure_before_its_period_ends_is_refused_as_inconsistent() -> None:
    dossier = _awaiting(vn(2026, 3, 2, 10))
    event = due_closure(dossier, vn(2026, 3, 18, 0), POLICY)
    assert event is not None

    with pytest.raises(ReportRejectedError) as caught:
        accept(
            dossier,
            event,
            subject=dossier.dossier_id,
            source=agency_source(OFFICER.agency_code),
            occurred_at=vn(2026, 3, 17, 23),  # an agency system closing an hour early
            now=vn(2026, 3, 18, 1),
            policy=POLICY,
        )
    assert caught.value.reason is Reason.INCONSISTENT
