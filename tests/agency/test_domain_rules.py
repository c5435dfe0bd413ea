"""The agency's rules at their edges: what a rejection tells the officer, boundaries, and the record kept.

Written against the mutants a mutation run of services/agency/domain.py left alive (issue 18, item 9):
each test states a behaviour an officer, an agency system or the service's operator relies on. Every
dossier is built inside its test (never in a parametrize list), so the rules under test run while the
test runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

import pytest

from contracts.enums import FilingChannel, Outcome, ServiceForm
from contracts.events import (
    DelayNotified,
    DossierProcessing,
    DossierReceived,
    DossierRefused,
    DossierWithdrawn,
    Event,
    SupplementReceived,
    SupplementRequested,
)
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_APPLICANT
from contracts.sources import agency_source
from contracts.values import dossier_id_for_agency_code, dossier_id_for_item, make_s10
from services.agency import commands as cmd
from services.agency.domain import (
    Actor,
    Dossier,
    Status,
    accept,
    compose,
    compose_registration,
    learn,
    next_event_id,
)
from services.agency.rejections import Reason, ReportRejectedError, Verdict
from services.shared.personal_data.phone_check import PhoneDigest
from tests.agency.test_domain import (
    AGENCY,
    CATALOG,
    CODE,
    DOSSIER_ID,
    ITEM,
    OFFICER,
    OTHER_AGENCY,
    PASSPORT,
    POLICY,
    accepted,
    filed,
    handed_over,
    received,
    reported,
    vn,
)

OUR_SOURCE = agency_source(AGENCY)
OTHER_CODE = "000.00.02.H22-260302-0001"
REGISTERED_ID = dossier_id_for_agency_code(CODE)
ANOTHER_DOSSIER = dossier_id_for_item(make_s10("EB", 10000099))
NOT_BY_POST = "1.000894"  # marriage registration: both parties present
RECEIVE = cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=date(2026, 3, 20))
PROCESS = cmd.StartProcessing(department="Phòng Quản lý xuất nhập cảnh")
REQUEST = cmd.RequestSupplement(missing_documents=("Ảnh",), reason="Thiếu ảnh")
SUPPLEMENT_ITEM = make_s10("EB", 10000002)
FILED_IN_PERSON = vn(2026, 3, 2, 9)


def _delay(new: date, issued_on: date) -> cmd.NotifyDelay:
    return cmd.NotifyDelay(new_due_date=new, reason="Cần xác minh thêm", issued_on=issued_on)


def _raw(dossier: Dossier | None, event: Event, at: datetime, **kw: object) -> Dossier:
    """An agency system's own message, published under its source at `at` (the service's now too)."""
    fields: dict[str, object] = {
        "subject": dossier.dossier_id if dossier else DOSSIER_ID,
        "source": OUR_SOURCE,
        "occurred_at": at,
        "now": at,
        "policy": POLICY,
        **kw,
    }
    return accept(dossier, event, **fields)  # type: ignore[arg-type]


def _tampered(event: Event, **changes: object) -> Event:
    return type(event).model_validate({**event.model_dump(), **changes})


def _registration(
    code: str = CODE, procedure: str = "1.004873", filed_at: datetime = FILED_IN_PERSON
) -> cmd.RegisterForReturn:
    return cmd.RegisterForReturn(
        agency_dossier_code=code,
        procedure_code=procedure,
        filing_channel=FilingChannel.IN_PERSON,
        filed_at=filed_at,
        applicant=SAMPLE_APPLICANT,
        delivery_address=SAMPLE_ADDRESS,
    )


def _register(
    registration: cmd.RegisterForReturn,
    existing: Dossier | None = None,
    subject: str | None = None,
    code_holder: str | None = None,
) -> Dossier:
    return accept(
        existing,
        compose_registration(registration, OFFICER, PhoneDigest([b"agency-domain-tests-lookup-key"])),
        subject=subject or dossier_id_for_agency_code(registration.agency_dossier_code),
        source=OUR_SOURCE,
        occurred_at=vn(2026, 3, 2, 10),
        now=vn(2026, 3, 2, 10),
        policy=POLICY,
        code_holder=code_holder,
    )


def _waiting(before: Dossier, requested_at: datetime) -> Dossier:
    return reported(before, REQUEST, requested_at)


def _learnt(event: Event) -> Dossier:
    """The record of a dossier the service learns of from this postal event alone."""
    dossier = learn(None, DOSSIER_ID, event, POLICY)
    assert dossier is not None
    return dossier


def _handed_supplement(dossier: Dossier, signed_at: datetime) -> Dossier:
    handed = learn(
        dossier,
        DOSSIER_ID,
        handed_over(signed_at, item_id=SUPPLEMENT_ITEM, item_kind="SUPPLEMENT"),
        POLICY,
    )
    assert handed is not None
    return handed


# --------------------------------------------------------------------------- what a rejection says


@dataclass(frozen=True)
class Told:
    """A rejected report and what the officer (or the agency system's operator) must read in it."""

    attempt: Callable[[], object]
    reason: Reason
    says: tuple[str, ...] = ()
    """Parts the detail must contain: the facts to fix (codes, dates, fields)."""
    begins: str = ""
    """The field or time the detail must name first, so a reader knows which one is wrong."""
    never: str | None = None
    """A part that would mislead here."""


def _received_then_receipt() -> object:
    dossier = received(vn(2026, 3, 2))
    return reported(dossier, RECEIVE, vn(2026, 3, 3))


def _registered_receipt_naming_an_item() -> object:
    dossier = _register(_registration())
    event = compose(dossier, RECEIVE, OFFICER, vn(2026, 3, 2, 11), POLICY)
    return _raw(dossier, _tampered(event, item_id=ITEM), vn(2026, 3, 2, 11))


def _receipt_tampered(**changes: object) -> Callable[[], object]:
    def attempt() -> object:
        dossier = filed(vn(2026, 3, 2))
        event = compose(
            dossier,
            cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=date(2026, 3, 12)),
            OFFICER,
            vn(2026, 3, 3),
            POLICY,
        )
        return _raw(dossier, _tampered(event, **changes), vn(2026, 3, 3))

    return attempt


