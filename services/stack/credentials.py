"""How a newcomer gets a credential for each role of the local run, printed when it starts.

With the local run's own signing key (generated into the work directory, good for this machine only), a
ready-made token per role is issued and registered, as `dossier-credentials issue` would. With a key
from DOSSIER_AUTH_SECRET the stack may share it with something that matters, so no token is made: the
exact command that issues one is printed instead. The key itself is never printed.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from services.shared.auth import Role, TokenSigner
from services.shared.auth.registry import CredentialRegistry
from services.shared.db.engine import make_engine
from services.simulator import geography

VALID_FOR = timedelta(days=1)
CLI = Path(sys.executable).with_name("dossier-credentials")


@dataclass(frozen=True)
class Holder:
    """One staff member of a role, bound to a simulated post office or agency so the data they see is
    the simulated day's."""

    title: str
    role: Role
    scope: str | None
    subject: str

    def arguments(self) -> list[str]:
        scope = ["--scope", self.scope] if self.scope else []
        return ["issue", "--role", self.role.value, *scope, "--subject", self.subject]


def holders() -> list[Holder]:
    office = geography.CAPITAL.post_offices[0]
    agency = geography.CAPITAL.agencies[0]
    return [
        Holder(f"post office {office.code}", Role.POST_OFFICE, office.code, "local-clerk-0001"),
        Holder(f"agency {agency.code}", Role.AGENCY, agency.code, "local-officer-0001"),
        Holder("operator", Role.OPERATOR, None, "local-operator-0001"),
    ]


def issue_command(holder: Holder, database_url: str, secret_file: Path | None = None) -> str:
    """The shell command that issues this holder's credential against the run's database, from any
    directory. With `secret_file` it reads the local key from there; else DOSSIER_AUTH_SECRET must be
    set in the shell, as it was for the run."""
    url = make_url(database_url)
    # A password stays out of the terminal: such a URL is taken from the shell, like the key.
    database = "" if url.password else f"DATABASE_URL={shlex.quote(database_url)} "
    secret = f'DOSSIER_AUTH_SECRET="$(cat {shlex.quote(str(secret_file))})" ' if secret_file else ""
    return secret + database + shlex.join([str(CLI), *holder.arguments()])


async def ready_made(database_url: str, secret: str, now: datetime) -> list[tuple[Holder, str]]:
    signer = TokenSigner(secret)
    engine = make_engine(database_url)
    registry = CredentialRegistry(engine)
    issued = []
    try:
        for holder in holders():
            principal, token = signer.issue(
                subject=holder.subject, role=holder.role, scope=holder.scope, now=now, valid_for=VALID_FOR
            )
            await registry.register(principal, issued_at=now, expires_at=now + VALID_FOR)
            issued.append((holder, token))
    finally:
        await engine.dispose()
    return issued


NOTIFICATIONS_SUBJECT = "notifications"
SERVICE_VALID_FOR = timedelta(days=30)
"""The notifications service's credential lives as long as a local run may stay up; each start issues
a fresh one."""


async def notifications_credential(database_url: str, secret: str, now: datetime | None = None) -> str:
    """The notifications service's own credential on the owners' contact APIs: a notifier's, subject
    `notifications`, as `dossier-credentials issue --role notifier --subject notifications` issues it, so
    its every read is audited under that subject."""
    moment = now or datetime.now(UTC)
    principal, token = TokenSigner(secret).issue(
        subject=NOTIFICATIONS_SUBJECT, role=Role.NOTIFIER, scope=None, now=moment, valid_for=SERVICE_VALID_FOR
    )
    engine = make_engine(database_url)
    try:
        await CredentialRegistry(engine).register(
            principal, issued_at=moment, expires_at=moment + SERVICE_VALID_FOR
        )
    finally:
        await engine.dispose()
    return token


async def credential_lines(
    database_url: str, secret: str, *, secret_file: Path | None, now: datetime | None = None
) -> list[str]:
    """`secret_file` is where the local run's own key lives, when it signs with that one; None when the
    key came from DOSSIER_AUTH_SECRET."""
    if secret_file is None:
        from_shell = (
            "DOSSIER_AUTH_SECRET and DATABASE_URL are"
            if make_url(database_url).password
            else "DOSSIER_AUTH_SECRET is"
        )
        return [
            "Credentials: DOSSIER_AUTH_SECRET is set, so none is ready-made; issue one per role (in a shell "
            f"where {from_shell} set as for this run):",
            *(f"  {h.title:<24} {issue_command(h, database_url)}" for h in holders()),
        ]
    moment = now or datetime.now(UTC)
    issued = await ready_made(database_url, secret, moment)
    operator = holders()[-1]
    return [
        f"Credentials, ready-made for this local stack only (its own key in {secret_file}), valid until "
        f"{moment + VALID_FOR:%Y-%m-%d %H:%M} UTC; send the header as shown:",
        *(f"  {h.title:<24} Authorization: Bearer {token}" for h, token in issued),
        "  issue more (another role, scope or subject; --days for longer):",
        f"  {issue_command(operator, database_url, secret_file)}",
    ]
