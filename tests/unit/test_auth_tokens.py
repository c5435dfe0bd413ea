"""Bearer credentials: signed, bound to one post office or agency, expiring, and tamper-evident."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from services.shared.auth import CredentialError, Role, TokenSigner
from services.shared.auth.tokens import CLOCK_SKEW_SECONDS

SECRET = "s" * 32
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_a_post_office_credential_verifies_to_its_post_office() -> None:
    signer = TokenSigner(SECRET)
    issued, token = signer.issue(
        subject="clerk-0042", role=Role.POST_OFFICE, scope="100000", now=NOW, valid_for=timedelta(days=1)
    )

    principal = signer.verify(token, now=NOW + timedelta(hours=1))

    assert principal == issued
    assert principal.post_office == "100000"
    assert principal.agency is None


def test_an_expired_credential_is_refused() -> None:
    signer = TokenSigner(SECRET)
    _, token = signer.issue(
        subject="o", role=Role.OPERATOR, scope=None, now=NOW, valid_for=timedelta(hours=1)
    )

    with pytest.raises(CredentialError, match="expired"):
        signer.verify(token, now=NOW + timedelta(hours=1))


def test_a_credential_signed_with_another_secret_is_refused() -> None:
    _, token = TokenSigner("x" * 32).issue(
        subject="o", role=Role.OPERATOR, scope=None, now=NOW, valid_for=timedelta(days=1)
    )

    with pytest.raises(CredentialError, match="signature"):
        TokenSigner(SECRET).verify(token, now=NOW)


def test_a_credential_whose_claims_were_edited_is_refused() -> None:
    signer = TokenSigner(SECRET)
    _, token = signer.issue(
        subject="clerk", role=Role.POST_OFFICE, scope="100000", now=NOW, valid_for=timedelta(days=1)
    )
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "700000"  # try to act for another post office
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    with pytest.raises(CredentialError, match="signature"):
        signer.verify(f"{header}.{forged}.{signature}", now=NOW)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x"])
def test_garbage_is_refused_as_malformed(garbage: str) -> None:
    with pytest.raises(CredentialError):
        TokenSigner(SECRET).verify(garbage, now=NOW)


def test_a_short_signing_secret_is_rejected_at_start_up() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenSigner("short")


def test_an_agency_credential_must_name_its_agency() -> None:
    with pytest.raises(CredentialError, match="agency"):
        TokenSigner(SECRET).issue(
            subject="a", role=Role.AGENCY, scope=None, now=NOW, valid_for=timedelta(days=1)
        )


def _signed(claims: dict[str, object], secret: str = SECRET) -> str:
    """A token signed with the real key whose claims are whatever the holder of the key chose."""
    import jwt

    base = {"iss": "dossier-post", "sub": "clerk", "jti": "c-1", "role": "post_office", "scope": "100000"}
    times = {"iat": int(NOW.timestamp()), "exp": int((NOW + timedelta(days=1)).timestamp())}
    return jwt.encode({**base, **times, **claims}, secret, algorithm="HS256")


@pytest.mark.parametrize(
    "claims",
    [
        {"scope": ["100000", "700000"]},
        {"scope": {"post_office": "100000"}},
        {"role": "operator", "scope": ["100000"]},
        {"scope": 100000},
        {"role": ["operator"]},
        {"sub": {"id": 1}},
        {"jti": ["c-1"]},
        {"exp": [1]},
        {"iat": "yesterday"},
    ],
    ids=lambda claims: "-".join(f"{k}={type(v).__name__}" for k, v in claims.items()),
)
def test_a_signed_credential_whose_claims_have_the_wrong_type_is_refused_as_invalid(
    claims: dict[str, object],
) -> None:
    with pytest.raises(CredentialError, match="claim") as refused:
        TokenSigner(SECRET).verify(_signed(claims), now=NOW)

    assert refused.value.reason == "invalid_token"


def test_an_ordinary_refusal_keeps_the_unauthenticated_reason() -> None:
    with pytest.raises(CredentialError) as refused:
        TokenSigner(SECRET).verify(_signed({}, secret="x" * 32), now=NOW)

    assert refused.value.reason == "unauthenticated"


def test_the_verified_claims_carry_the_signed_expiry() -> None:
    signer = TokenSigner(SECRET)
    _, token = signer.issue(
        subject="o", role=Role.OPERATOR, scope=None, now=NOW, valid_for=timedelta(hours=5)
    )

    assert signer.verify_claims(token, now=NOW).expires_at == NOW + timedelta(hours=5)


def test_a_credential_issued_within_the_clock_skew_ahead_is_accepted_and_beyond_it_refused() -> None:
    # Hosts' clocks differ by a little: a credential another host issued up to CLOCK_SKEW_SECONDS in
    # this host's future is ours; one issued later than that was not issued by us.
    signer = TokenSigner(SECRET)
    skew = timedelta(seconds=CLOCK_SKEW_SECONDS)
    _, at_the_limit = signer.issue(
        subject="o", role=Role.OPERATOR, scope=None, now=NOW + skew, valid_for=timedelta(hours=1)
    )
    _, beyond = signer.issue(
        subject="o",
        role=Role.OPERATOR,
        scope=None,
        now=NOW + skew + timedelta(seconds=1),
        valid_for=timedelta(hours=1),
    )

    assert signer.verify(at_the_limit, now=NOW).subject == "o"
    with pytest.raises(CredentialError, match=r"^the credential is not valid yet$"):
        signer.verify(beyond, now=NOW)


def test_an_expired_credential_is_refused_saying_so() -> None:
    signer = TokenSigner(SECRET)
    _, token = signer.issue(
        subject="o", role=Role.OPERATOR, scope=None, now=NOW, valid_for=timedelta(hours=1)
    )

    with pytest.raises(CredentialError, match=r"^the credential has expired$"):
        signer.verify(token, now=NOW + timedelta(hours=2))
