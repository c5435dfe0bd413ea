"""Version 1 events that carried the applicant's contact, turned into their version 2 form.

A v1 ``postal.dossier_accepted``, ``agency.dossier_registered_for_return`` or ``postal.delivery_failed``
(its courier's note) stays on its topic until the
topic's retention ends (contracts/README.md, "Personal data"): a consumer that replays it passes it
through ``upcast`` and handles version 2 only. The phone's digest is made from the plain phone, as the
producers make it from the vaulted one; ``held_by`` says only the old event itself holds the contact.
Every other event comes back unchanged.
"""

from __future__ import annotations

from typing import Any

from contracts.enums import PersonalDataHolder
from contracts.envelope import Envelope, dataschema_uri
from contracts.events import (
    DeliveryFailed,
    DeliveryFailedV2,
    DossierAccepted,
    DossierAcceptedV2,
    DossierRegisteredForReturn,
    DossierRegisteredForReturnV2,
    Event,
)
from services.shared.personal_data.phone_check import PhoneDigest


def upcast(
    envelope: Envelope[Any], digest: PhoneDigest, held_by: PersonalDataHolder = PersonalDataHolder.EVENT_V1
) -> Envelope[Event]:
    """``held_by``: EVENT_V1 for a consumer reading an old event; the agency, which vaults a v1
    registration from an agency system before republishing it, says it holds the data itself."""
    data = envelope.data
    upcasted: Event
    if isinstance(data, DossierAccepted):
        upcasted = DossierAcceptedV2(
            **data.model_dump(exclude={"type", "version", "applicant"}),
            held_by=held_by,
            phone_check=digest.of_phone(envelope.subject, data.applicant.phone),
        )
    elif isinstance(data, DossierRegisteredForReturn):
        upcasted = DossierRegisteredForReturnV2(
            **data.model_dump(exclude={"type", "version", "applicant", "delivery_address"}),
            held_by=held_by,
            phone_check=digest.of_phone(envelope.subject, data.applicant.phone),
        )
    elif isinstance(data, DeliveryFailed):
        # The note of an old event has no holder but the event: its presence is all version 2 says.
        upcasted = DeliveryFailedV2(
            **data.model_dump(exclude={"type", "version", "note"}), note_held=data.note is not None
        )
    else:
        return envelope
    # model_copy keeps the envelope as decoded (id, time, source, subject): the upcast event is the same
    # fact, only its data is read in the newer shape.
    return envelope.model_copy(
        update={
            "dataschema": dataschema_uri(upcasted.type, upcasted.version),
            "schemaversion": upcasted.version,
            "data": upcasted,
        }
    )
