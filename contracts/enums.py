"""Closed vocabularies shared by several events. Values are the upper-case member names, as on the wire.

Adding a member is a compatible change; removing or renaming one is breaking (see contracts.compat).
"""

from __future__ import annotations

from enum import StrEnum


class ServiceForm(StrEnum):
    """The public-post service the citizen chose (Decision 45/2016/QĐ-TTg, Art. 5)."""

    SEND_DOSSIER = "SEND_DOSSIER"
    RECEIVE_RESULT = "RECEIVE_RESULT"
    SEND_AND_RECEIVE = "SEND_AND_RECEIVE"


class AcceptanceChannel(StrEnum):
    """Where the post office accepted the dossier: at its counter or at the citizen's address."""

    COUNTER = "COUNTER"
    AT_ADDRESS = "AT_ADDRESS"


class FilingChannel(StrEnum):
    """How a dossier reached the agency without the post: filed in person at the desk, or online."""

    IN_PERSON = "IN_PERSON"
    ONLINE = "ONLINE"


class RouteClass(StrEnum):
    """The route of a postal leg, which selects its J+n limit in the configurable time-limit table.

    Defaults (Circular 17/2017/TT-BTTTT): LOCAL J+1 (within one commune, formerly district),
    INTRA_PROVINCIAL J+2, BETWEEN_MAJOR_CITIES J+3 (special-class and class-I cities),
    INTER_PROVINCIAL J+4.
    """

    LOCAL = "LOCAL"
    INTRA_PROVINCIAL = "INTRA_PROVINCIAL"
    BETWEEN_MAJOR_CITIES = "BETWEEN_MAJOR_CITIES"
    INTER_PROVINCIAL = "INTER_PROVINCIAL"


class DocumentForm(StrEnum):
    """Whether a document in the dossier is the original, a plain copy or a certified copy."""

    ORIGINAL = "ORIGINAL"
    COPY = "COPY"
    CERTIFIED_COPY = "CERTIFIED_COPY"


class ItemKind(StrEnum):
    """What a postal item carries: the dossier, a supplement to it, or the result (or refusal)."""

    DOSSIER = "DOSSIER"
    SUPPLEMENT = "SUPPLEMENT"
    RESULT = "RESULT"


class TransitDirection(StrEnum):
    """Whether a transit scan recorded the item leaving or reaching a postal facility."""

    DEPARTED = "DEPARTED"
    ARRIVED = "ARRIVED"


class DeliveryFailureReason(StrEnum):
    """Why a delivery attempt of a result did not hand it over."""

    NOT_AT_HOME = "NOT_AT_HOME"
    REFUSED = "REFUSED"
    ADDRESS_NOT_FOUND = "ADDRESS_NOT_FOUND"
    IDENTITY_NOT_VERIFIED = "IDENTITY_NOT_VERIFIED"
    OTHER = "OTHER"


class RecipientKind(StrEnum):
    """Who received a result: the applicant, or a proxy holding a written authorisation."""

    APPLICANT = "APPLICANT"
    AUTHORISED_PROXY = "AUTHORISED_PROXY"


class IdDocumentType(StrEnum):
    """The identity document the courier checked on delivery (CCCD is the citizen identity card)."""

    CCCD = "CCCD"
    PASSPORT = "PASSPORT"
    OTHER = "OTHER"


class Outcome(StrEnum):
    """The agency's decision on the dossier."""

    APPROVED = "APPROVED"
    DENIED = "DENIED"


class Stage(StrEnum):
    """Where a dossier is in its journey, as the tracker shows it."""

    ACCEPTED = "ACCEPTED"
    IN_TRANSIT = "IN_TRANSIT"
    HANDED_TO_AGENCY = "HANDED_TO_AGENCY"
    RECEIVED = "RECEIVED"
    REFUSED = "REFUSED"
    AWAITING_SUPPLEMENT = "AWAITING_SUPPLEMENT"
    PROCESSING = "PROCESSING"
    WITHDRAWN = "WITHDRAWN"
    RESULT_READY = "RESULT_READY"
    RESULT_PICKED_UP = "RESULT_PICKED_UP"
    RESULT_IN_TRANSIT = "RESULT_IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    DELIVERED = "DELIVERED"
    RETURNED_TO_AGENCY = "RETURNED_TO_AGENCY"
    LOST = "LOST"
    CLOSED = "CLOSED"
    """Closed by the agency: the supplement it asked for never came (Decree 118/2025 Art. 19(5)), or an
    officer closed it with a reason. Final; the history is kept."""


class NotificationChannel(StrEnum):
    """A channel the applicant agreed to be told on where the dossier stands (chosen at intake)."""

    EMAIL = "EMAIL"
    SMS = "SMS"
    ZALO = "ZALO"
    """A Zalo ZNS message to the applicant's phone number."""


class CustodyHolderKind(StrEnum):
    """The kind of party physically holding the dossier or result."""

    POST_OFFICE = "POST_OFFICE"
    POSTAL_FACILITY = "POSTAL_FACILITY"
    COURIER = "COURIER"
    AGENCY = "AGENCY"
    CITIZEN = "CITIZEN"


class Leg(StrEnum):
    """A timed part of the journey, each with its own legal clock."""

    INBOUND_POSTAL = "INBOUND_POSTAL"
    AGENCY_PROCESSING = "AGENCY_PROCESSING"
    RETURN_POSTAL = "RETURN_POSTAL"


class SupplementBreach(StrEnum):
    """How a supplement request breaks the rules in force (Decree 118/2025 Art. 16(3), Art. 19(5)): it is
    still recorded, since the citizen was asked, and flagged with each reason that applies."""

    SECOND_SUPPLEMENT_REQUEST = "second_supplement_request"
    """More requests on the dossier than the rules allow (one)."""
    LATE_SUPPLEMENT_REQUEST = "late_supplement_request"
    """Made after the window from the receipt (3 working days)."""


class ClosureReason(StrEnum):
    """Why the agency closed a dossier (a closed set: it is a metric label and a problem's vocabulary)."""

    SUPPLEMENT_NOT_COMPLETED = "supplement_not_completed"
    """The closure period after the supplement request ended without the supplement (Decree 118/2025
    Art. 19(5): 15 days after the notice); published by the agency service itself."""
    SUPPLEMENT_DECLINED = "supplement_declined"
    """The applicant told the desk they will not complete the dossier (an officer's closure)."""
    OTHER = "other"
    """Any other reason an officer gives, written in the event's ``note`` (no personal data)."""


class PersonalDataHolder(StrEnum):
    """Who holds a dossier's personal data, which events of version 2 no longer carry."""

    POST_OFFICE = "POST_OFFICE"
    """The post office that accepted the dossier keeps the applicant's contact in its vault."""
    AGENCY = "AGENCY"
    """The agency that registered the dossier keeps the contact and delivery address in its vault."""
    EVENT_V1 = "EVENT_V1"
    """Only the version 1 event itself carries it (an upcast old event; never published)."""


class ErasureReason(StrEnum):
    """Why personal data was erased from a vault."""

    RETENTION = "retention"
    """Every purpose it was kept for has ended (its retention, in the owner's settings)."""
    REQUEST = "request"
    """The person asked for its erasure (an operator recorded the request)."""
