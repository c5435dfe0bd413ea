"""Value objects nested in several events."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.enums import CustodyHolderKind, DocumentForm
from contracts.events.base import PERSONAL_DATA
from contracts.values import ProvinceCode, Text, VnPhoneNumber

PhoneCheck = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
"""HMAC-SHA256(lookup key, "<dossier id>:<last four digits of the applicant's phone>"), lower-case hex: what
the tracker's public lookup checks a citizen's four digits against. Not personal data without the key,
which never leaves the services (DOSSIER_LOOKUP_KEY)."""


class Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)


class Address(Part):
    """A postal address in Vietnam. The street line is personal data; commune and province are not."""

    line: str = Field(min_length=1, max_length=300, json_schema_extra=PERSONAL_DATA)
    """House number, street, hamlet or village."""
    commune: str = Field(min_length=1, max_length=100)
    """Commune, ward or special zone (xã, phường, đặc khu)."""
    province_code: ProvinceCode
    """The province."""


class ApplicantContact(Part):
    """How to reach the applicant (personal data): stored only where needed."""

    name: str = Field(min_length=1, max_length=200, json_schema_extra=PERSONAL_DATA)
    """Full name of the citizen, or of the organisation's representative."""
    phone: VnPhoneNumber = Field(json_schema_extra=PERSONAL_DATA)
    """Phone number in national form."""
    address: Address = Field(json_schema_extra=PERSONAL_DATA)
    """Contact address; for forms SEND_AND_RECEIVE also where the result is delivered."""
    id_number: str | None = Field(
        default=None, min_length=6, max_length=20, pattern=r"^[0-9A-Z]+$", json_schema_extra=PERSONAL_DATA
    )
    """Number of the identity document (CCCD, passport), when the procedure needs it."""
    email: str | None = Field(
        default=None,
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        json_schema_extra=PERSONAL_DATA,
    )
    """E-mail address, when the applicant gives one (to be told by e-mail where the dossier stands)."""


class DocumentChecked(Part):
    """One document the clerk and the citizen checked against the procedure's published list."""

    name: Text
    """The document as named in the procedure catalog."""
    form: DocumentForm
    """Original, copy or certified copy."""
    count: int = Field(ge=1, le=99)
    """How many of it are in the package."""


class CustodyHolder(Part):
    """The party physically holding the dossier or result. A citizen has no code (personal data)."""

    kind: CustodyHolderKind
    code: str | None = Field(default=None, min_length=1, max_length=64)
    """Post office or facility postal code, courier staff id, or agency code; none for the citizen."""

    @model_validator(mode="after")
    def _code_names_the_holder(self) -> CustodyHolder:
        if self.kind is CustodyHolderKind.CITIZEN and self.code is not None:
            raise ValueError("a citizen holding the dossier is not identified by a code")
        if self.kind is not CustodyHolderKind.CITIZEN and self.code is None:
            raise ValueError(f"a custody holder of kind {self.kind.value} needs its code")
        return self