def _slip_tampered(issued_on: date, **changes: object) -> Callable[[], object]:
    def attempt() -> object:
        dossier = received(vn(2026, 3, 2))  # due Thursday 12 March
        event = compose(dossier, _delay(date(2026, 3, 19), issued_on), OFFICER, vn(2026, 3, 12), POLICY)
        return _raw(dossier, _tampered(event, **changes), vn(2026, 3, 12))

    return attempt


def _processing_event_tampered(**changes: object) -> Callable[[], object]:
    def attempt() -> object:
        dossier = received(vn(2026, 3, 2))
        event = compose(dossier, PROCESS, OFFICER, vn(2026, 3, 3), POLICY)
        return _raw(dossier, _tampered(event, **changes), vn(2026, 3, 3))

    return attempt


def _raw_processing(recorded_at: datetime, occurred_at: datetime) -> Callable[[], object]:
    def attempt() -> object:
        dossier = received(vn(2026, 3, 2))
        event = compose(dossier, PROCESS, OFFICER, recorded_at, POLICY)
        return _raw(dossier, event, occurred_at, now=vn(2026, 3, 20))

    return attempt


def _raw_supplement_arriving_later() -> object:
    waiting = _waiting(received(vn(2026, 3, 2)), vn(2026, 3, 4))
    event = compose(
        waiting, cmd.ReceiveSupplement(received_at=vn(2026, 3, 25)), OFFICER, vn(2026, 3, 5), POLICY
    )
    return _raw(waiting, event, vn(2026, 3, 5))


def _final(before: Callable[[], Dossier], report: cmd.Report) -> Callable[[], object]:
    return lambda: reported(reported(before(), report, vn(2026, 3, 3)), PROCESS, vn(2026, 3, 4))


_RESULT = cmd.ReadyResult(outcome=Outcome.APPROVED, result_reference="HC-2026-0001")
_SKEW = "at most 120 s of clock skew"

