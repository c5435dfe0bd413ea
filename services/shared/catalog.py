"""The procedure catalog: what each administrative procedure needs and how long the agency may take.

The seed data is deploy/catalog/procedures.yaml, edited by people; `load_catalog` refuses a malformed
file with messages that name the entry (index and code) and the field, so a typo never reaches a
running service. `Catalog.missing_documents` is what the counter uses to refuse an incomplete dossier.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.shared.calendar import data_file, validation_messages

CATALOG_ENV = "DOSSIER_CATALOG"
DEFAULT_CATALOG = Path("deploy/catalog/procedures.yaml")

# Codes of the national procedure database: one digit, a dot, six digits (e.g. 1.001193).
PROCEDURE_CODE_PATTERN = r"^\d\.\d{6}$"

AgencyLevel = Literal["central", "province", "commune"]
DocumentForm = Literal["original", "copy"]


class CatalogError(ValueError):
    """The catalog is unreadable or malformed; the message names every bad entry and field."""


class UnknownProcedureError(KeyError):
    """No procedure with this code in the catalog."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Target(_Strict):
    """The agency's processing target (thời hạn giải quyết), counted from the filing day.

    working_days: N working days after the filing day; hours: N office hours (see
    calendar.agency_due_at); same_day: the result is due on the filing day itself.
    """

    kind: Literal["working_days", "hours", "same_day"]
    working_days: int | None = Field(default=None, ge=0)
    hours: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_amount_for_the_kind(self) -> Self:
        amounts = {"working_days": self.working_days, "hours": self.hours}
        if self.kind in amounts and amounts[self.kind] is None:
            raise ValueError(f"kind {self.kind} needs {self.kind}")
        extra = [name for name, value in amounts.items() if name != self.kind and value is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} does not apply to kind {self.kind}")
        return self


class RequiredDocument(_Strict):
    """A document of the published list (thành phần hồ sơ): name, original or copy, how many."""

    name: str = Field(min_length=1)
    form: DocumentForm
    count: int = Field(default=1, ge=1)
    # "(nếu có)" documents apply only in some cases; the clerk judges them, the check does not.
    conditional: bool = False


class SubmittedDocument(_Strict):
    """A document the citizen hands over at the counter."""

    name: str = Field(min_length=1)
    form: DocumentForm
    count: int = Field(default=1, ge=1)


class Procedure(_Strict):
    """One administrative procedure (thủ tục hành chính) of the national procedure database."""

    code: str
    name: str = Field(min_length=1)
    field: str = Field(min_length=1)  # lĩnh vực, as published (Vietnamese)
    field_key: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)  # stable metric label
    agency_level: AgencyLevel
    target: Target
    by_post: bool
    not_by_post_reason: str | None = None
    legal_basis: str | None = None
    documents: tuple[RequiredDocument, ...] = Field(min_length=1)

    @field_validator("code")
    @classmethod
    def _code_format(cls, value: str) -> str:
        if not re.fullmatch(PROCEDURE_CODE_PATTERN, value):
            raise ValueError(f"{value!r} is not a procedure code like 1.001193 (digit, dot, six digits)")
        return value

    @model_validator(mode="after")
    def _reason_when_not_by_post(self) -> Self:
        if not self.by_post and not self.not_by_post_reason:
            raise ValueError("not_by_post_reason is required when by_post is false")
        if self.by_post and self.not_by_post_reason:
            raise ValueError("not_by_post_reason only applies when by_post is false")
        return self


class Catalog:
    """The loaded catalog, indexed by procedure code."""

    def __init__(self, procedures: Iterable[Procedure]) -> None:
        self.procedures = tuple(procedures)
        self._by_code = {p.code: p for p in self.procedures}

    def __len__(self) -> int:
        return len(self.procedures)

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self.procedures)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Procedure:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownProcedureError(f"no procedure {code!r} in the catalog") from None

    def missing_documents(
        self, code: str, submitted: Iterable[SubmittedDocument]
    ) -> tuple[RequiredDocument, ...]:
        """The required documents (with the missing count) that `submitted` does not cover.

        Names match ignoring case, Unicode normal form and spacing. An original also covers a required
        copy of the same document (the agency can copy it), a copy never covers an original.
        Conditional documents ("nếu có") are left to the clerk and never reported.
        """
        have: dict[tuple[str, str], int] = {}
        for item in submitted:
            key = (_normalise(item.name), item.form)
            have[key] = have.get(key, 0) + item.count
        required = [d for d in self.get(code).documents if not d.conditional]
        short: dict[int, int] = {}
        # Originals first, so that only originals left over go towards required copies.
        for i, doc in enumerate(required):
            if doc.form == "original":
                short[i] = _take(have, (_normalise(doc.name), "original"), doc.count)
        for i, doc in enumerate(required):
            if doc.form == "copy":
                name = _normalise(doc.name)
                short[i] = _take(have, (name, "original"), _take(have, (name, "copy"), doc.count))
        return tuple(doc.model_copy(update={"count": short[i]}) for i, doc in enumerate(required) if short[i])


def _take(have: dict[tuple[str, str], int], key: tuple[str, str], wanted: int) -> int:
    """Consume up to `wanted` from `have[key]`; return how many are still missing."""
    used = min(have.get(key, 0), wanted)
    have[key] = have.get(key, 0) - used
    return wanted - used


def _normalise(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


# --------------------------------------------------------------------------- loading


def parse_catalog(raw: object, source: str = "catalog") -> Catalog:
    """Validate parsed YAML; raise CatalogError listing every problem as `procedures[i] (code).field`."""
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{source}: top level must be a mapping with the key 'procedures'")
    errors = [f"{key}: unknown key (expected 'procedures')" for key in raw if key != "procedures"]
    entries = raw.get("procedures")
    if not isinstance(entries, list) or not entries:
        errors.append("procedures: must be a non-empty list of procedures")
        raise CatalogError(f"{source}: " + "; ".join(errors))
    procedures: list[Procedure] = []
    first_index: dict[str, int] = {}
    field_names: dict[str, tuple[str, int]] = {}
    for index, entry in enumerate(entries):
        code = entry.get("code") if isinstance(entry, Mapping) else None
        where = f"procedures[{index}]" + (f" ({code})" if isinstance(code, str) else "")
        if not isinstance(entry, Mapping):
            errors.append(f"{where}: must be a mapping")
            continue
        try:
            procedure = Procedure.model_validate(entry)
        except ValidationError as exc:
            errors.extend(validation_messages(where, exc))
            continue
        if procedure.code in first_index:
            errors.append(f"{where}.code: duplicate of procedures[{first_index[procedure.code]}]")
            continue
        first_index[procedure.code] = index
        # The key becomes a metric label: one key must always mean the same field.
        known = field_names.setdefault(procedure.field_key, (procedure.field, index))
        if known[0] != procedure.field:
            errors.append(
                f"{where}.field_key: {procedure.field_key!r} already names field {known[0]!r} "
                f"in procedures[{known[1]}]"
            )
            continue
        procedures.append(procedure)
    if errors:
        raise CatalogError(f"{source}: " + "; ".join(errors))
    return Catalog(procedures)


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Read the catalog (default: $DOSSIER_CATALOG or deploy/catalog/procedures.yaml)."""
    file = Path(path) if path is not None else data_file(CATALOG_ENV, DEFAULT_CATALOG)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"{file}: cannot read the procedure catalog: {exc}") from exc
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError on impossible dates
        raise CatalogError(f"{file}: not valid YAML: {exc}") from exc
    return parse_catalog(raw, source=str(file))
