"""Why a service keeps a piece of personal data: each record names its purposes, each read names one."""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    RESULT_DELIVERY = "result_delivery"
    """Carrying the result to the applicant's address (forms SEND_AND_RECEIVE, RECEIVE_RESULT)."""
    NOTIFICATIONS = "notifications"
    """Telling the applicant where the dossier stands (the notifications service)."""
    DISPUTE = "dispute"
    """Answering a complaint in the window after delivery."""
