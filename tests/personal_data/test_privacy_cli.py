"""The operator's command `dossier-privacy`: asks every service that holds personal data (the post
office, the agency) over HTTP with an operator token and prints one merged answer; a service that does
not answer is named and the command fails, so an operator never takes a partial answer for the whole."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.shared.personal_data import privacy_cli

TOKEN = "operator-token-for-the-test"
DOSSIER_A = "3f1b7c2e-0000-5000-8000-000000000001"
DOSSIER_B = "3f1b7c2e-0000-5000-8000-000000000002"


def _record(service: str, dossier: str, kind: str) -> dict[str, Any]:
    return {
        "service": service,
        "dossier_id": dossier,
        "kind": kind,
        "purposes": ["result_delivery"],
        "purpose_ends": {"result_delivery": None},
        "held_until": None,
        "collected_at": "2026-03-02T09:00:00+07:00",
        "erased_at": None,
        "erasure_reason": None,
    }


def services(
    seen: list[httpx.Request], agency: Callable[[httpx.Request], httpx.Response] | None = None
) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "agency.test":
            if agency is not None:
                return agency(request)
            if request.url.path.endswith("/access-requests"):
                return httpx.Response(
                    200,
                    json={
                        "service": "agency",
                        "request_id": 7,
                        "records": [_record("agency", DOSSIER_B, "applicant")],
                    },
                )
            return httpx.Response(
                200,
                json={
                    "service": "agency",
                    "request_id": 8,
                    "erased": [
                        {
                            "service": "agency",
                            "dossier_id": DOSSIER_B,
                            "kinds": ["applicant"],
                            "erased_at": "2026-12-06T20:00:00+07:00",
                        }
                    ],
                    "already_erased": [],
                },
            )
        if request.url.path.endswith("/access-requests"):
            return httpx.Response(
                200,
                json={
                    "service": "post_office",
                    "request_id": 3,
                    "records": [_record("post_office", DOSSIER_A, "applicant")],
                },
            )
        return httpx.Response(
            200, json={"service": "post_office", "request_id": 4, "erased": [], "already_erased": []}
        )

    return httpx.MockTransport(handle)


def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token_file = tmp_path / "operator_token"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.setenv("DOSSIER_PRIVACY_POST_OFFICE_URL", "http://post-office.test")
    monkeypatch.setenv("DOSSIER_PRIVACY_AGENCY_URL", "http://agency.test")
    monkeypatch.setenv("DOSSIER_OPERATOR_TOKEN_FILE", str(token_file))


def test_access_asks_every_owner_with_the_operator_token_and_merges_the_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _environment(monkeypatch, tmp_path)
    seen: list[httpx.Request] = []

    code = privacy_cli.main(["access", "--phone", "0912 345 678"], transport=services(seen))

    assert code == 0
    assert sorted(str(r.url) for r in seen) == [
        "http://agency.test/personal-data/access-requests",
        "http://post-office.test/v1/personal-data/access-requests",
    ]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seen)
    assert all(json.loads(r.content) == {"phone": "0912 345 678"} for r in seen)
    merged = json.loads(capsys.readouterr().out)
    assert sorted((r["service"], r["dossier_id"]) for r in merged["records"]) == [
        ("agency", DOSSIER_B),
        ("post_office", DOSSIER_A),
    ]
    assert merged["requests"] == {"post_office": 3, "agency": 7}


def test_erase_by_id_number_merges_what_every_owner_erased(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _environment(monkeypatch, tmp_path)
    seen: list[httpx.Request] = []

    code = privacy_cli.main(["erase", "--id-number", "001085012345"], transport=services(seen))

    assert code == 0
    assert all(json.loads(r.content) == {"id_number": "001085012345"} for r in seen)
    merged = json.loads(capsys.readouterr().out)
    assert [e["dossier_id"] for e in merged["erased"]] == [DOSSIER_B]


def test_a_service_that_refuses_is_named_and_the_command_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _environment(monkeypatch, tmp_path)
    refused = httpx.Response(
        403, json={"status": 403, "reason": "role_not_allowed", "detail": "operators only"}
    )

    code = privacy_cli.main(
        ["access", "--id-number", "001085012345"], transport=services([], agency=lambda _: refused)
    )

    assert code == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["failed"] == {"agency": "403 role_not_allowed"}
    assert "agency" in out.err


def test_without_an_operator_token_the_command_says_which_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DOSSIER_OPERATOR_TOKEN", raising=False)
    monkeypatch.delenv("DOSSIER_OPERATOR_TOKEN_FILE", raising=False)

    code = privacy_cli.main(["access", "--phone", "0912345678"], transport=services([]))

    assert code == 2
    assert "DOSSIER_OPERATOR_TOKEN" in capsys.readouterr().err


def test_exactly_one_way_to_name_the_person() -> None:
    with pytest.raises(SystemExit):
        privacy_cli.main(["erase", "--phone", "0912345678", "--dossier", DOSSIER_A], transport=services([]))
