"""Verifying each bearer token's signature once per process instead of once per request.

A clerk's scanner or a courier's device sends the same token with every scan, and decoding it and
checking its HMAC was about a tenth of a scan's CPU (issue 19). What the signature proves cannot
change, so the claims a token was verified to carry are remembered by the token itself; its times are
checked again on every request (the clock moves on), and the registry (revocation, registered claims)
is still asked by the Authenticator each time. A token that fails verification is not remembered.
"""

from __future__ import annotations

from datetime import datetime

from services.shared.auth.tokens import SignedClaims, TokenSigner, check_times

REMEMBERED = 4096
"""Tokens remembered per process: far more than the devices one post office worker serves at once."""


class RememberingSigner(TokenSigner):
    def __init__(self, secret: str, *, remembered: int = REMEMBERED) -> None:
        super().__init__(secret)
        self._remembered = remembered
        # Insertion order: the oldest token makes room for a new one.
        self._verified: dict[str, SignedClaims] = {}

    def verify_claims(self, token: str, *, now: datetime) -> SignedClaims:
        signed = self._verified.get(token)
        if signed is None:
            signed = super().verify_claims(token, now=now)
            if len(self._verified) >= self._remembered:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = signed
            return signed
        # The checks of TokenSigner.verify_claims that depend on the time of the request.
        check_times(signed.issued_at.timestamp(), signed.expires_at.timestamp(), now)
        return signed
