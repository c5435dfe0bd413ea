"""What a role may reach before any service's own rules: the one place that keeps a service's credential
(role notifier, the notifications service's) to the one thing it needs.

Staff (post office, agency, operator) are people at work; each service's rules say what they may do
there, within their scope. A service role may do only what is listed here, and is refused by default:
an endpoint that is not a contact read refuses whatever is not staff (`staff_refusal`); the owners'
contact reads admit a service role for its one purpose (`contact_refusal`), on any dossier, each read
recorded in the owner's audit under the credential's subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from services.shared.auth.tokens import Principal, Role
from services.shared.personal_data.purposes import Purpose

STAFF_ROLES: Final = frozenset({Role.POST_OFFICE, Role.AGENCY, Role.OPERATOR})

CONTACT_PURPOSES: Final[Mapping[Role, Purpose]] = MappingProxyType({Role.NOTIFIER: Purpose.NOTIFICATIONS})
"""Each service role and the one purpose it reads applicants' contacts for; nothing else is open to it."""

NOT_STAFF_DOC = "a notifier credential (the notifications service's: it only reads contacts)"
"""How the OpenAPI documents name the refusal of a service role, after its reason."""


def staff_refusal(caller: Principal) -> str | None:
    """Why this caller may not use an endpoint that is for staff (a sentence safe to show), or None."""
    if caller.role in STAFF_ROLES:
        return None
    return f"a {caller.role} credential only reads applicants' contacts; this endpoint is for staff"


def contact_refusal(caller: Principal, purpose: Purpose) -> str | None:
    """Why this caller's role may not read a contact for `purpose` (a sentence safe to show), or None.

    None for staff too: the owner's own rules then decide (whose officers, which office's clerks)."""
    if caller.role in STAFF_ROLES:
        return None
    allowed = CONTACT_PURPOSES.get(caller.role)
    if allowed is None:
        return f"a {caller.role} credential may not read contacts"
    if purpose is not allowed:
        return f"a {caller.role} credential reads contacts for the purpose {allowed} only"
    return None


def reads_any_dossier(caller: Principal) -> bool:
    """Whether the caller's contact reads are bound to no post office or agency (operators, service
    roles), once admitted by `contact_refusal`."""
    return caller.role is Role.OPERATOR or caller.role in CONTACT_PURPOSES
