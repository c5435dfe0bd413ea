"""The operator's command for a person's rights: asks every service that holds personal data over HTTP
and prints one merged answer (JSON).

    dossier-privacy access --phone 0912345678
    dossier-privacy access --id-number 001085012345
    dossier-privacy erase --phone 0912345678 | --id-number … | --dossier <dossier id>

Every service answers and audits the request itself (who: the operator credential's subject), so the
command keeps no record of its own. Settings (environment): DOSSIER_PRIVACY_POST_OFFICE_URL (default
http://127.0.0.1:8001), DOSSIER_PRIVACY_AGENCY_URL (default http://127.0.0.1:8002), and an operator
credential (`dossier-credentials issue --role operator`) in DOSSIER_OPERATOR_TOKEN or in the file named by
DOSSIER_OPERATOR_TOKEN_FILE. A service that does not answer 200 is named on stderr and in ``failed``, and
the command exits 1: an operator never takes a partial answer for the whole.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

OWNERS: dict[str, tuple[str, str, str]] = {
    # service: (URL setting, default URL, path prefix of its API)
    "post_office": ("DOSSIER_PRIVACY_POST_OFFICE_URL", "http://127.0.0.1:8001", "/v1"),
    "agency": ("DOSSIER_PRIVACY_AGENCY_URL", "http://127.0.0.1:8002", ""),
}
PATHS = {"access": "/personal-data/access-requests", "erase": "/personal-data/erasure-requests"}
TIMEOUT_S = 30.0


class TokenMissingError(RuntimeError):
    pass


def operator_token() -> str:
    token = os.environ.get("DOSSIER_OPERATOR_TOKEN", "").strip()
    if token:
        return token
    named = os.environ.get("DOSSIER_OPERATOR_TOKEN_FILE", "").strip()
    if named:
        path = Path(named)
        if not path.is_file():
            raise TokenMissingError(f"DOSSIER_OPERATOR_TOKEN_FILE names {path}, which does not exist")
        return path.read_text().strip()
    raise TokenMissingError(
        "set DOSSIER_OPERATOR_TOKEN (or DOSSIER_OPERATOR_TOKEN_FILE) to an operator credential "
        "(dossier-credentials issue --role operator)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dossier-privacy", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    access = commands.add_parser("access", help="what every service holds about a person")
    erase = commands.add_parser("erase", help="erase what every service holds about a person")
    for sub, choices in ((access, ("phone", "id_number")), (erase, ("phone", "id_number", "dossier"))):
        group = sub.add_mutually_exclusive_group(required=True)
        for field in choices:
            group.add_argument(f"--{field.replace('_', '-')}", dest=field)
    return parser


def _failure(response: httpx.Response) -> str:
    try:
        reason = response.json().get("reason", "")
    except ValueError:
        reason = ""
    return f"{response.status_code} {reason}".strip()


async def _ask(
    command: str, body: dict[str, str], token: str, transport: httpx.AsyncBaseTransport | None
) -> tuple[dict[str, Any], dict[str, str]]:
    answers: dict[str, Any] = {}
    failed: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=TIMEOUT_S, transport=transport) as client:

        async def one(service: str) -> None:
            setting, default, prefix = OWNERS[service]
            url = os.environ.get(setting, default).rstrip("/") + prefix + PATHS[command]
            try:
                response = await client.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                failed[service] = f"unreachable ({type(exc).__name__})"
                return
            if response.status_code != 200:
                failed[service] = _failure(response)
                return
            answers[service] = response.json()

        await asyncio.gather(*(one(service) for service in OWNERS))
    return answers, failed


def merged(command: str, answers: dict[str, Any], failed: dict[str, str]) -> dict[str, Any]:
    """One answer: every service's records (or erasures) together, each naming its service."""
    out: dict[str, Any] = {
        "request": command,
        "requests": {service: answer["request_id"] for service, answer in answers.items()},
        "failed": failed,
    }
    if command == "access":
        out["records"] = [r for answer in answers.values() for r in answer["records"]]
    else:
        out["erased"] = [e for answer in answers.values() for e in answer["erased"]]
        out["already_erased"] = [r for answer in answers.values() for r in answer["already_erased"]]
    return out


def main(argv: Sequence[str] | None = None, *, transport: httpx.AsyncBaseTransport | None = None) -> int:
    args = _parser().parse_args(argv)
    body = {
        field: value
        for field in ("phone", "id_number", "dossier")
        if (value := getattr(args, field, None)) is not None
    }
    try:
        token = operator_token()
    except TokenMissingError as exc:
        print(f"dossier-privacy: {exc}", file=sys.stderr)
        return 2
    answers, failed = asyncio.run(_ask(args.command, body, token, transport))
    print(json.dumps(merged(args.command, answers, failed), ensure_ascii=False, indent=2, sort_keys=True))
    for service, why in sorted(failed.items()):
        print(f"dossier-privacy: {service} did not answer the request: {why}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