TOLD = {
    # the dossier and who reports
    "unknown dossier": Told(
        lambda: _raw(
            None, compose(received(vn(2026, 3, 2)), PROCESS, OFFICER, vn(2026, 3, 3), POLICY), vn(2026, 3, 3)
        ),
        Reason.UNKNOWN_DOSSIER,
        ("no dossier with this id",),
    ),
    "another agency's dossier": Told(
        lambda: reported(
            filed(vn(2026, 3, 2)), RECEIVE, vn(2026, 3, 3), actor=Actor(OTHER_AGENCY, "officer-9")
        ),
        Reason.ANOTHER_AGENCY,
        ("another agency",),
    ),
    "a postal event": Told(
        lambda: _raw(filed(vn(2026, 3, 2)), accepted(), vn(2026, 3, 3)),
        Reason.NOT_AN_AGENCY_EVENT,
        ("postal.dossier_accepted",),
    ),
    "another producer's source": Told(
        lambda: _raw(
            filed(vn(2026, 3, 2)),
            compose(filed(vn(2026, 3, 2)), REQUEST, OFFICER, vn(2026, 3, 3), POLICY),
            vn(2026, 3, 3),
            source="/post-offices/100000",
        ),
        Reason.SOURCE_MISMATCH,
        (f"/agencies/{AGENCY}",),
    ),
    # the state
    "before the handover": Told(
        lambda: reported(_learnt(accepted()), RECEIVE, vn(2026, 3, 3)),
        Reason.NOT_HANDED_OVER,
        ("handover record",),
    ),
    "after withdrawal": Told(
        _final(lambda: received(vn(2026, 3, 2)), cmd.WithdrawDossier()),
        Reason.DOSSIER_WITHDRAWN,
        ("withdrew",),
    ),
    "after refusal": Told(
        _final(lambda: filed(vn(2026, 3, 2)), cmd.RefuseDossier(reason="x")),
        Reason.DOSSIER_REFUSED,
        ("refused",),
    ),
    "after the result": Told(
        _final(lambda: received(vn(2026, 3, 2)), _RESULT), Reason.RESULT_ALREADY_READY, ("already ready",)
    ),
    "refusing a received dossier": Told(
        lambda: reported(received(vn(2026, 3, 2)), cmd.RefuseDossier(reason="x"), vn(2026, 3, 3)),
        Reason.ALREADY_RECEIVED,
        ("already received", "denied with a result, not refused"),
    ),
    "receiving twice": Told(
        _received_then_receipt, Reason.ALREADY_RECEIVED, ("already received",), never="refused"
    ),
    "processing while awaiting a supplement": Told(
        lambda: reported(_waiting(received(vn(2026, 3, 2)), vn(2026, 3, 3)), PROCESS, vn(2026, 3, 4)),
        Reason.AWAITING_SUPPLEMENT,
        ("supplement was requested",),
    ),
    "a supplement nobody asked for": Told(
        lambda: reported(
            received(vn(2026, 3, 2)), cmd.ReceiveSupplement(received_at=vn(2026, 3, 3)), vn(2026, 3, 3)
        ),
        Reason.NO_SUPPLEMENT_REQUESTED,
        ("no supplement was requested",),
    ),
    "processing before the receipt": Told(
        lambda: reported(filed(vn(2026, 3, 2)), PROCESS, vn(2026, 3, 3)),
        Reason.NOT_RECEIVED,
        ("not been received",),
    ),
    "a second apology slip": Told(
        lambda: reported(
            reported(received(vn(2026, 3, 2)), _delay(date(2026, 3, 19), date(2026, 3, 10)), vn(2026, 3, 10)),
            _delay(date(2026, 3, 26), date(2026, 3, 17)),
            vn(2026, 3, 17),
        ),
        Reason.DELAY_ALREADY_NOTIFIED,
        ("at most 1 per dossier",),
    ),
    # codes
    "a code other than the dossier's": Told(
        _processing_event_tampered(agency_dossier_code="000.00.01.H22-260302-0002"),
        Reason.CODE_MISMATCH,
        (f"the dossier's code is {CODE}",),
    ),
    "another agency's code": Told(
        lambda: reported(
            filed(vn(2026, 3, 2)),
            cmd.ReceiveDossier(agency_dossier_code=OTHER_CODE, appointment_date=date(2026, 3, 12)),
            vn(2026, 3, 3),
        ),
        Reason.CODE_OF_ANOTHER_AGENCY,
        (f"{OTHER_CODE} is a code of agency 000.00.02.H22",),
    ),
    "a code another dossier holds": Told(
        lambda: _raw(
            filed(vn(2026, 3, 2)),
            compose(filed(vn(2026, 3, 2)), RECEIVE, OFFICER, vn(2026, 3, 3), POLICY),
            vn(2026, 3, 3),
            code_holder=ANOTHER_DOSSIER,
        ),
        Reason.CODE_IN_USE,
        (f"{CODE} is already the code of another dossier",),
    ),
    # the receipt
    "no procedure on record": Told(
        lambda: reported(_learnt(handed_over(vn(2026, 3, 2))), RECEIVE, vn(2026, 3, 3)),
        Reason.MISSING_PROCEDURE,
        ("give procedure_code",),
    ),
    "a procedure outside the catalog": Told(
        lambda: reported(
            filed(vn(2026, 3, 2)),
            cmd.ReceiveDossier(
                agency_dossier_code=CODE, appointment_date=date(2026, 3, 12), procedure_code="9.999999"
            ),
            vn(2026, 3, 3),
        ),
        Reason.UNKNOWN_PROCEDURE,
        ("procedure 9.999999 is not in the procedure catalog",),
    ),
    "an appointment before the filing day": Told(
        lambda: reported(
            filed(vn(2026, 3, 6, 16)),  # after Friday's cut-off: filed Monday 9 March
            cmd.ReceiveDossier(agency_dossier_code=CODE, appointment_date=date(2026, 3, 6)),
            vn(2026, 3, 9),
        ),
        Reason.APPOINTMENT_BEFORE_FILING,
        ("before the filing day 2026-03-09",),
    ),
    "a receipt naming another item": Told(
        _receipt_tampered(item_id=make_s10("EB", 10000098)), Reason.INCONSISTENT, begins="item_id:"
    ),
    "a registered dossier's receipt naming an item": Told(
        _registered_receipt_naming_an_item, Reason.INCONSISTENT, begins="item_id:"
    ),
    "a receipt with another filing time": Told(
        _receipt_tampered(filed_at=vn(2026, 3, 2, 11)),
        Reason.INCONSISTENT,
        (vn(2026, 3, 2).isoformat(),),
        begins="filed_at:",
    ),
    "a receipt with another legal due date": Told(
        _receipt_tampered(legal_due_date=date(2026, 3, 13), appointment_date=date(2026, 3, 13)),
        Reason.INCONSISTENT,
        ("the rules give 2026-03-12",),
        begins="legal_due_date:",
    ),
    # supplements
    "two times for one supplement": Told(
        lambda: reported(
            _waiting(received(vn(2026, 3, 2)), vn(2026, 3, 4)),
            cmd.ReceiveSupplement(received_at=vn(2026, 3, 10, 9), occurred_at=vn(2026, 3, 10, 10)),
            vn(2026, 3, 10, 11),
        ),
        Reason.TIMES_DISAGREE,
        ("received_at and occurred_at",),
    ),
    "a supplement without its time": Told(
        lambda: reported(
            _waiting(received(vn(2026, 3, 2)), vn(2026, 3, 4)), cmd.ReceiveSupplement(), vn(2026, 3, 5)
        ),
        Reason.MISSING_RECEIVED_AT,
        ("give received_at",),
    ),
    # apology slips
    "a slip against another due date": Told(
        _slip_tampered(date(2026, 3, 10), previous_due_date=date(2026, 3, 11)),
        Reason.INCONSISTENT,
        ("2026-03-12",),
        begins="previous_due_date:",
    ),
    "a slip that does not move the date": Told(
        lambda: reported(
            received(vn(2026, 3, 2)), _delay(date(2026, 3, 12), date(2026, 3, 10)), vn(2026, 3, 10)
        ),
        Reason.NEW_DATE_NOT_LATER,
        ("after the current due date 2026-03-12",),
    ),
    "a slip dated tomorrow": Told(
        lambda: reported(
            received(vn(2026, 3, 2)), _delay(date(2026, 3, 19), date(2026, 3, 11)), vn(2026, 3, 10)
        ),
        Reason.TIME_IN_FUTURE,
        ("Vietnam time",),
        begins="issued_on ",
    ),
    "a slip dated before the filing": Told(
        lambda: reported(
            received(vn(2026, 3, 2)), _delay(date(2026, 3, 19), date(2026, 2, 27)), vn(2026, 3, 10)
        ),
        Reason.ISSUED_BEFORE_FILING,
        ("before the filing day 2026-03-02",),
    ),
    "a slip whose day is not its time's": Told(
        lambda: reported(
            received(vn(2026, 3, 2)),
            cmd.NotifyDelay(
                new_due_date=date(2026, 3, 19),
                reason="x",
                issued_on=date(2026, 3, 9),
                occurred_at=vn(2026, 3, 10, 9),
            ),
            vn(2026, 3, 10, 10),
        ),
        Reason.TIMES_DISAGREE,
        ("issued_on", "occurred_at", "(Vietnam time)"),
    ),
    "a late slip claiming no breach": Told(
        _slip_tampered(date(2026, 3, 12), breach=False),
        Reason.INCONSISTENT,
        ("issued on 2026-03-12 for a due date of 2026-03-12 is a breach",),
        begins="breach:",
    ),
    "a timely slip claiming a breach": Told(
        _slip_tampered(date(2026, 3, 10), breach=True),
        Reason.INCONSISTENT,
        ("issued on 2026-03-10 for a due date of 2026-03-12 is not a breach",),
        begins="breach:",
    ),
    # times in the future: the detail names which time, and the skew allowed
    "a report ahead of the clock": Told(
        lambda: reported(
            received(vn(2026, 3, 2)),
            PROCESS.model_copy(update={"occurred_at": vn(2026, 3, 5, 11)}),
            vn(2026, 3, 5),
        ),
        Reason.TIME_IN_FUTURE,
        (_SKEW,),
        begins="the report's time lies in the future",
    ),
    "a recording time ahead of the clock": Told(
        _raw_processing(recorded_at=vn(2026, 3, 21), occurred_at=vn(2026, 3, 3, 11)),
        Reason.TIME_IN_FUTURE,
        (_SKEW,),
        begins="recorded_at lies in the future",
    ),
    "a report after its recording": Told(
        _raw_processing(recorded_at=vn(2026, 3, 3, 9), occurred_at=vn(2026, 3, 3, 11)),
        Reason.TIME_IN_FUTURE,
        (_SKEW,),
        begins="the report's time (after recorded_at) lies in the future",
    ),
    "a supplement arriving later than now": Told(
        _raw_supplement_arriving_later,
        Reason.TIME_IN_FUTURE,
        (_SKEW,),
        begins="received_at lies in the future",
    ),
    "a registration filed later than now": Told(
        lambda: _register(_registration(filed_at=vn(2026, 3, 2, 11))),
        Reason.TIME_IN_FUTURE,
        (_SKEW,),
        begins="filed_at lies in the future",
    ),
    # registrations
    "registering another agency's code": Told(
        lambda: _register(_registration(code=OTHER_CODE)),
        Reason.CODE_OF_ANOTHER_AGENCY,
        (f"{OTHER_CODE} is a code of agency 000.00.02.H22",),
    ),
    "registering under another subject": Told(
        lambda: _register(_registration(), subject=DOSSIER_ID),
        Reason.WRONG_SUBJECT,
        ("the subject of a registration is the dossier id derived from its code",),
    ),
    "registering an unknown procedure": Told(
        lambda: _register(_registration(procedure="9.999999")),
        Reason.UNKNOWN_PROCEDURE,
        ("procedure 9.999999 is not in the procedure catalog",),
    ),
    "registering a procedure that cannot go by post": Told(
        lambda: _register(_registration(procedure=NOT_BY_POST)),
        Reason.PROCEDURE_NOT_BY_POST,
        (f"procedure {NOT_BY_POST} cannot go by post: {CATALOG.get(NOT_BY_POST).not_by_post_reason}",),
    ),
    "registering twice": Told(
        lambda: _register(_registration(), existing=_register(_registration())),
        Reason.ALREADY_REGISTERED,
        (f"dossier {CODE} is already registered",),
    ),
    "registering a code another dossier holds": Told(
        lambda: _register(_registration(), code_holder=ANOTHER_DOSSIER),
        Reason.CODE_IN_USE,
        (f"{CODE} is already the code of another dossier",),
    ),
}


