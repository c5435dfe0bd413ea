"""A person's access and erasure requests at the post office, asked by an operator: what is held about a
phone or ID number (never the data itself), erasure of every record found with its erasure events, and
an append-only audit of each request that names the person only by the keyed HMAC of their number."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from services.post_office.adapters.tables import personal_data_tables
from services.shared.db.engine import make_engine
from tests.post_office.helpers import PostalTopic, PostOfficeClient, acceptance, new_item_id
from tests.post_office.test_personal_data import vault_of

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ACCESS = "/v1/personal-data/access-requests"
ERASURE = "/v1/personal-data/erasure-requests"


def a_person() -> dict[str, str]:
    """A phone and an ID number of this test only (uuid-based)."""
    return {"phone": f"09{uuid.uuid4().int % 10**8:08d}", "id_number": f"0{uuid.uuid4().int % 10**11:011d}"}


async def _accepted(
    api: PostOfficeClient, person: dict[str, str], name: str = "Lê Thị Hoa"
) -> dict[str, Any]:
    body = acceptance(new_item_id())
    body["applicant"] = {**body["applicant"], "name": name, **person}
    return await api.ok("/v1/dossiers", body)


def _operator(api: PostOfficeClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens.operator}"}


async def _audit(database_url: str, request_id: int) -> Any:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            t = personal_data_tables.requests
            return (await conn.execute(select(t).where(t.c.id == request_id))).one()
    finally:
        await engine.dispose()


async def test_an_access_request_by_phone_lists_what_is_held_and_is_audited_without_the_number(
    api: PostOfficeClient, database_url: str
) -> None:
    person = a_person()
    first, second = await _accepted(api, person), await _accepted(api, person)
    await _accepted(api, a_person())  # somebody else

    answer = await api.http.post(ACCESS, json={"phone": person["phone"]}, headers=_operator(api))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {r["dossier_id"] for r in body["records"]} == {first["dossier_id"], second["dossier_id"]}
    record = body["records"][0]
    assert (record["service"], record["kind"]) == ("post_office", "applicant")
    assert record["purposes"] == ["notifications", "result_delivery"]
    assert record["held_until"] is None and record["erased_at"] is None
    assert record["collected_at"].endswith("+07:00")
    assert "Lê Thị Hoa" not in answer.text and person["id_number"] not in answer.text
    row = await _audit(database_url, body["request_id"])
    assert (row.kind, row.by, row.requester, row.role) == ("access", "phone", "operator-1", "operator")
    assert row.subject == vault_of(database_url).index.phone(person["phone"])
    assert person["phone"] not in " ".join(str(v) for v in row)
    assert len(json.loads(row.found)) == 2 and json.loads(row.erased) == []


async def test_an_access_request_by_id_number_finds_the_same_records(api: PostOfficeClient) -> None:
    person = a_person()
    receipt = await _accepted(api, person)

    answer = await api.http.post(ACCESS, json={"id_number": person["id_number"]}, headers=_operator(api))

    assert answer.status_code == 200, answer.text
    assert [r["dossier_id"] for r in answer.json()["records"]] == [receipt["dossier_id"]]


async def test_an_erasure_request_by_id_number_erases_every_record_found_and_announces_each_once(
    api: PostOfficeClient, postal_topic: PostalTopic, database_url: str
) -> None:
    person = a_person()
    first, second = await _accepted(api, person), await _accepted(api, person)
    other = await _accepted(api, a_person())

    answer = await api.http.post(ERASURE, json={"id_number": person["id_number"]}, headers=_operator(api))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {e["dossier_id"] for e in body["erased"]} == {first["dossier_id"], second["dossier_id"]}
    assert all(e["kinds"] == ["applicant"] for e in body["erased"])
    both = {first["dossier_id"], second["dossier_id"]}
    await postal_topic.wait_until(
        lambda: [e for _, e in postal_topic.records if e.subject in both and e.type.endswith("_erased")],
        lambda found: len(found) >= 2,
    )
    await postal_topic.settled()
    for receipt in (first, second):
        (event,) = [
            e for e in postal_topic.of(receipt["dossier_id"]) if e.type == "postal.personal_data_erased"
        ]
        assert event.data.model_dump()["reason"] == "request"
    contact = await api.http.get(
        f"/v1/dossiers/{first['item_id']}/contact",
        params={"purpose": "notifications"},
        headers=_operator(api),
    )
    assert contact.json()["erased"] is True and contact.json()["reason"] == "request"
    kept = await api.http.get(
        f"/v1/dossiers/{other['item_id']}/contact",
        params={"purpose": "notifications"},
        headers=_operator(api),
    )
    assert kept.json()["erased"] is False
    row = await _audit(database_url, body["request_id"])
    assert (row.kind, row.by) == ("erasure", "id_number") and len(json.loads(row.erased)) == 2
    # Once erased, the indexes are gone too: the same number finds nothing more.
    again = await api.http.post(ACCESS, json={"id_number": person["id_number"]}, headers=_operator(api))
    assert again.json()["records"] == []


async def test_an_erasure_request_by_dossier_erases_it_and_then_answers_it_already_erased(
    api: PostOfficeClient,
) -> None:
    receipt = await _accepted(api, a_person())

    first = await api.http.post(ERASURE, json={"dossier": receipt["dossier_id"]}, headers=_operator(api))
    second = await api.http.post(ERASURE, json={"dossier": receipt["dossier_id"]}, headers=_operator(api))

    assert [e["dossier_id"] for e in first.json()["erased"]] == [receipt["dossier_id"]]
    assert second.json()["erased"] == []
    assert [r["erasure_reason"] for r in second.json()["already_erased"]] == ["request"]


@pytest.mark.parametrize("path", [ACCESS, ERASURE])
async def test_only_an_operator_may_ask(api: PostOfficeClient, path: str) -> None:
    answer = await api.http.post(
        path, json={"phone": "0912345678"}, headers={"Authorization": f"Bearer {api.tokens.clerk}"}
    )

    assert answer.status_code == 403
    assert answer.json()["reason"] == "role_not_allowed"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"phone": "0912345678", "id_number": "001085012345"},
        {"phone": "12345"},
        {"id_number": "12 34"},
        {"dossier": "not-a-uuid"},
    ],
)
async def test_bad_input_is_refused_with_a_reason(api: PostOfficeClient, body: dict[str, str]) -> None:
    path = ERASURE if "dossier" in body else ACCESS

    answer = await api.http.post(path, json=body, headers=_operator(api))

    assert answer.status_code == 422, answer.text
    assert answer.json()["reason"] == "invalid_request"
    assert not [value for value in body.values() if value and value in answer.text]  # never echoed


async def test_the_request_audit_is_append_only(database_url: str, api: PostOfficeClient) -> None:
    answer = await api.http.post(ACCESS, json=a_person() | {"id_number": None}, headers=_operator(api))
    engine = make_engine(database_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(
                    text("DELETE FROM post_office_personal_data_request WHERE id = :i"),
                    {"i": answer.json()["request_id"]},
                )
    finally:
        await engine.dispose()


async def test_operators_list_the_requests_newest_first_without_the_numbers_that_named_the_person(
    api: PostOfficeClient,
) -> None:
    person = a_person()
    receipt = await _accepted(api, person)
    access = await api.http.post(ACCESS, json={"phone": person["phone"]}, headers=_operator(api))
    erasure = await api.http.post(ERASURE, json={"id_number": person["id_number"]}, headers=_operator(api))
    assert (access.status_code, erasure.status_code) == (200, 200), erasure.text

    listed = await api.http.get("/v1/audit/personal-data-requests", headers=_operator(api))

    assert listed.status_code == 200, listed.text
    entries = {e["request_id"]: e for e in listed.json()["requests"]}
    asked, erased = entries[access.json()["request_id"]], entries[erasure.json()["request_id"]]
    ids = [e["request_id"] for e in listed.json()["requests"]]
    assert ids.index(erasure.json()["request_id"]) < ids.index(access.json()["request_id"])  # newest first
    assert (asked["kind"], asked["by"], asked["requester"], asked["role"]) == (
        "access",
        "phone",
        "operator-1",
        "operator",
    )
    assert asked["found"] == [{"dossier_id": receipt["dossier_id"], "kind": "applicant"}]
    assert (erased["kind"], erased["by"]) == ("erasure", "id_number")
    assert erased["erased"] == [{"dossier_id": receipt["dossier_id"], "kind": "applicant"}]
    assert erased["requested_at"].endswith("+07:00")
    assert person["phone"] not in listed.text and person["id_number"] not in listed.text

    clerk = await api.http.get(
        "/v1/audit/personal-data-requests", headers={"Authorization": f"Bearer {api.tokens.clerk}"}
    )
    assert (clerk.status_code, clerk.json()["reason"]) == (403, "role_not_allowed")
