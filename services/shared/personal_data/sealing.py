"""Sealing one record: AES-256-GCM under a fresh data key, the data key wrapped (RFC 3394) by a KEK.

The associated data binds the ciphertext to its dossier and kind: a sealed blob copied onto another
dossier's row does not open. Rotation re-wraps only the data key (``rewrap``): the ciphertext stays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from services.shared.personal_data.keys import Keyring

DATA_KEY_BITS = 256
NONCE_BYTES = 12


class SealBrokenError(ValueError):
    """The sealed record does not open: wrong key under a known id, tampered blob or wrong dossier/kind."""


@dataclass(frozen=True)
class Sealed:
    kid: str
    """Id of the KEK that wrapped the data key."""
    wrapped_key: bytes
    """The data key, wrapped by the KEK (RFC 3394, 40 bytes)."""
    blob: bytes
    """Nonce followed by the AES-GCM ciphertext and tag."""


def associated_data(dossier_id: str, kind: str) -> bytes:
    return f"personal-data:v1:{dossier_id}:{kind}".encode()


def seal(plaintext: bytes, *, dossier_id: str, kind: str, keyring: Keyring) -> Sealed:
    data_key = AESGCM.generate_key(bit_length=DATA_KEY_BITS)
    nonce = os.urandom(NONCE_BYTES)
    blob = nonce + AESGCM(data_key).encrypt(nonce, plaintext, associated_data(dossier_id, kind))
    return Sealed(keyring.current_id, aes_key_wrap(keyring.current, data_key), blob)


def _data_key(sealed: Sealed, keyring: Keyring) -> bytes:
    kek = keyring.get(sealed.kid)  # UnknownKeyIdError when the id is not listed
    try:
        return aes_key_unwrap(kek, sealed.wrapped_key)
    except InvalidUnwrap:
        raise SealBrokenError(f"the data key does not unwrap under key {sealed.kid!r}") from None


def open_sealed(sealed: Sealed, *, dossier_id: str, kind: str, keyring: Keyring) -> bytes:
    data_key = _data_key(sealed, keyring)
    nonce, ciphertext = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
    try:
        return AESGCM(data_key).decrypt(nonce, ciphertext, associated_data(dossier_id, kind))
    except InvalidTag:
        raise SealBrokenError("the sealed record does not open for this dossier and kind") from None


def rewrap(sealed: Sealed, keyring: Keyring) -> Sealed:
    """The same record with its data key wrapped by the current KEK (unchanged if it already is)."""
    if sealed.kid == keyring.current_id:
        return sealed
    data_key = _data_key(sealed, keyring)
    return Sealed(keyring.current_id, aes_key_wrap(keyring.current, data_key), sealed.blob)
