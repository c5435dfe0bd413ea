"""A clerk's scanner sends the same bearer token with every scan: the post office checks its signature
once (issue 19: decoding and verifying the JWT was a tenth of a scan's CPU), yet every request is still
held to the token's times, and a token it has not verified is verified in full."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import jwt
import pytest

from services.post_office.verified_tokens import RememberingSigner
from services.shared.auth import CredentialError, Role, TokenSigner

SECRET = "verified-tokens-tests-secret-0123456789abcdef"
ISSUED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _token(secret: str = SECRET, valid_for: timedelta = timedelta(hours=1)) -> str:
    _, token = TokenSigner(secret).issue(
        subject="clerk-0001", role=Role.POST_OFFICE, scope="100000", now=ISSUED, valid_for=valid_for
    )
    return token


def test_a_token_presented_again_is_not_decoded_again() -> None:
    signer = RememberingSigner(SECRET)
    token = _token()

    with mock.patch.object(jwt, "decode", wraps=jwt.decode) as decode:
        first = signer.verify_claims(token, now=ISSUED)
        again = signer.verify_claims(token, now=ISSUED + timedelta(minutes=5))

    assert decode.call_count == 1
    assert again == first
    assert again.principal.post_office == "100000"


def test_a_remembered_token_is_refused_once_it_has_expired() -> None:
    signer = RememberingSigner(SECRET)
    token = _token(valid_for=timedelta(minutes=10))
    signer.verify_claims(token, now=ISSUED)

    with pytest.raises(CredentialError, match="expired"):
        signer.verify_claims(token, now=ISSUED + timedelta(minutes=10))


def test_a_remembered_token_is_not_valid_before_it_was_issued() -> None:
    signer = RememberingSigner(SECRET)
    token = _token()
    signer.verify_claims(token, now=ISSUED)

    with pytest.raises(CredentialError, match="not valid yet"):
        signer.verify_claims(token, now=ISSUED - timedelta(hours=1))


def test_a_token_signed_with_another_key_is_refused_every_time() -> None:
    signer = RememberingSigner(SECRET)
    forged = _token("another-secret-of-at-least-32-bytes-long!!")

    for _ in range(2):
        with pytest.raises(CredentialError, match="signature"):
            signer.verify_claims(forged, now=ISSUED)


def test_the_tokens_remembered_are_bounded() -> None:
    signer = RememberingSigner(SECRET, remembered=2)
    tokens = [_token(valid_for=timedelta(hours=1, seconds=n)) for n in range(3)]
    for token in tokens:
        signer.verify_claims(token, now=ISSUED)

    with mock.patch.object(jwt, "decode", wraps=jwt.decode) as decode:
        signer.verify_claims(tokens[2], now=ISSUED)
        signer.verify_claims(tokens[0], now=ISSUED)

    # The newest is still known; the oldest made room and is verified again.
    assert decode.call_count == 1
