"""The query API against PostgreSQL: the public lookup (no personal data, no probing) and the staff
lookups, with the authorisation of every endpoint, filters and keyset pagination."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.enums import ServiceForm, Stage
from contracts.envelope import Envelope
from contracts.events import Event
from contracts.samples import SAMPLE_ADDRESS, SAMPLE_AGENCY, SAMPLE_APPLICANT, SAMPLE_POST_OFFICE, VIETNAM
from services.shared.auth import Role
from services.shared.auth.registry import CredentialRegistry
from services.tracker.app import Tracker, build
from tests.tracker.journeys import Dossier, journey, new_dossier
from tests.tracker.support import credential, records_of, settings_for

pytestmark = pytest.mark.postgres

OTHER_AGENCY = "000.00.02.H22"
OTHER_POST_OFFICE = "700000"
TODAY = datetime(2025, 3, 20, 10, 0, tzinfo=UTC)
PERSONAL = [SAMPLE_APPLICANT.name, SAMPLE_APPLICANT.phone, SAMPLE_APPLICANT.id_number, SAMPLE_ADDRESS.line]
STAFF_IDS = ["clerk-0042", "courier-0011", "postman-0007", "officer-0003"]


@pytest.fixture
async def api_tracker(migrated_database: str) -> AsyncIterator[Tracker]:
    built = build(
        settings_for(migrated_database, public_lookup_failures=3), consume=False, clock=lambda: TODAY
    )
    yield built
    await built.dispose()


@pytest.fixture
async def client(api_tracker: Tracker) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api_tracker.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://tracker") as http:
        yield http


async def feed(tracker: Tracker, envelopes: list[Envelope[Event]]) -> None:
    await tracker.processor.process(records_of(envelopes))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def tokens(tracker: Tracker) -> dict[str, str]:
    return {
        "operator": await credential(tracker.engine, Role.OPERATOR),
        "agency": await credential(tracker.engine, Role.AGENCY, SAMPLE_AGENCY),
        "other_agency": await credential(tracker.engine, Role.AGENCY, OTHER_AGENCY),
        "post_office": await credential(tracker.engine, Role.POST_OFFICE, SAMPLE_POST_OFFICE),
        "other_post_office": await credential(tracker.engine, Role.POST_OFFICE, OTHER_POST_OFFICE),
    }


def elsewhere(dossier: Dossier) -> Envelope[Event]:
    """An acceptance at another post office for another agency."""
    return dossier.envelope(
        "postal.dossier_accepted",
        journey(dossier)[0].time,
        agency_code=OTHER_AGENCY,
        post_office_code=OTHER_POST_OFFICE,
    )


# --------------------------------------------------------------------------- public lookup


@pytest.mark.parametrize("form", list(ServiceForm))
async def test_the_public_lookup_shows_stage_dates_and_offices_and_no_personal_data(
    api_tracker: Tracker, client: httpx.AsyncClient, form: ServiceForm
) -> None:
    dossier = new_dossier(form)
    events = journey(dossier)
    out_for_delivery = [i for i, e in enumerate(events) if e.type == "postal.result_out_for_delivery"]
    await feed(api_tracker, events[: out_for_delivery[0] + 1] if out_for_delivery else events)
    reference = dossier.result_item_id if form is ServiceForm.RECEIVE_RESULT else dossier.item_id

    answer = await client.get(
        f"/public/dossiers/{reference}", params={"phone_last4": SAMPLE_APPLICANT.phone[-4:]}
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = Stage.RESULT_READY if form is ServiceForm.SEND_DOSSIER else Stage.OUT_FOR_DELIVERY
    assert body["stage"] == expected.value and body["reference"] == reference
    assert body["agency"] == {"code": SAMPLE_AGENCY, "name": "Bộ phận Một cửa (mẫu)"}
    if form is not ServiceForm.SEND_DOSSIER:
        assert body["holder"] == {
            "kind": "COURIER",
            "office": {"code": SAMPLE_POST_OFFICE, "name": "Bưu cục Hoàn Kiếm (mẫu)"},
        }
    if form is not ServiceForm.RECEIVE_RESULT:
        assert body["accepted_at"] is not None and body["post_office"]["code"] == SAMPLE_POST_OFFICE
    text = answer.text
    for value in [*PERSONAL, *STAFF_IDS, dossier.dossier_id]:
        assert value is not None and value not in text


async def test_the_public_lookup_finds_a_dossier_by_any_of_its_references(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    await feed(api_tracker, journey(dossier))
    last4 = {"phone_last4": SAMPLE_APPLICANT.phone[-4:]}

    for reference in (dossier.item_id.lower(), dossier.result_item_id, dossier.agency_dossier_code):
        answer = await client.get(f"/public/dossiers/{reference}", params=last4)
        assert answer.status_code == 200, reference
        assert answer.json()["stage"] == "DELIVERED"


async def test_a_wrong_phone_gets_the_same_answer_as_an_unknown_item(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    await feed(api_tracker, journey(dossier))
    unknown = new_dossier(ServiceForm.SEND_DOSSIER)

    wrong = await client.get(f"/public/dossiers/{dossier.item_id}", params={"phone_last4": "0000"})
    missing = await client.get(f"/public/dossiers/{unknown.item_id}", params={"phone_last4": "0000"})

    assert wrong.status_code == missing.status_code == 404
    assert wrong.json() == missing.json()
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_repeated_failed_lookups_are_refused_for_a_while_even_with_the_right_digits(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    await feed(api_tracker, journey(dossier))
    url = f"/public/dossiers/{dossier.item_id}"

    for guess in ("0001", "0002", "0003"):
        assert (await client.get(url, params={"phone_last4": guess})).status_code == 404
    refused = await client.get(url, params={"phone_last4": SAMPLE_APPLICANT.phone[-4:]})

    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert refused.json()["reason"] == "too_many_failed_lookups"


@pytest.mark.parametrize(
    ("reference", "last4"),
    [
        ("EB123456784VN", "5678"),
        ("EB12345678VN", "5678"),
        ("EB123456785VN", "56789"),
        ("EB123456785VN", "56a8"),
    ],
)
async def test_a_malformed_reference_or_phone_suffix_is_refused_with_422(
    client: httpx.AsyncClient, reference: str, last4: str
) -> None:
    answer = await client.get(f"/public/dossiers/{reference}", params={"phone_last4": last4})

    assert answer.status_code == 422
    assert last4 not in json.dumps(answer.json()) or last4 == "5678"


# --------------------------------------------------------------------------- authorisation


@pytest.mark.parametrize(
    "path", ["/dossiers", "/dossiers/00000000-0000-4000-8000-000000000000", "/anomalies"]
)
@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic abc"])
async def test_every_staff_endpoint_refuses_a_missing_or_invalid_credential(
    client: httpx.AsyncClient, path: str, header: str | None
) -> None:
    answer = await client.get(path, headers={"Authorization": header} if header else {})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["reason"] == "unauthenticated"


async def test_a_revoked_credential_is_refused(api_tracker: Tracker, client: httpx.AsyncClient) -> None:
    token = await credential(api_tracker.engine, Role.OPERATOR)
    assert (await client.get("/dossiers", headers=bearer(token))).status_code == 200
    registry = CredentialRegistry(api_tracker.engine)
    for record in await registry.list():
        await registry.revoke(record.credential_id, now=datetime.now(UTC))

    assert (await client.get("/dossiers", headers=bearer(token))).status_code == 401


async def test_a_dossier_is_shown_to_operators_its_agency_and_the_post_offices_that_handled_it(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    await feed(api_tracker, journey(dossier))
    who = await tokens(api_tracker)
    url = f"/dossiers/{dossier.dossier_id}"

    seen = {name: (await client.get(url, headers=bearer(token))).status_code for name, token in who.items()}

    assert seen == {
        "operator": 200,
        "agency": 200,
        "other_agency": 404,
        "post_office": 200,
        "other_post_office": 404,
    }


async def test_the_dossier_detail_has_custody_and_the_full_history_with_its_anomalies(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    dossier = new_dossier(ServiceForm.SEND_AND_RECEIVE)
    events = journey(dossier)
    stray = dossier.envelope("postal.dossier_in_transit", events[-1].time + timedelta(minutes=1), 9)
    await feed(api_tracker, [*events, stray])
    token = await credential(api_tracker.engine, Role.OPERATOR)

    body = (await client.get(f"/dossiers/{dossier.dossier_id}", headers=bearer(token))).json()

    assert body["stage"] == "DELIVERED" and body["custody"] == {
        "kind": "CITIZEN",
        "code": None,
        "office": None,
    }
    assert [item["event_id"] for item in body["history"]][:-1] == [str(e.id) for e in events]
    assert body["history"][0]["stage_after"] == "ACCEPTED"
    assert body["history"][0]["custody_after"]["code"] == SAMPLE_POST_OFFICE
    assert body["history"][-1]["anomaly"]["reason"] == "after_close"
    assert body["anomaly_count"] == 1
    assert {"kind": "POST_OFFICE", "code": SAMPLE_POST_OFFICE} in body["parties"]
    for value in PERSONAL:
        assert value is not None and value not in json.dumps(body, ensure_ascii=False)


async def test_the_dossier_detail_lists_the_rule_breaches_recorded_on_it(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    at = journey(dossier)[3].time  # the receipt
    second = dossier.envelope(
        "agency.supplement_requested",
        at + timedelta(days=6),
        1,
        request_number=2,
        rule_set="decree_118_2025",
        breach=True,
        breach_reasons=("second_supplement_request", "late_supplement_request"),
    )
    late_slip = dossier.envelope("agency.delay_notified", at + timedelta(days=8), breach=True)
    events = [
        *journey(dossier)[:4],
        dossier.envelope("agency.supplement_requested", at + timedelta(hours=1), breach=False),
        dossier.envelope("agency.supplement_received", at + timedelta(days=5)),
        second,
        dossier.envelope("agency.supplement_received", at + timedelta(days=7), 1),
        late_slip,
    ]
    await feed(api_tracker, events)
    token = await credential(api_tracker.engine, Role.OPERATOR)

    body = (await client.get(f"/dossiers/{dossier.dossier_id}", headers=bearer(token))).json()

    assert body["supplement_requests"] == 2
    assert [(b["reason"], b["event_id"]) for b in body["breaches"]] == [
        ("second_supplement_request", str(second.id)),
        ("late_supplement_request", str(second.id)),
        ("late_delay_notice", str(late_slip.id)),
    ]


PASSPORT = "1.001456"


async def test_the_dossier_detail_grades_the_agency_clock_as_the_quality_index_counts_it(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    # Filed Mon 2 Feb 2026, appointment Mon 23 Feb after Tết (Decree 118's rules, the index's formula).
    # Asked twice, the last supplement arriving Fri 6 Feb: due Wed 25 Feb, ready Mon 9 Feb — late.
    filed = datetime(2026, 2, 2, 9, tzinfo=VIETNAM)

    def dossier_until(*later: tuple[str, datetime, int, dict[str, Any]]) -> tuple[str, list[Envelope[Event]]]:
        dossier = new_dossier(ServiceForm.SEND_DOSSIER)
        receipt = dossier.envelope(
            "agency.dossier_received",
            filed,
            filed_at=filed,
            procedure_code=PASSPORT,
            legal_due_date=date(2026, 2, 23),
            appointment_date=date(2026, 2, 23),
            appointment_later_than_legal=False,
        )
        # A passport (8 working days, in the catalog): a restart after a supplement has a date too.
        start = [
            dossier.envelope("postal.dossier_accepted", filed - timedelta(days=3), procedure_code=PASSPORT),
            dossier.envelope("postal.dossier_handed_to_agency", filed, signed_at=filed),
        ]
        rest = [dossier.envelope(kind, at, n, **changes) for kind, at, n, changes in later]
        return dossier.dossier_id, [*start, receipt, *rest]

    def at(day: int, month: int = 2) -> datetime:
        return datetime(2026, month, day, 10, tzinfo=VIETNAM)

    on_its_date, on_time = dossier_until(("agency.result_ready", at(23), 0, {}))
    asked_twice, twice = dossier_until(
        ("agency.supplement_requested", at(3), 0, {}),
        ("agency.supplement_received", at(4), 0, {"received_at": at(4)}),
        ("agency.supplement_requested", at(5), 1, {}),
        ("agency.supplement_received", at(6), 1, {"received_at": at(6)}),
        ("agency.result_ready", at(9), 0, {}),
    )
    slip = {"previous_due_date": date(2026, 2, 23), "new_due_date": date(2026, 2, 27)}
    late_slip, late = dossier_until(
        ("agency.delay_notified", at(23), 0, {**slip, "issued_on": date(2026, 2, 23), "breach": True}),
        ("agency.result_ready", at(26), 0, {}),
    )
    valid_slip, valid = dossier_until(
        ("agency.delay_notified", at(12), 0, {**slip, "issued_on": date(2026, 2, 12), "breach": False}),
        ("agency.result_ready", at(26), 0, {}),
    )
    still_open, running = dossier_until()
    await feed(api_tracker, [*on_time, *twice, *late, *valid, *running])
    token = await credential(api_tracker.engine, Role.OPERATOR)

    async def graded(dossier_id: str) -> object:
        body = (await client.get(f"/dossiers/{dossier_id}", headers=bearer(token))).json()
        return body["agency_timeliness"]

    assert await graded(on_its_date) == "on_time"
    assert await graded(asked_twice) == "late", "a second supplement request is late whatever the dates"
    assert await graded(late_slip) == "late", "a late apology slip does not move the index's date"
    assert await graded(valid_slip) == "early"
    assert await graded(still_open) is None


async def test_the_dossier_detail_of_a_closed_dossier_shows_the_stage_and_keeps_the_history(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    at = journey(dossier)[3].time  # the receipt
    events = [
        *journey(dossier)[:4],
        dossier.envelope("agency.supplement_requested", at + timedelta(hours=1), breach=False),
        dossier.envelope("agency.dossier_closed", at + timedelta(days=16)),
    ]
    await feed(api_tracker, events)
    token = await credential(api_tracker.engine, Role.OPERATOR)

    body = (await client.get(f"/dossiers/{dossier.dossier_id}", headers=bearer(token))).json()

    assert body["stage"] == "CLOSED"
    assert [h["type"] for h in body["history"]][-2:] == [
        "agency.supplement_requested",
        "agency.dossier_closed",
    ]


async def test_lists_stay_within_each_credential_scope(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    ours = new_dossier(ServiceForm.SEND_DOSSIER)
    theirs = new_dossier(ServiceForm.SEND_DOSSIER)
    await feed(api_tracker, [*journey(ours), elsewhere(theirs)])
    who = await tokens(api_tracker)

    async def listed(name: str, **params: Any) -> tuple[int, set[str]]:
        answer = await client.get("/dossiers", params=params, headers=bearer(who[name]))
        ids = {item["dossier_id"] for item in answer.json().get("items", [])}
        return answer.status_code, ids

    assert await listed("operator") == (200, {ours.dossier_id, theirs.dossier_id})
    assert await listed("operator", agency=OTHER_AGENCY) == (200, {theirs.dossier_id})
    assert await listed("agency") == (200, {ours.dossier_id})
    assert await listed("other_agency") == (200, {theirs.dossier_id})
    assert await listed("post_office") == (200, {ours.dossier_id})
    assert await listed("other_post_office") == (200, {theirs.dossier_id})
    assert (await listed("agency", agency=OTHER_AGENCY))[0] == 403


async def test_anomalies_are_listed_for_operators_only(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    dossier = new_dossier(ServiceForm.SEND_DOSSIER)
    events = journey(dossier)
    await feed(api_tracker, [events[2]])
    who = await tokens(api_tracker)

    seen = {name: (await client.get("/anomalies", headers=bearer(token))) for name, token in who.items()}

    assert {name: answer.status_code for name, answer in seen.items()} == {
        "operator": 200,
        "agency": 403,
        "other_agency": 403,
        "post_office": 403,
        "other_post_office": 403,
    }
    items = seen["operator"].json()["items"]
    assert [(i["event_id"], i["reason"]) for i in items] == [(str(events[2].id), "no_start_event")]


# --------------------------------------------------------------------------- filters and pages


async def test_keyset_pages_walk_every_dossier_once_newest_first(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    dossiers = [new_dossier(ServiceForm.SEND_DOSSIER) for _ in range(7)]
    await feed(api_tracker, [e for n, d in enumerate(dossiers) for e in journey(d)[: 1 + n % 4]])
    token = await credential(api_tracker.engine, Role.OPERATOR)

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/dossiers", params=params, headers=bearer(token))).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert sorted(i["dossier_id"] for i in seen) == sorted(d.dossier_id for d in dossiers)
    keys = [(i["last_event_at"], i["dossier_id"]) for i in seen]
    assert keys == sorted(keys, reverse=True)


async def test_overdue_dossiers_are_listed_most_overdue_first(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    in_post = new_dossier(ServiceForm.SEND_DOSSIER)  # inbound leg due 18/3: overdue on 20/3
    at_agency = new_dossier(ServiceForm.SEND_DOSSIER)  # agency due 27/3: not overdue
    collected = new_dossier(ServiceForm.SEND_DOSSIER)  # closed: no clock
    await feed(api_tracker, [*journey(in_post)[:2], *journey(at_agency)[:4], *journey(collected)])
    token = await credential(api_tracker.engine, Role.OPERATOR)

    body = (await client.get("/dossiers", params={"overdue": "true"}, headers=bearer(token))).json()

    assert [i["dossier_id"] for i in body["items"]] == [in_post.dossier_id]
    assert body["items"][0]["clock"] == {"leg": "INBOUND_POSTAL", "due_date": "2025-03-18", "overdue": True}


async def test_lists_filter_by_stage_procedure_and_reference(
    api_tracker: Tracker, client: httpx.AsyncClient
) -> None:
    first = new_dossier(ServiceForm.SEND_DOSSIER)
    second = new_dossier(ServiceForm.SEND_DOSSIER)
    await feed(api_tracker, [*journey(first)[:2], *journey(second)[:4]])
    token = await credential(api_tracker.engine, Role.OPERATOR)

    async def ids(**params: Any) -> set[str]:
        answer = await client.get("/dossiers", params=params, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        return {item["dossier_id"] for item in answer.json()["items"]}

    assert await ids(stage="IN_TRANSIT") == {first.dossier_id}
    assert await ids(stage="RECEIVED", procedure="1.001234") == {second.dossier_id}
    assert await ids(procedure="1.000001") == set()
    assert await ids(reference=second.item_id) == {second.dossier_id}


@pytest.mark.parametrize("cursor", ["not-a-cursor", "WyJkdWUiLCAiMjAyNS0wMy0xOCIsICJ4Il0"])
async def test_a_cursor_the_list_did_not_hand_out_is_refused(
    api_tracker: Tracker, client: httpx.AsyncClient, cursor: str
) -> None:
    token = await credential(api_tracker.engine, Role.OPERATOR)

    answer = await client.get("/dossiers", params={"cursor": cursor}, headers=bearer(token))

    assert answer.status_code == 400 and answer.json()["reason"] == "invalid_cursor"


async def test_the_openapi_document_is_committed_and_current() -> None:
    from services.tracker.openapi import OUTPUT, render

    assert OUTPUT.read_text(encoding="utf-8") == render(), "run python -m services.tracker.openapi"
