"""Keys generated once into a file and kept there when none is configured (the tracker's and the
producers' phone-check key, the vault's keys), as the local run keeps its signing secret (.work/auth_secret).

The digests are stored, so their key must outlive restarts and must not be the signing secret of the
credentials: that one is rotated (a leak, staff leaving), and every digest made with it would stop
matching until a rebuild. A production deployment sets TRACKER_LOOKUP_KEY, the same for every replica;
the file serves the local run and the tests, where one machine runs every tracker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from services.shared.logs import log_event

logger = logging.getLogger(__name__)

MIN_KEY_BYTES = 32

PROJECT_WORK = Path(__file__).resolve().parents[2] / ".work"
"""The project's own work directory: the local run and the tests keep their generated keys here."""


class KeyFileMissingError(RuntimeError):
    """A key file named explicitly by its setting does not exist (the message names the setting and the
    path, never a key)."""


def _kept(path: Path) -> str | None:
    key = path.read_text().strip() if path.exists() else ""
    return key if len(key.encode()) >= MIN_KEY_BYTES else None


def _token() -> str:
    return secrets.token_urlsafe(48)


def may_generate(path: Path, *, explicit: bool) -> bool:
    """Whether a missing key file may be generated: at a path left to its default, or one under the
    project's .work/ (the local run and the tests). A path an operator set explicitly elsewhere is a
    deployment's: a typo there must stop the start, not make a new key that opens no stored record."""
    return not explicit or path.resolve().is_relative_to(PROJECT_WORK)


def ensure_key_file(
    path: Path, generate: Callable[[], str] = _token, *, setting: str = "", generate_missing: bool = True
) -> str:
    """The key kept in ``path``; generated (mode 600) when the file is missing or holds too short a key,
    unless ``generate_missing`` is False: then a missing file raises KeyFileMissingError naming
    ``setting``."""
    key = _kept(path)
    if key is not None:
        return key
    if not generate_missing and not path.exists():
        raise KeyFileMissingError(
            f"{setting or 'the key file setting'} names {path}, which does not exist: fix the path (or put "
            "the key there); no key is generated outside the project's .work/, as one would open no "
            "record sealed or digest made with the real key"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.draft")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(generate() + "\n")
    try:
        if path.exists():
            os.replace(draft, path)  # too short to be a key: nothing could have used it
        else:
            # A link is created whole or not at all: of two trackers starting at once on one machine,
            # the second keeps the first one's key instead of overwriting it.
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    # A replica that generates its own key cannot match the digests another replica stored: say so.
    log_event(logger, "key_generated", logging.WARNING, path=str(path))
    return path.read_text().strip()
