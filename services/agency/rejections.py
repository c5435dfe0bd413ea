"""Why the agency service refuses a report: a closed set of reasons (metric label, dead-letter reason,
problem `reason`), each of a kind the API maps to a status code."""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """The kind of a rejection, which the API maps to a status code."""

    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"
    CONFLICT = "conflict"


class Reason(StrEnum):
    """Why a report is rejected: a closed set (metric label, dead-letter reason, problem `reason`)."""

    # not found
    UNKNOWN_DOSSIER = "unknown_dossier"
    # forbidden
    ANOTHER_AGENCY = "another_agency"
    SOURCE_MISMATCH = "source_mismatch"
    # invalid
    UNKNOWN_PROCEDURE = "unknown_procedure"
    PROCEDURE_NOT_BY_POST = "procedure_not_by_post"
    MISSING_PROCEDURE = "missing_procedure"
    MISSING_RECEIVED_AT = "missing_received_at"
    CODE_OF_ANOTHER_AGENCY = "code_of_another_agency"
    TIME_IN_FUTURE = "time_in_future"
    TIMES_DISAGREE = "times_disagree"
    NOT_AN_AGENCY_EVENT = "not_an_agency_event"
    WRONG_SUBJECT = "wrong_subject"
    # conflict with the dossier's state or record
    NOT_HANDED_OVER = "not_handed_over"
    NOT_RECEIVED = "not_received"
    ALREADY_RECEIVED = "already_received"
    AWAITING_SUPPLEMENT = "awaiting_supplement"
    NO_SUPPLEMENT_REQUESTED = "no_supplement_requested"
    BEFORE_PREVIOUS_FACT = "before_previous_fact"
    APPOINTMENT_BEFORE_FILING = "appointment_before_filing"
    DELAY_ALREADY_NOTIFIED = "delay_already_notified"
    NEW_DATE_NOT_LATER = "new_date_not_later"
    ISSUED_BEFORE_FILING = "issued_before_filing"
    DOSSIER_WITHDRAWN = "dossier_withdrawn"
    DOSSIER_REFUSED = "dossier_refused"
    RESULT_ALREADY_READY = "result_already_ready"
    DOSSIER_CLOSED = "dossier_closed"
    ALREADY_REGISTERED = "already_registered"
    CODE_IN_USE = "code_in_use"
    CODE_MISMATCH = "code_mismatch"
    INCONSISTENT = "inconsistent"

    @property
    def verdict(self) -> Verdict:
        return _VERDICTS.get(self, Verdict.CONFLICT)


_VERDICTS = {
    Reason.UNKNOWN_DOSSIER: Verdict.NOT_FOUND,
    Reason.ANOTHER_AGENCY: Verdict.FORBIDDEN,
    Reason.SOURCE_MISMATCH: Verdict.FORBIDDEN,
    Reason.UNKNOWN_PROCEDURE: Verdict.INVALID,
    Reason.PROCEDURE_NOT_BY_POST: Verdict.INVALID,
    Reason.MISSING_PROCEDURE: Verdict.INVALID,
    Reason.MISSING_RECEIVED_AT: Verdict.INVALID,
    Reason.CODE_OF_ANOTHER_AGENCY: Verdict.INVALID,
    Reason.TIME_IN_FUTURE: Verdict.INVALID,
    Reason.TIMES_DISAGREE: Verdict.INVALID,
    Reason.NOT_AN_AGENCY_EVENT: Verdict.INVALID,
    Reason.WRONG_SUBJECT: Verdict.INVALID,
}


class ReportRejectedError(Exception):
    """A report the rules refuse; `detail` is safe to show (codes and dates, never personal data)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail

    @property
    def verdict(self) -> Verdict:
        return self.reason.verdict