@pytest.mark.parametrize("case", TOLD.values(), ids=TOLD.keys())
def test_a_rejection_tells_its_reader_what_to_fix(case: Told) -> None:
    with pytest.raises(ReportRejectedError) as caught:
        case.attempt()

    rejection = caught.value
    assert rejection.reason is case.reason
    assert str(rejection) == f"{case.reason.value}: {rejection.detail}", "logs and dead letters read alike"
    for part in case.says:
        assert part in rejection.detail, rejection.detail
    assert rejection.detail.startswith(case.begins), rejection.detail
    assert case.never is None or case.never not in rejection.detail, rejection.detail


def test_a_report_on_a_dossier_the_service_does_not_know_is_not_found() -> None:
    event = compose(received(vn(2026, 3, 2)), PROCESS, OFFICER, vn(2026, 3, 3), POLICY)

    with pytest.raises(ReportRejectedError) as caught:
        _raw(None, event, vn(2026, 3, 3))

    assert caught.value.verdict is Verdict.NOT_FOUND


def test_a_receipt_without_a_procedure_on_record_or_in_the_report_is_invalid() -> None:
    handed_only = learn(None, DOSSIER_ID, handed_over(vn(2026, 3, 2)), POLICY)
    assert handed_only is not None

    with pytest.raises(ReportRejectedError) as caught:
        reported(handed_only, RECEIVE, vn(2026, 3, 3))
    assert caught.value.verdict is Verdict.INVALID

    named = reported(handed_only, RECEIVE.model_copy(update={"procedure_code": PASSPORT}), vn(2026, 3, 3))
    assert (named.status, named.procedure_code) == (Status.RECEIVED, PASSPORT)


