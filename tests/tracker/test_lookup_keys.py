"""The key of the phone digests behind the public lookup is the tracker's own: rotating the signing secret
of the credentials leaves every public lookup working, and digests stored under an older key (or, before
the key existed, under the signing secret) keep matching."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.enums import ServiceForm
from contracts.samples import SAMPLE_APPLICANT
from services.tracker.app import build
from services.tracker.lookup_keys import ensure_key_file
from tests.tracker.journeys import journey, new_dossier
from tests.tracker.support import SECRET, records_of, settings_for

LAST4 = {"phone_last4": SAMPLE_APPLICANT.phone[-4:]}
ROTATED = "tracker-tests-rotated-signing-secret-9876543210"
OLD_KEY = "tracker-tests-old-lookup-key-0123456789"
NEW_KEY = "tracker-tests-new-lookup-key-0123456789"


async def project_then_look_up(database: str, before: dict[str, Any], after: dict[str, Any]) -> int:
    """Project a dossier with a tracker built from ``before``, then look it up (right phone digits) with
    another built from ``after`` on the same database; the status of that lookup."""
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    first = build(settings_for(database, **before), consume=False)
    try:
        await first.processor.process(records_of(journey(dossier)))
    finally:
        await first.dispose()
    second = build(settings_for(database, **after), consume=False)
    try:
        transport = httpx.ASGITransport(app=second.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://tracker") as client:
            answer = await client.get(f"/public/dossiers/{dossier.item_id}", params=LAST4)
    finally:
        await second.dispose()
    return answer.status_code


@pytest.mark.postgres
async def test_public_lookups_keep_working_after_the_signing_secret_is_rotated(
    migrated_database: str,
) -> None:
    status = await project_then_look_up(migrated_database, {}, {"DOSSIER_AUTH_SECRET": ROTATED})

    assert status == 200


@pytest.mark.postgres
async def test_digests_stored_under_a_previous_lookup_key_still_match(migrated_database: str) -> None:
    status = await project_then_look_up(
        migrated_database,
        {"lookup_key": OLD_KEY},
        {"lookup_key": NEW_KEY, "lookup_previous_keys": [OLD_KEY]},
    )

    assert status == 200


@pytest.mark.postgres
async def test_digests_stored_under_the_signing_secret_before_the_lookup_key_existed_still_match(
    migrated_database: str,
) -> None:
    # Before TRACKER_LOOKUP_KEY was its own, an empty one meant the signing secret: such a deployment's
    # digests were made with DOSSIER_AUTH_SECRET. Moving it to a lookup key of its own keeps them.
    status = await project_then_look_up(
        migrated_database,
        {"lookup_key": SECRET},
        {"lookup_key": NEW_KEY, "lookup_previous_keys": [SECRET]},
    )

    assert status == 200


@pytest.mark.postgres
async def test_a_lookup_key_that_changed_without_keeping_the_old_one_no_longer_matches(
    migrated_database: str,
) -> None:
    status = await project_then_look_up(migrated_database, {"lookup_key": OLD_KEY}, {"lookup_key": NEW_KEY})

    assert status == 404


def test_the_signing_secret_is_never_the_lookup_key(tmp_path: Path) -> None:
    key_file = tmp_path / "lookup_key"
    key_file.write_text("k" * 48 + "\n")  # an explicit path outside .work/ is never generated
    settings = settings_for("sqlite://", lookup_key_file=key_file)

    assert SECRET.encode() not in settings.phone_digest_keys()


def test_without_a_lookup_key_one_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "work" / "lookup_key"

    first = ensure_key_file(path)
    again = ensure_key_file(path)

    assert first == again and len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_short_lookup_key_is_refused() -> None:
    with pytest.raises(ValueError, match="TRACKER_LOOKUP_KEY"):
        settings_for("sqlite://", lookup_key="short").phone_digest_keys()
