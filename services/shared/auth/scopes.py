"""Who among the staff may read a dossier: the one rule of the services' staff reads of one dossier (the
turnaround's clocks, the notifications' messages). The tracker applies the same rule to the parties it
records (services/tracker/lookups.may_see).

An operator reads every dossier; an agency's officer the dossiers addressed to their agency; a post
office's staff the dossiers their office handled — each service passes the offices it knows of: the
accepting office always, the handover and pickup offices where it records them. A caller outside the
rule is answered as if the dossier did not exist (404), so a dossier id reveals nothing.
"""

from __future__ import annotations

from collections.abc import Collection

from services.shared.auth.tokens import Principal, Role


def may_read_dossier(
    caller: Principal, *, agency_code: str | None, post_offices: Collection[str | None]
) -> bool:
    if caller.role is Role.OPERATOR:
        return True
    if caller.role is Role.AGENCY:
        return caller.agency is not None and agency_code == caller.agency
    if caller.role is Role.POST_OFFICE:
        return caller.post_office is not None and caller.post_office in post_offices
    return False