# --------------------------------------------------------------------------- learning from the post


def test_a_handover_seen_before_its_acceptance_files_the_dossier_and_the_acceptance_completes_it() -> None:
    signed_at = vn(2026, 3, 2, 9)

    handed = learn(None, DOSSIER_ID, handed_over(signed_at), POLICY)

    assert handed is not None
    assert (handed.dossier_id, handed.agency_code, handed.status, handed.item_id) == (
        DOSSIER_ID,
        AGENCY,
        Status.FILED,
        ITEM,
    )
    assert (handed.last_fact, handed.last_fact_at) == ("postal.dossier_handed_to_agency", signed_at)
    completed = learn(handed, DOSSIER_ID, accepted(), POLICY)
    assert completed == replace(handed, procedure_code=PASSPORT, service_form=ServiceForm.SEND_AND_RECEIVE), (
        "the acceptance adds the procedure and the service form, and leaves the filing as it was"
    )


def test_an_acceptance_announces_the_dossier_with_its_item_and_service_form() -> None:
    announced = learn(None, DOSSIER_ID, accepted(), POLICY)

    assert announced is not None
    assert (announced.dossier_id, announced.item_id, announced.service_form) == (
        DOSSIER_ID,
        ITEM,
        ServiceForm.SEND_AND_RECEIVE,
    )


