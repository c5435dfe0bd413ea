"""What `dossier-credentials` needs from its environment, checked before it does anything, so that a
newcomer's missing or misplaced setting ends in one line that says what to set, not a traceback."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from services.shared.auth.tokens import MIN_SECRET_BYTES, TokenSigner
from services.shared.db.engine import is_sqlite

ROOT = Path(__file__).resolve().parents[3]
# Where scripts/run.sh keeps the local run's database.
LOCAL_DATABASE_URL = f"sqlite+aiosqlite:///{ROOT / '.work' / 'dossier.db'}"


class SetupError(Exception):
    """A setting is missing or points nowhere; the message is one line naming what to set."""


def signer(secret: str) -> TokenSigner:
    if not secret:
        raise SetupError(
            "set DOSSIER_AUTH_SECRET to the services' signing key (the local run's is in .work/auth_secret)"
        )
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise SetupError(f"DOSSIER_AUTH_SECRET must be at least {MIN_SECRET_BYTES} bytes (the services' key)")
    return TokenSigner(secret)


def check_database_url(url: str, cwd: Path) -> None:
    """A SQLite file whose directory does not exist would be neither opened nor created."""
    try:
        if not is_sqlite(url):
            return
        database = make_url(url).database
    except ArgumentError:
        raise SetupError("DATABASE_URL is not a database URL; set it as the services have it") from None
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    resolved = path if path.is_absolute() else cwd / path
    if resolved.parent.is_dir():
        return
    where = "" if path.is_absolute() else f" (relative to {cwd})"
    raise SetupError(
        f"DATABASE_URL names the SQLite file {resolved}{where}, but {resolved.parent} does not exist; "
        f"set DATABASE_URL to the services' database by an absolute path, e.g. {LOCAL_DATABASE_URL} "
        "for the local run"
    )


def database_failure(error: DBAPIError, url: str) -> SetupError:
    shown = make_url(url).render_as_string(hide_password=True)
    text = str(error.orig).lower()
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return SetupError(
            f"the database at DATABASE_URL={shown} has no credential table; migrate it "
            f"(dossier-migrate upgrade --url '{shown}') or set DATABASE_URL to the services' database"
        )
    return SetupError(
        f"the database at DATABASE_URL={shown} did not answer ({type(error.orig).__name__}); "
        "set DATABASE_URL to the services' database"
    )
