"""Scopes: the unit a measurement or report is about, and who may read it.

National (every dossier), a province, an agency or a post office. A clock is in a scope by its own
columns (turnaround_clock.province, agency_code, post_office_code); a nonconformity by its responsible
unit or province. Authorisation is one rule shared by the objectives, nonconformities and reports: an
operator reads every scope; an agency only its own agency scope; a post office only its own post office
scope (the authorisation matrix in tests/security lists the endpoints).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from services.shared.auth import Principal, Role


class ScopeKind(StrEnum):
    NATIONAL = "national"
    PROVINCE = "province"
    AGENCY = "agency"
    POST_OFFICE = "post_office"


_CODE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


class ScopeError(ValueError):
    """A scope that names no unit, or names one where none is allowed."""


@dataclass(frozen=True, order=True)
class Scope:
    kind: ScopeKind
    code: str = ""
    """The province, agency or post office code; empty for the national scope."""

    def __post_init__(self) -> None:
        if self.kind is ScopeKind.NATIONAL:
            if self.code:
                raise ScopeError("the national scope has no code")
        elif not _CODE.match(self.code):
            raise ScopeError(f"the {self.kind} scope needs a code of 1–32 letters, digits, '.', '_' or '-'")

    @classmethod
    def parse(cls, kind: str, code: str | None = None) -> Scope:
        try:
            scope_kind = ScopeKind(kind)
        except ValueError:
            raise ScopeError(f"scope {kind!r} is not one of {', '.join(ScopeKind)}") from None
        return cls(scope_kind, code or "")

    @property
    def name(self) -> str:
        return self.kind.value if self.kind is ScopeKind.NATIONAL else f"{self.kind}:{self.code}"

    def __str__(self) -> str:
        return self.name


NATIONAL = Scope(ScopeKind.NATIONAL)


def may_read(caller: Principal, scope: Scope) -> bool:
    """Operators read every scope; an agency its own; a post office its own."""
    if caller.role is Role.OPERATOR:
        return True
    if caller.role is Role.AGENCY:
        return scope.kind is ScopeKind.AGENCY and caller.agency is not None and scope.code == caller.agency
    if caller.role is Role.POST_OFFICE:
        return (
            scope.kind is ScopeKind.POST_OFFICE
            and caller.post_office is not None
            and scope.code == caller.post_office
        )
    return False


def own_scope(caller: Principal) -> Scope:
    """The scope a caller reads when it names none: an operator the nation, a unit itself."""
    if caller.role is Role.AGENCY and caller.agency is not None:
        return Scope(ScopeKind.AGENCY, caller.agency)
    if caller.role is Role.POST_OFFICE and caller.post_office is not None:
        return Scope(ScopeKind.POST_OFFICE, caller.post_office)
    return NATIONAL
