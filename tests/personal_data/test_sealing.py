"""Sealing a record: round trip, bound to its dossier and kind, unknown or wrong keys, re-wrapping."""

from __future__ import annotations

import base64
import os
import uuid

import pytest

from services.shared.personal_data.keys import Keyring, KeyringError, UnknownKeyIdError
from services.shared.personal_data.sealing import SealBrokenError, open_sealed, rewrap, seal


def ring(*kids: str) -> Keyring:
    return Keyring.parse(",".join(f"{kid}:{base64.b64encode(os.urandom(32)).decode()}" for kid in kids))


def test_a_sealed_record_opens_for_its_dossier_and_kind_only() -> None:
    keys = ring("k1")
    dossier = str(uuid.uuid4())
    sealed = seal(b'{"name": "Nguyen Van An"}', dossier_id=dossier, kind="applicant", keyring=keys)
    assert b"Nguyen" not in sealed.blob and sealed.kid == "k1"
    assert (
        open_sealed(sealed, dossier_id=dossier, kind="applicant", keyring=keys)
        == b'{"name": "Nguyen Van An"}'
    )
    with pytest.raises(SealBrokenError):
        open_sealed(sealed, dossier_id=str(uuid.uuid4()), kind="applicant", keyring=keys)
    with pytest.raises(SealBrokenError):
        open_sealed(sealed, dossier_id=dossier, kind="delivery_address", keyring=keys)


def test_every_record_has_its_own_data_key() -> None:
    keys = ring("k1")
    one = seal(b"same", dossier_id="d", kind="applicant", keyring=keys)
    two = seal(b"same", dossier_id="d", kind="applicant", keyring=keys)
    assert one.wrapped_key != two.wrapped_key and one.blob != two.blob


def test_an_unknown_key_id_or_a_wrong_key_is_a_clear_error_for_that_record() -> None:
    sealed = seal(b"x", dossier_id="d", kind="applicant", keyring=ring("k1"))
    with pytest.raises(UnknownKeyIdError) as unknown:
        open_sealed(sealed, dossier_id="d", kind="applicant", keyring=ring("k2"))
    assert unknown.value.kid == "k1"
    with pytest.raises(SealBrokenError):
        open_sealed(sealed, dossier_id="d", kind="applicant", keyring=ring("k1"))  # same id, other key


def test_rewrapping_moves_the_data_key_under_the_current_key_and_both_rings_read_meanwhile() -> None:
    old = ring("k2026a")
    sealed = seal(b"contact", dossier_id="d", kind="applicant", keyring=old)
    both = Keyring(((("k2026b", os.urandom(32))), *old.keys))
    assert open_sealed(sealed, dossier_id="d", kind="applicant", keyring=both) == b"contact"
    moved = rewrap(sealed, both)
    assert moved.kid == "k2026b" and moved.blob == sealed.blob
    assert open_sealed(moved, dossier_id="d", kind="applicant", keyring=both) == b"contact"
    only_new = Keyring(both.keys[:1])
    assert open_sealed(moved, dossier_id="d", kind="applicant", keyring=only_new) == b"contact"
    assert rewrap(moved, both) is moved


@pytest.mark.parametrize(
    "text",
    ["", "k1", "k1:not-base64!", f"k1:{base64.b64encode(b'short').decode()}", "bad id:AAAA"],
)
def test_a_malformed_keyring_is_refused_without_echoing_keys(text: str) -> None:
    with pytest.raises(KeyringError) as error:
        Keyring.parse(text)
    assert "AAAA" not in str(error.value) and "not-base64!" not in str(error.value)


def test_a_keyring_lists_each_id_once() -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(KeyringError):
        Keyring.parse(f"k1:{key},k1:{key}")