def test_a_repeated_acceptance_keeps_what_the_record_already_knows() -> None:
    first = learn(None, DOSSIER_ID, accepted(), POLICY)
    again = accepted(procedure="1.004873").model_copy(update={"service_form": ServiceForm.SEND_DOSSIER})

    assert learn(first, DOSSIER_ID, again, POLICY) == first


@pytest.mark.parametrize(
    ("cutoff", "filing_day"),
    [(None, date(2026, 3, 6)), (time(16, 30), date(2026, 3, 6)), (time(15, 0), date(2026, 3, 9))],
)
def test_the_cut_off_rule_decides_the_filing_day_of_a_handover(cutoff: time | None, filing_day: date) -> None:
    policy = replace(POLICY, legal=POLICY.legal.with_cutoff(cutoff))

    handed = learn(None, DOSSIER_ID, handed_over(vn(2026, 3, 6, 16)), policy)  # Friday 16:00

    assert handed is not None and handed.filing_day == filing_day


# --------------------------------------------------------------------------- event ids


def test_event_ids_stay_the_same_across_releases_so_a_retry_after_an_upgrade_is_not_a_new_event() -> None:
    # Consumers drop an event id they have seen: a report retried after a failed publication must get
    # the id its first attempt was given, even when a new release of the service takes the retry.
    dossier = received(vn(2026, 3, 2))

    assert next_event_id(None, DOSSIER_ID, "agency.dossier_registered_for_return") == uuid.UUID(
        "2400bbe4-1300-5ec1-94d6-36be709d7b71"
    )
    assert next_event_id(dossier, DOSSIER_ID, "agency.dossier_processing") == uuid.UUID(
        "c76ff0ac-65b0-5f7c-8869-af6464596777"
    )


def test_two_reports_of_the_same_kind_in_a_row_get_two_event_ids() -> None:
    once = reported(received(vn(2026, 3, 2)), PROCESS, vn(2026, 3, 3))
    twice = reported(once, PROCESS, vn(2026, 3, 4))

    assert next_event_id(once, DOSSIER_ID, "agency.dossier_processing") != next_event_id(
        twice, DOSSIER_ID, "agency.dossier_processing"
    )


# --------------------------------------------------------------------------- what the published events carry


def test_a_refusal_names_the_dossier_by_the_code_the_agency_gave_it() -> None:
    coded = reported(
        filed(vn(2026, 3, 2)), REQUEST.model_copy(update={"agency_dossier_code": CODE}), vn(2026, 3, 3)
    )
    assert coded.agency_dossier_code == CODE
    refusal = cmd.RefuseDossier(reason="Không thuộc thẩm quyền")

    by_record = compose(coded, refusal, OFFICER, vn(2026, 3, 20), POLICY)
    assert isinstance(by_record, DossierRefused) and by_record.agency_dossier_code == CODE
    named = compose(
        filed(vn(2026, 3, 2)),
        refusal.model_copy(update={"agency_dossier_code": CODE}),
        OFFICER,
        vn(2026, 3, 3),
        POLICY,
    )
    assert isinstance(named, DossierRefused) and named.agency_dossier_code == CODE


