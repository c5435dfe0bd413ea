"""Every caller presents a bearer credential bound to one post office, or an operator's."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from services.shared.auth import Role, TokenSigner
from tests.post_office.helpers import (
    OTHER_OFFICE,
    PostOfficeClient,
    acceptance,
    handover,
    new_item_id,
    scan,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_a_request_without_a_credential_is_refused_with_401_and_a_bearer_challenge(
    api: PostOfficeClient,
) -> None:
    response = await api.http.post("/v1/dossiers", json=acceptance(new_item_id()))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["reason"] == "unauthenticated"


async def test_a_revoked_credential_is_refused_with_401(api: PostOfficeClient) -> None:
    response = await api.post("/v1/dossiers", acceptance(new_item_id()), token=api.tokens.revoked)

    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_a_credential_signed_with_another_key_is_refused_with_401(api: PostOfficeClient) -> None:
    _, forged = TokenSigner("another-secret-of-at-least-32-bytes!!").issue(
        subject="x", role=Role.OPERATOR, scope=None, now=datetime.now(UTC), valid_for=timedelta(hours=1)
    )

    response = await api.post("/v1/dossiers", acceptance(new_item_id()), token=forged)

    assert response.status_code == 401


async def test_a_clerk_cannot_record_for_another_post_office(api: PostOfficeClient) -> None:
    body = acceptance(new_item_id(), post_office_code=OTHER_OFFICE)

    response = await api.post("/v1/dossiers", body)

    assert response.status_code == 403
    assert response.json()["reason"] == "wrong_post_office"
    # The clerk of that post office may.
    assert (await api.post("/v1/dossiers", body, token=api.tokens.other_clerk)).status_code == 201


async def test_a_clerk_cannot_upload_a_batch_or_a_manifest_for_another_post_office(
    api: PostOfficeClient,
) -> None:
    batch = {
        "post_office_code": OTHER_OFFICE,
        "scans": [scan("IN_TRANSIT", new_item_id(), "2025-03-15T08:00:00+07:00")],
    }

    assert (await api.post("/v1/scans/batches", batch)).status_code == 403
    manifest = handover([new_item_id()], post_office_code=OTHER_OFFICE)
    assert (await api.post("/v1/handovers", manifest)).status_code == 403


async def test_an_operator_may_record_for_any_post_office(api: PostOfficeClient) -> None:
    body = acceptance(new_item_id(), post_office_code="550000")

    response = await api.post("/v1/dossiers", body, token=api.tokens.operator)

    assert response.status_code == 201


async def test_an_agency_credential_may_not_use_the_post_office_api(api: PostOfficeClient) -> None:
    response = await api.post("/v1/dossiers", acceptance(new_item_id()), token=api.tokens.agency)

    assert response.status_code == 403
    assert response.json()["reason"] == "role_not_allowed"


async def test_credentials_and_personal_data_never_reach_the_logs(
    api: PostOfficeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await api.post("/v1/dossiers", acceptance(new_item_id()))
    await api.post("/v1/dossiers", acceptance(new_item_id()), token=api.tokens.revoked)
    await api.post("/v1/dossiers", acceptance(new_item_id()), token="not.a.token")

    def logged(level: int) -> str:
        return " ".join(
            f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records if r.levelno >= level
        )

    assert "dossier_accepted" in logged(logging.INFO)
    for secret in (api.tokens.clerk, api.tokens.revoked, "not.a.token"):
        assert secret not in logged(logging.DEBUG)
        assert secret.split(".")[-1] not in logged(logging.DEBUG)  # not even the signature
    # aiokafka's DEBUG records print message values; the service runs its loggers at INFO and above.
    for personal in ("Nguyễn Văn An", "0912345678", "0912 345 678", "Tràng Tiền", "001085012345"):
        assert personal not in logged(logging.INFO)
