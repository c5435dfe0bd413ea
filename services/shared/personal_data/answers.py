"""What the staff APIs answer about personal data reads (the audit), the same in every owning service."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from contracts.values import AwareTime, DossierId
from services.shared.personal_data.audit import Read

MAX_LISTED_READS = 1000


class PersonalDataRead(BaseModel):
    """One read of a dossier's contact on a staff API."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    dossier_id: DossierId
    purpose: str
    reader: str
    """The subject of the credential that read it."""
    role: str
    read_at: AwareTime


class PersonalDataReads(BaseModel):
    """The reads, newest first (at most 1,000)."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    reads: list[PersonalDataRead]

    @classmethod
    def of(cls, rows: Sequence[Read]) -> PersonalDataReads:
        return cls(
            reads=[
                PersonalDataRead(
                    dossier_id=r.dossier_id,
                    purpose=r.purpose,
                    reader=r.reader,
                    role=r.role,
                    read_at=r.read_at,
                )
                for r in rows
            ]
        )
