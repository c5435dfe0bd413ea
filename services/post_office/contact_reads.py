"""Staff reading an applicant's contact back from the post office's vault, for a stated purpose; every
read appended to the audit (who, when, which dossier, which purpose), which operators list.

Who may read: a clerk of a post office that holds one of the dossier's items (the accepting office, the
office that picked up its result), operators, and the notifications service for its purpose (the API
admits it: services/shared/auth/access.py). An erased contact answers ``erased`` (200), never an
error; a contact sealed under a KEK the service does not hold is a problem for that dossier only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.events import ApplicantContact
from contracts.values import AwareTime, DossierId, dossier_id_for_item
from services.post_office.adapters.tables import personal_data_tables, post_office_item
from services.post_office.domain import Reason, RefusedError, Verdict
from services.post_office.handlers import APPLICANT
from services.shared.auth import Principal, Role
from services.shared.personal_data import audit
from services.shared.personal_data.answers import MAX_LISTED_READS, PersonalDataReads
from services.shared.personal_data.purposes import Purpose
from services.shared.personal_data.vault import Erased, Vault


class ContactAnswer(BaseModel):
    """The applicant's contact as collected, or the tombstone of an erased one."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    dossier_id: DossierId
    purpose: Purpose
    """The purpose this read was made and recorded for."""
    erased: bool
    """True when the contact was erased: only when and why are left."""
    erased_at: AwareTime | None = None
    reason: str | None = None
    """Why it was erased (the person's request, the end of its retention)."""
    contact: ApplicantContact | None = None
    """The contact (personal data); none once erased."""


class NotAllowedError(Exception):
    """The caller may not read this dossier's contact (reason: a RequestReason value)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class ContactReads:
    def __init__(self, engine: AsyncEngine, vault: Vault, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._vault = vault
        self._clock = clock

    async def contact(self, caller: Principal, item_id: str, purpose: Purpose) -> ContactAnswer:
        """Raises RefusedError (unknown item), NotAllowedError, or the vault's UnknownKeyIdError /
        SealBrokenError for this dossier's record."""
        async with self._engine.begin() as conn:
            offices = await _offices_of(conn, item_id)
            if not offices:
                raise RefusedError(
                    Verdict.UNKNOWN, Reason.UNKNOWN_ITEM, f"item {item_id} was never accepted by the post"
                )
            if caller.role is Role.POST_OFFICE and caller.post_office not in offices:
                raise NotAllowedError(
                    "wrong_post_office",
                    f"post office {caller.post_office} holds none of this dossier's items",
                )
            dossier_id = dossier_id_for_item(item_id)
            record = await self._vault.read(conn, dossier_id, APPLICANT)
            if record is None:
                raise NotAllowedError(
                    "personal_data_not_held",
                    "the post office holds no contact of this dossier (one accepted before the vault "
                    "existed has it only in its version 1 event)",
                )
            if not isinstance(record, Erased) and purpose not in record.purposes:
                raise NotAllowedError(
                    "purpose_not_allowed",
                    f"the contact was collected for {', '.join(record.purposes)} only",
                )
            await audit.record_read(
                conn,
                personal_data_tables,
                dossier_id=dossier_id,
                purpose=purpose.value,
                reader=caller.subject,
                role=caller.role.value,
                at=self._clock(),
            )
        if isinstance(record, Erased):
            return ContactAnswer(
                dossier_id=dossier_id, purpose=purpose, erased=True, erased_at=record.at, reason=record.reason
            )
        return ContactAnswer(
            dossier_id=dossier_id,
            purpose=purpose,
            erased=False,
            contact=ApplicantContact.model_validate(record.data),
        )

    async def reads(self, dossier: str | None) -> PersonalDataReads:
        """The audit, newest first; ``dossier`` is a dossier id or its inbound item id."""
        dossier_id = None if dossier is None else dossier_id_of(dossier)
        async with self._engine.connect() as conn:
            rows = await audit.reads(conn, personal_data_tables, dossier_id, MAX_LISTED_READS)
        return PersonalDataReads.of(rows)


def dossier_id_of(reference: str) -> str:
    """A dossier id, or the dossier id of an inbound item id; ValueError for anything else."""
    try:
        return str(uuid.UUID(reference))
    except ValueError:
        return dossier_id_for_item(reference)  # ValueError naming what is wrong with the item id


async def _offices_of(conn: AsyncConnection, item_id: str) -> set[str]:
    """The post offices holding the dossier item or a result item of it."""
    t = post_office_item
    rows = await conn.execute(
        select(t.c.post_office_code).where(or_(t.c.item_id == item_id, t.c.dossier_item_id == item_id))
    )
    return set(rows.scalars())
