"""The key-encryption keys (KEKs) that wrap the vault's data keys, listed with ids.

``PERSONAL_DATA_KEYS`` = ``k2026b:<base64 of 32 bytes>,k2026a:<base64>``: the first wraps new records,
every listed one unwraps. Rotation: put a new key first, run the rotation (``vault.rotate``), then drop
the old one from the list once no record names it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

KEK_BYTES = 32
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class KeyringError(ValueError):
    """PERSONAL_DATA_KEYS is malformed (the message never contains a key)."""


class UnknownKeyIdError(LookupError):
    """A record is wrapped by a KEK that is not (or no longer) listed in PERSONAL_DATA_KEYS."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"no key-encryption key {kid!r} is configured")
        self.kid = kid


@dataclass(frozen=True)
class Keyring:
    """KEKs by id, in the order listed: the first one is current."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyringError("PERSONAL_DATA_KEYS lists no key")
        kids = [kid for kid, _ in self.keys]
        if len(set(kids)) != len(kids):
            raise KeyringError("PERSONAL_DATA_KEYS lists a key id twice")

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    @property
    def current(self) -> bytes:
        return self.keys[0][1]

    def get(self, kid: str) -> bytes:
        for known, key in self.keys:
            if known == kid:
                return key
        raise UnknownKeyIdError(kid)

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """``id:base64,id:base64``; whitespace around entries ignored."""
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(e.strip() for e in text.split(",")):
            if not entry:
                continue
            kid, sep, encoded = entry.partition(":")
            if not sep or not _KID.match(kid.strip()):
                raise KeyringError(f"PERSONAL_DATA_KEYS entry {position + 1} is not <id>:<base64 key>")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise KeyringError(f"the key {kid.strip()!r} of PERSONAL_DATA_KEYS is not base64") from None
            if len(key) != KEK_BYTES:
                raise KeyringError(f"the key {kid.strip()!r} of PERSONAL_DATA_KEYS must be {KEK_BYTES} bytes")
            keys.append((kid.strip(), key))
        return cls(tuple(keys))

    def render(self) -> str:
        return ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in self.keys)