def test_a_supplement_request_and_a_withdrawal_name_the_dossier_by_its_code() -> None:
    dossier = received(vn(2026, 3, 2))
    withdrawal = cmd.WithdrawDossier(reason="Công dân rút hồ sơ")

    request = compose(dossier, REQUEST, OFFICER, vn(2026, 3, 3), POLICY)
    withdrawn = compose(dossier, withdrawal, OFFICER, vn(2026, 3, 3), POLICY)

    assert isinstance(request, SupplementRequested) and request.agency_dossier_code == CODE
    assert isinstance(withdrawn, DossierWithdrawn)
    assert (withdrawn.agency_dossier_code, withdrawn.reason) == (CODE, "Công dân rút hồ sơ")


def test_processing_names_the_department() -> None:
    event = compose(received(vn(2026, 3, 2)), PROCESS, OFFICER, vn(2026, 3, 3), POLICY)

    assert isinstance(event, DossierProcessing) and event.department == "Phòng Quản lý xuất nhập cảnh"


def test_a_supplement_by_post_is_published_with_its_item_and_the_dossiers_code() -> None:
    handed = _handed_supplement(_waiting(received(vn(2026, 3, 2)), vn(2026, 3, 3)), vn(2026, 3, 5, 14))

    event = compose(handed, cmd.ReceiveSupplement(), OFFICER, vn(2026, 3, 5, 15), POLICY)

    assert isinstance(event, SupplementReceived)
    assert (event.agency_dossier_code, event.supplement_item_id, event.received_at) == (
        CODE,
        SUPPLEMENT_ITEM,
        vn(2026, 3, 5, 14),
    )


# --------------------------------------------------------------------------- supplements


def test_a_supplement_handed_over_at_the_moment_of_the_request_counts() -> None:
    waiting = _waiting(received(vn(2026, 3, 2)), vn(2026, 3, 5, 14))

    handed = _handed_supplement(waiting, vn(2026, 3, 5, 14))
    after = reported(handed, cmd.ReceiveSupplement(), vn(2026, 3, 5, 15))

    assert (after.status, after.filed_at) == (Status.RECEIVED, vn(2026, 3, 5, 14))


def test_a_supplement_handed_over_for_an_earlier_request_does_not_answer_a_new_one() -> None:
    first = _handed_supplement(_waiting(received(vn(2026, 3, 2)), vn(2026, 3, 3)), vn(2026, 3, 4))
    answered = reported(first, cmd.ReceiveSupplement(), vn(2026, 3, 4, 11))
    again = _waiting(answered, vn(2026, 3, 6))

    with pytest.raises(ReportRejectedError) as caught:
        reported(again, cmd.ReceiveSupplement(), vn(2026, 3, 9))
    assert caught.value.reason is Reason.MISSING_RECEIVED_AT


def test_an_officer_naming_another_supplement_item_than_the_posts_must_give_its_time() -> None:
    handed = _handed_supplement(_waiting(received(vn(2026, 3, 2)), vn(2026, 3, 3)), vn(2026, 3, 4))

    with pytest.raises(ReportRejectedError) as caught:
        reported(handed, cmd.ReceiveSupplement(supplement_item_id=make_s10("EB", 10000003)), vn(2026, 3, 5))
    assert caught.value.reason is Reason.MISSING_RECEIVED_AT


def test_a_supplement_item_the_officer_names_is_recorded_and_is_no_handover() -> None:
    waiting = _waiting(received(vn(2026, 3, 2)), vn(2026, 3, 3))

    answered = reported(
        waiting,
        cmd.ReceiveSupplement(supplement_item_id=SUPPLEMENT_ITEM, received_at=vn(2026, 3, 4)),
        vn(2026, 3, 4, 11),
    )
    assert answered.supplement_item_id == SUPPLEMENT_ITEM

    again = _waiting(answered, vn(2026, 3, 6))
    with pytest.raises(ReportRejectedError) as caught:
        reported(again, cmd.ReceiveSupplement(), vn(2026, 3, 9))
    assert caught.value.reason is Reason.MISSING_RECEIVED_AT, "no post handover is known: its time is needed"


