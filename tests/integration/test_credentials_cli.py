"""`dossier-credentials`, run as a newcomer runs it: a subprocess with only the environment it is given.
Whatever is missing or wrong ends in one line on stderr that names what to set, exit status 2, and no
traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.shared.auth import Role, TokenSigner
from services.shared.auth.authenticator import Authenticator
from services.shared.auth.registry import CredentialRegistry
from services.shared.db import migrate
from services.shared.db.engine import make_engine

SECRET = "c" * 40
CLI = Path(sys.executable).with_name("dossier-credentials")
ISSUE = ["issue", "--role", "post_office", "--scope", "100000", "--subject", "clerk-0042"]


def run(args: list[str], *, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # Only what the test names: no DOSSIER_AUTH_SECRET or DATABASE_URL leaks in from the runner.
    base = {k: v for k, v in os.environ.items() if k not in {"DOSSIER_AUTH_SECRET", "DATABASE_URL"}}
    return subprocess.run(
        [str(CLI), *args], cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def assert_one_line_naming(done: subprocess.CompletedProcess[str], *names: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for name in names:
        assert name in lines[0], lines[0]
    assert done.stdout == "", "no token is printed"
    return lines[0]


@pytest.fixture
async def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    await migrate.upgrade_async(url)
    return url


async def test_issue_without_a_signing_secret_says_to_set_dossier_auth_secret(
    database: str, tmp_path: Path
) -> None:
    done = run(ISSUE, cwd=tmp_path, DATABASE_URL=database)

    assert_one_line_naming(done, "DOSSIER_AUTH_SECRET")
    engine = make_engine(database)
    assert await CredentialRegistry(engine).list() == [], "nothing was registered"
    await engine.dispose()


def test_issue_with_a_short_signing_secret_says_how_long_it_must_be(database: str, tmp_path: Path) -> None:
    done = run(ISSUE, cwd=tmp_path, DATABASE_URL=database, DOSSIER_AUTH_SECRET="short")

    assert_one_line_naming(done, "DOSSIER_AUTH_SECRET", "32 bytes")


@pytest.mark.parametrize("command", [ISSUE, ["list"], ["revoke", "0f0f0f0f-0000-0000-0000-000000000000"]])
def test_a_relative_sqlite_path_that_resolves_nowhere_says_to_set_an_absolute_database_url(
    tmp_path: Path, command: list[str]
) -> None:
    done = run(command, cwd=tmp_path, DATABASE_URL="sqlite:///relative/path.db", DOSSIER_AUTH_SECRET=SECRET)

    line = assert_one_line_naming(done, "DATABASE_URL", str(tmp_path / "relative"))
    assert "absolute" in line
    assert not (tmp_path / "relative").exists()


def test_a_database_without_the_schema_says_to_migrate_it(tmp_path: Path) -> None:
    done = run(
        ["list"], cwd=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}", DOSSIER_AUTH_SECRET=SECRET
    )

    assert_one_line_naming(done, "DATABASE_URL", "dossier-migrate")


async def test_an_issued_token_authenticates_as_its_registration(database: str, tmp_path: Path) -> None:
    done = run(ISSUE, cwd=tmp_path, DATABASE_URL=database, DOSSIER_AUTH_SECRET=SECRET)

    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    engine = make_engine(database)
    principal = await Authenticator(TokenSigner(SECRET), CredentialRegistry(engine)).authenticate(
        f"Bearer {token}"
    )
    await engine.dispose()
    assert (principal.role, principal.post_office) == (Role.POST_OFFICE, "100000")
    assert principal.subject == "clerk-0042"


def test_list_shows_each_credential_and_its_state_but_never_its_token(database: str, tmp_path: Path) -> None:
    issued = run(ISSUE, cwd=tmp_path, DATABASE_URL=database, DOSSIER_AUTH_SECRET=SECRET)
    credential_id = issued.stderr.split("credential id:")[1].split()[0]

    listed = run(["list"], cwd=tmp_path, DATABASE_URL=database)

    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.strip().splitlines()
    assert line.split()[:4] == [credential_id, "post_office", "100000", "clerk-0042"]
    assert line.endswith("active")
    assert issued.stdout.strip() not in listed.stdout


async def test_the_notifications_services_credential_is_issued_without_a_scope(
    database: str, tmp_path: Path
) -> None:
    done = run(
        ["issue", "--role", "notifier", "--subject", "notifications"],
        cwd=tmp_path,
        DATABASE_URL=database,
        DOSSIER_AUTH_SECRET=SECRET,
    )

    assert done.returncode == 0, done.stderr
    engine = make_engine(database)
    principal = await Authenticator(TokenSigner(SECRET), CredentialRegistry(engine)).authenticate(
        f"Bearer {done.stdout.strip()}"
    )
    await engine.dispose()
    assert (principal.role, principal.scope, principal.subject) == (Role.NOTIFIER, None, "notifications")
