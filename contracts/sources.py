"""CloudEvents ``source`` values: the producer of an event, as a URI-reference without personal data."""

from __future__ import annotations

from contracts.values import parse_agency_code

TRACKER_SOURCE = "/tracker"
TURNAROUND_SOURCE = "/turnaround"


def post_office_source(post_office_code: str) -> str:
    """The source of events recorded by a post office, e.g. ``/post-offices/100000``."""
    return f"/post-offices/{post_office_code}"


def agency_source(agency_code: str) -> str:
    """The source of events recorded by an agency's desk, e.g. ``/agencies/000.00.01.H22``."""
    return f"/agencies/{parse_agency_code(agency_code)}"
