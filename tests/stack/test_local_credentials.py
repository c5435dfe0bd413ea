"""What the local run prints at start so a newcomer can call the APIs: for the post office, agency and
operator roles, a ready-made token when the stack signs with its own local key, else the exact command
that issues one. Like test_local_run.py, no broker and no service process: the supervisor's step runs
against a migrated SQLite database, and each printed command is run as printed."""

from __future__ import annotations

import io
import os
import re
import subprocess
from pathlib import Path

import pytest

from services.shared.auth import Principal, Role, TokenSigner
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.registry import CredentialRegistry
from services.shared.db import migrate
from services.shared.db.engine import make_engine
from services.simulator.settings import SimulatorSettings
from services.stack.credentials import credential_lines, notifications_credential
from services.stack.settings import StackSettings
from services.stack.supervisor import Supervisor, ensure_auth_secret

CONFIGURED = "a-configured-signing-key-of-forty-bytes!!"
EXPECTED = {Role.POST_OFFICE: "100000", Role.AGENCY: "000.00.00.G12", Role.OPERATOR: None}


@pytest.fixture
async def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dossier.db'}"
    await migrate.upgrade_async(url)
    return url


async def announced(tmp_path: Path, database: str, configured: str) -> tuple[str, str]:
    """What the supervisor prints at start, and the key the services sign with."""
    out = io.StringIO()
    supervisor = Supervisor(
        settings=StackSettings.model_validate(
            {"work_dir": tmp_path / "work", "DATABASE_URL": database, "DOSSIER_AUTH_SECRET": configured}
        ),
        simulator=SimulatorSettings(),
        simulate=False,
        prometheus=False,
        out=out,
    )
    secret = ensure_auth_secret(configured, tmp_path / "work" / "auth_secret")
    await supervisor.announce_credentials(secret)
    return out.getvalue(), secret


async def authenticate(database: str, secret: str, token: str) -> Principal:
    engine = make_engine(database)
    try:
        return await Authenticator(TokenSigner(secret), CredentialRegistry(engine)).authenticate(
            f"Bearer {token}"
        )
    finally:
        await engine.dispose()


def run_as_printed(printed_commands: list[str], cwd: Path, **env: str) -> list[str]:
    """Runs printed commands, side by side, each in a shell that has only what the run's own shell
    would have; returns what each printed."""
    base = {k: v for k, v in os.environ.items() if k not in {"DOSSIER_AUTH_SECRET", "DATABASE_URL"}}
    running = [
        subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env={**base, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in printed_commands
    ]
    outputs = []
    for process in running:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        outputs.append(out.strip())
    return outputs


def commands(printed: str) -> list[str]:
    return re.findall(
        r"((?:DOSSIER_AUTH_SECRET|DATABASE_URL)=\S+ .*dossier-credentials issue .*)$", printed, re.M
    )


async def test_with_its_own_key_the_local_run_prints_a_working_token_for_each_role(
    tmp_path: Path, database: str
) -> None:
    printed, secret = await announced(tmp_path, database, configured="")

    tokens = re.findall(r"Bearer (\S+)$", printed, re.M)
    assert len(tokens) == 3, printed
    principals = [await authenticate(database, secret, token) for token in tokens]
    assert {p.role: p.scope for p in principals} == EXPECTED
    assert "local stack only" in printed
    # And how to issue more, runnable as printed from anywhere.
    (more,) = commands(printed)
    (token,) = run_as_printed([more], cwd=tmp_path)
    assert (await authenticate(database, secret, token)).role is Role.OPERATOR


async def test_with_a_configured_key_the_local_run_prints_the_command_for_each_role_and_no_token(
    tmp_path: Path, database: str
) -> None:
    printed, secret = await announced(tmp_path, database, configured=CONFIGURED)

    assert "Bearer" not in printed and "eyJ" not in printed, printed
    assert CONFIGURED not in printed, "the key is never printed"
    engine = make_engine(database)
    assert await CredentialRegistry(engine).list() == [], "nothing was issued"
    await engine.dispose()
    printed_commands = commands(printed)
    assert len(printed_commands) == 3, printed
    issued = run_as_printed(printed_commands, cwd=tmp_path, DOSSIER_AUTH_SECRET=secret)
    principals = [await authenticate(database, secret, token) for token in issued]
    assert {p.role: p.scope for p in principals} == EXPECTED


async def test_a_database_password_is_never_printed(tmp_path: Path) -> None:
    url = "postgresql://dossier:s3cret-pw@db.example:5432/dossier"
    lines = await credential_lines(url, CONFIGURED, secret_file=None)

    assert "s3cret-pw" not in "\n".join(lines)
    assert "DOSSIER_AUTH_SECRET and DATABASE_URL are set as for this run" in lines[0]


async def test_the_local_notifications_service_signs_in_as_a_notifier_not_an_operator(
    tmp_path: Path, database: str
) -> None:
    secret = ensure_auth_secret("", tmp_path / "auth_secret")

    principal = await authenticate(database, secret, await notifications_credential(database, secret))

    assert (principal.role, principal.subject) == (Role.NOTIFIER, "notifications")
