"""Operators issue, list and revoke credentials.

    python -m services.shared.auth.cli issue --role post_office --scope 100000 --subject clerk-0042
    python -m services.shared.auth.cli issue --role notifier --subject notifications
    python -m services.shared.auth.cli list
    python -m services.shared.auth.cli revoke <credential id>

The token is printed once, on issue, and stored nowhere: the registry keeps only its id and binding.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from services.shared.auth import cli_setup as setup
from services.shared.auth.registry import CredentialRegistry
from services.shared.auth.tokens import SCOPED_ROLES, Role, TokenSigner
from services.shared.db.engine import DEFAULT_URL, make_engine


async def _run(args: argparse.Namespace, signer: TokenSigner | None) -> int:
    engine = make_engine(args.database_url)
    registry = CredentialRegistry(engine)
    now = datetime.now(UTC)
    try:
        if args.command == "issue":
            assert signer is not None
            role = Role(args.role)
            if role in SCOPED_ROLES and not args.scope:
                print(
                    "issue: --scope (post office or agency code) is required for this role", file=sys.stderr
                )
                return 2
            valid_for = timedelta(days=args.days)
            principal, token = signer.issue(
                subject=args.subject,
                role=role,
                scope=args.scope if role in SCOPED_ROLES else None,
                now=now,
                valid_for=valid_for,
            )
            await registry.register(principal, issued_at=now, expires_at=now + valid_for)
            print(f"credential id: {principal.credential_id}", file=sys.stderr)
            print(token)
        elif args.command == "revoke":
            if not await registry.revoke(args.credential_id, now=now):
                print("revoke: no such active credential", file=sys.stderr)
                return 1
            print(f"revoked {args.credential_id}")
        else:
            for rec in await registry.list():
                state = "revoked" if rec.revoked_at else ("expired" if rec.expires_at <= now else "active")
                print(
                    f"{rec.credential_id}  {rec.role.value:<11}  {rec.scope or '-':<16}  {rec.subject:<20}  "
                    f"expires {rec.expires_at:%Y-%m-%d}  {state}"
                )
    finally:
        await engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dossier-credentials", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", DEFAULT_URL),
        help="the services' database (default: DATABASE_URL, else .work/dossier.db in this directory)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue", help="issue a credential and print its token once")
    issue.add_argument(
        "--role",
        required=True,
        choices=[r.value for r in Role],
        help="post_office, agency, operator, or notifier: the notifications service's, which only reads "
        "applicants' contacts for notifications (subject `notifications`)",
    )
    issue.add_argument("--scope", help="post office code (post_office) or agency code (agency)")
    issue.add_argument(
        "--subject", required=True, help="staff id of the holder, or the service's name (no personal names)"
    )
    issue.add_argument("--days", type=int, default=90)
    revoke = sub.add_parser("revoke", help="revoke a credential by id")
    revoke.add_argument("credential_id")
    sub.add_parser("list", help="list credentials (ids, bindings, state; never tokens)")
    args = parser.parse_args(argv)
    try:
        # Checked before anything is issued or the database touched.
        secret = os.environ.get("DOSSIER_AUTH_SECRET", "")
        signer = setup.signer(secret) if args.command == "issue" else None
        setup.check_database_url(args.database_url, Path.cwd())
        try:
            return asyncio.run(_run(args, signer))
        except DBAPIError as error:
            raise setup.database_failure(error, args.database_url) from None
    except setup.SetupError as error:
        print(f"dossier-credentials: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