def test_a_supplement_after_the_receipt_voids_the_appointment_slip() -> None:
    waiting = _waiting(received(vn(2026, 3, 2)), vn(2026, 3, 3))
    assert waiting.appointment_date is not None

    restarted = reported(waiting, cmd.ReceiveSupplement(received_at=vn(2026, 3, 4)), vn(2026, 3, 4, 11))

    assert restarted.appointment_date is None, "a new slip is due for the new date"
    assert restarted.due_date == date(2026, 3, 16)


# --------------------------------------------------------------------------- the record after a report


def test_a_receipt_keeps_the_inbound_item_of_the_dossier() -> None:
    assert received(vn(2026, 3, 2)).item_id == ITEM


def test_a_same_day_procedure_may_be_appointed_on_the_filing_day() -> None:
    dossier = reported(
        filed(vn(2026, 3, 6)),
        cmd.ReceiveDossier(
            agency_dossier_code=CODE, appointment_date=date(2026, 3, 6), procedure_code="1.001193"
        ),
        vn(2026, 3, 6, 11),
    )

    assert (dossier.status, dossier.appointment_date, dossier.due_date) == (
        Status.RECEIVED,
        date(2026, 3, 6),
        date(2026, 3, 6),
    )


def test_withdrawal_stops_the_clock() -> None:
    withdrawn = reported(received(vn(2026, 3, 2)), cmd.WithdrawDossier(), vn(2026, 3, 3))

    assert (withdrawn.status, withdrawn.due_date) == (Status.WITHDRAWN, None)


def test_an_apology_slip_may_be_issued_on_the_filing_day() -> None:
    dossier = received(vn(2026, 3, 2))

    after = reported(dossier, _delay(date(2026, 3, 19), date(2026, 3, 2)), vn(2026, 3, 2, 11))

    assert (after.due_date, after.delay_breach) == (date(2026, 3, 19), False)


def test_an_apology_slip_dated_tomorrow_is_accepted_within_the_clock_skew_of_midnight() -> None:
    # The desk's clock runs a minute ahead: at 23:59 by the service's clock it is already tomorrow there.
    dossier = received(vn(2026, 3, 2))
    just_before_midnight = vn(2026, 3, 9, 23, 59)
    slip = cmd.NotifyDelay(new_due_date=date(2026, 3, 19), reason="x", occurred_at=vn(2026, 3, 10, 0, 0))

    after = reported(dossier, slip, just_before_midnight)

    assert after.delay_notices == 1
    with pytest.raises(ReportRejectedError) as caught:
        reported(dossier, slip, just_before_midnight - timedelta(minutes=3))
    assert caught.value.reason is Reason.TIME_IN_FUTURE


def test_a_registered_dossier_is_filed_for_return_with_its_code_and_filing_day() -> None:
    dossier = _register(_registration(filed_at=vn(2026, 3, 2, 9)))

    assert dossier == Dossier(
        dossier_id=REGISTERED_ID,
        agency_code=AGENCY,
        status=Status.FILED,
        sequence=1,
        service_form=ServiceForm.RECEIVE_RESULT,
        procedure_code="1.004873",
        agency_dossier_code=CODE,
        filed_at=vn(2026, 3, 2, 9),
        filing_day=date(2026, 3, 2),
        last_fact="agency.dossier_registered_for_return",
        last_fact_at=vn(2026, 3, 2, 9),
    )


def test_registering_again_under_the_code_the_dossier_already_holds_is_not_a_code_conflict() -> None:
    dossier = _register(_registration(), code_holder=REGISTERED_ID)

    assert dossier.agency_dossier_code == CODE


def test_a_late_slip_recorded_by_an_agency_system_keeps_its_breach() -> None:
    dossier = received(vn(2026, 3, 2))
    event = compose(dossier, _delay(date(2026, 3, 19), date(2026, 3, 12)), OFFICER, vn(2026, 3, 12), POLICY)
    assert isinstance(event, DelayNotified)

    after = _raw(dossier, event, vn(2026, 3, 12))

    assert (after.delay_breach, after.due_date, after.delay_notices) == (True, date(2026, 3, 19), 1)


def test_a_receipt_event_carries_the_record_the_rules_checked() -> None:
    dossier = filed(vn(2026, 3, 2))
    event = compose(dossier, RECEIVE, OFFICER, vn(2026, 3, 3), POLICY)
    assert isinstance(event, DossierReceived)

    after = _raw(dossier, event, vn(2026, 3, 3))

    assert (after.item_id, after.agency_dossier_code, after.last_fact) == (
        ITEM,
        CODE,
        "agency.dossier_received",
    )
