"""Staff reading back a registration's contact and delivery address from the agency's vault, for a
stated purpose; every read appended to the audit, which operators list.

Who may read: an officer of the agency the dossier is addressed to, operators, and the notifications
service for its purpose (the API admits it: services/shared/auth/access.py). For `notifications`
the answer holds the contact only; for `result_delivery` the delivery address too. An erased record
answers ``erased`` (200), never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import Address, ApplicantContact
from contracts.values import AwareTime, DossierId
from services.agency.adapters.tables import personal_data_tables
from services.agency.domain import DossierRef
from services.agency.handlers import AgencyDesk
from services.agency.personal_data import APPLICANT, DELIVERY_ADDRESS
from services.shared.auth import Principal
from services.shared.auth.access import reads_any_dossier
from services.shared.personal_data import audit
from services.shared.personal_data.answers import MAX_LISTED_READS, PersonalDataReads
from services.shared.personal_data.purposes import Purpose
from services.shared.personal_data.vault import Erased, Held, Vault


class RegistrationContact(BaseModel):
    """The citizen's contact (and, for result delivery, the delivery address), or the tombstone."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    dossier_id: DossierId
    purpose: Purpose
    """The purpose this read was made and recorded for."""
    erased: bool
    """True when the personal data was erased: only when and why are left."""
    erased_at: AwareTime | None = None
    reason: str | None = None
    """Why it was erased."""
    contact: ApplicantContact | None = None
    """The contact (personal data); none once erased."""
    delivery_address: Address | None = None
    """Where the result goes (personal data), for purpose result_delivery only; none once erased."""


class NotHeldError(Exception):
    """No personal data of this dossier is in the vault, or none for this purpose."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class ContactReads:
    def __init__(
        self, engine: AsyncEngine, desk: AgencyDesk, vault: Vault, clock: Callable[[], datetime]
    ) -> None:
        self._engine = engine
        self._desk = desk
        self._vault = vault
        self._clock = clock

    async def contact(self, caller: Principal, ref: DossierRef, purpose: Purpose) -> RegistrationContact:
        """Raises ReportRejectedError (unknown dossier, another agency), NotHeldError, or the vault's
        UnknownKeyIdError / SealBrokenError for this dossier's records."""
        scope = None if reads_any_dossier(caller) else (caller.agency or "").strip().upper()
        dossier = await self._desk.view(ref, scope)
        async with self._engine.begin() as conn:
            contact = await self._vault.read(conn, dossier.dossier_id, APPLICANT)
            if contact is None:
                raise NotHeldError(
                    "personal_data_not_held",
                    "the agency holds no contact of this dossier: only registrations for return by "
                    "post collect one",
                )
            if isinstance(contact, Held) and purpose not in contact.purposes:
                raise NotHeldError(
                    "purpose_not_allowed", f"the contact was collected for {', '.join(contact.purposes)} only"
                )
            address = None
            if purpose is Purpose.RESULT_DELIVERY:
                address = await self._vault.read(conn, dossier.dossier_id, DELIVERY_ADDRESS)
            await audit.record_read(
                conn,
                personal_data_tables,
                dossier_id=dossier.dossier_id,
                purpose=purpose.value,
                reader=caller.subject,
                role=caller.role.value,
                at=self._clock(),
            )
        if isinstance(contact, Erased):
            return RegistrationContact(
                dossier_id=dossier.dossier_id,
                purpose=purpose,
                erased=True,
                erased_at=contact.at,
                reason=contact.reason,
            )
        return RegistrationContact(
            dossier_id=dossier.dossier_id,
            purpose=purpose,
            erased=False,
            contact=ApplicantContact.model_validate(contact.data),
            delivery_address=Address.model_validate(address.data) if isinstance(address, Held) else None,
        )

    async def reads(self, dossier_id: str | None) -> PersonalDataReads:
        async with self._engine.connect() as conn:
            rows = await audit.reads(conn, personal_data_tables, dossier_id, MAX_LISTED_READS)
        return PersonalDataReads.of(rows)
