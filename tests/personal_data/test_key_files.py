"""A mistyped key file must not silently make new keys: a key file named explicitly (by its setting) that
does not exist stops the start with an error naming the setting; only a path under the project's .work/
(the local run and the tests) is generated once."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from services.agency.settings import AgencySettings
from services.post_office.settings import PostOfficeSettings
from services.shared.key_files import KeyFileMissingError
from services.tracker.settings import TrackerSettings

ROOT = Path(__file__).resolve().parents[2]


def test_an_explicit_keys_file_that_does_not_exist_is_an_error_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mistyped = tmp_path / "etc" / "personal_data_kyes"
    monkeypatch.setenv("PERSONAL_DATA_KEYS_FILE", str(mistyped))

    with pytest.raises(KeyFileMissingError, match="PERSONAL_DATA_KEYS_FILE") as refused:
        PostOfficeSettings().keyring()

    assert str(mistyped) in str(refused.value)
    assert not mistyped.exists()


def test_an_explicit_index_key_file_that_does_not_exist_is_an_error_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONAL_DATA_INDEX_KEY_FILE", str(tmp_path / "index_kye"))

    with pytest.raises(KeyFileMissingError, match="PERSONAL_DATA_INDEX_KEY_FILE"):
        AgencySettings().blind_index()

    assert not (tmp_path / "index_kye").exists()


@pytest.mark.parametrize("variable", ["DOSSIER_LOOKUP_KEY_FILE", "TRACKER_LOOKUP_KEY_FILE"])
def test_an_explicit_lookup_key_file_that_does_not_exist_is_an_error_in_every_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.delenv("DOSSIER_LOOKUP_KEY", raising=False)
    monkeypatch.delenv("TRACKER_LOOKUP_KEY", raising=False)
    monkeypatch.setenv(variable, str(tmp_path / "lookup_kye"))

    with pytest.raises(KeyFileMissingError, match="LOOKUP_KEY_FILE"):
        PostOfficeSettings().phone_check()
    with pytest.raises(KeyFileMissingError, match="LOOKUP_KEY_FILE"):
        TrackerSettings().phone_digest_keys()

    assert not (tmp_path / "lookup_kye").exists()


def test_an_explicit_path_that_exists_is_read_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / "index_key"
    kept.write_text("k" * 40 + "\n")
    monkeypatch.setenv("PERSONAL_DATA_INDEX_KEY_FILE", str(kept))

    AgencySettings().blind_index()

    assert kept.read_text() == "k" * 40 + "\n"


def test_a_path_under_the_projects_work_directory_is_generated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    path = ROOT / ".work" / "test_keys" / f"index_{uuid.uuid4().hex}"
    monkeypatch.setenv("PERSONAL_DATA_INDEX_KEY_FILE", str(path))
    try:
        AgencySettings().blind_index()
        first = path.read_text()
        AgencySettings().blind_index()
        assert path.read_text() == first and len(first.strip()) >= 32
    finally:
        path.unlink(missing_ok=True)
