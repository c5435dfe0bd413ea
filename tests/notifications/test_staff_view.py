"""Staff read what a dossier's applicant was told and how it went (issue 23): GET
/v1/dossiers/{dossier_id}/messages on the real service, its real post office, PostgreSQL and Kafka. The
accepting office's clerk, the dossier's agency and operators read it; another office gets the 404 of an
unknown dossier; the answer holds nothing personal."""

from __future__ import annotations

import typing
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from contracts.enums import Stage
from services.notifications.adapters import repository
from services.notifications.ports import Channel, Receipt, ReceiptStatus
from services.notifications.staff_api import Status
from tests.fixtures.privacy_scan import Needles, Person
from tests.notifications.core_support import (
    Rig,
    consumed,
    dispatched_until,
    mailbox,
    new_email,
    rig,
    stage,
)
from tests.post_office.helpers import acceptance, new_item_id
from tests.tracker.support import publish

__all__ = ["mailbox", "rig"]

DELIVERED_AT = datetime(2026, 3, 10, 3, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Told:
    dossier_id: str
    person: Person
    address: str


async def told_by_email_after_the_sms_failed(rig: Rig) -> Told:
    """A dossier accepted at the clerk's office (100000) for agency 000.00.01.H22, the applicant
    consenting to SMS and e-mail: the SMS provider refuses the number for good, the message falls back
    to the e-mail, which is sent and then reported delivered."""
    person, address = Person.unique(), new_email()
    body = acceptance(new_item_id(), notify_by=["EMAIL", "SMS"])
    body["applicant"] = person.contact() | {"email": address}
    answer = await rig.post_office.post(
        "/v1/dossiers", json=body, headers={"Authorization": f"Bearer {rig.tokens.clerk}"}
    )
    assert answer.is_success, answer.text
    receipt = answer.json()

    class Accepted:
        id = uuid.UUID(receipt["event_id"])
        type = "postal.dossier_accepted"
        time = datetime.fromisoformat(body["accepted_at"])

    events = [stage(receipt["dossier_id"], Accepted(), Stage.ACCEPTED)]
    await publish(rig.admin, events)
    await consumed(rig, events)
    rig.sms.refusing.add("+84" + person.phone[1:])
    await dispatched_until(rig, address, 1)
    email = next(m for m in await rig.messages(receipt["dossier_id"]) if m.channel == "email")
    await rig.notifications.deliveries.apply(
        Receipt(
            Channel.EMAIL,
            email.provider_message_id or "unknown",
            ReceiptStatus.DELIVERED,
            code="250",
            reported_at_ms=int(DELIVERED_AT.timestamp() * 1000),
            client_reference=email.client_reference,
        )
    )
    return Told(receipt["dossier_id"], person, address)


async def read(rig: Rig, dossier_id: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=rig.app), base_url="http://notifications.test", headers=headers
    ) as http:
        return await http.get(f"/v1/dossiers/{dossier_id}/messages")


def outcomes(answer: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (m["kind"], m["channel"], m["status"], m["reason"], m["provider_code"], m["fallback_from"])
        for m in answer["messages"]
    ]


async def test_the_accepting_offices_clerk_sees_each_message_with_its_outcome_oldest_first(rig: Rig) -> None:
    told = await told_by_email_after_the_sms_failed(rig)

    response = await read(rig, told.dossier_id, rig.tokens.clerk)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["dossier_id"] == told.dossier_id
    assert outcomes(answer) == [
        ("accepted", "sms", "failed", "108", "108", None),
        ("accepted", "email", "sent", None, "250", "sms"),
    ]
    sms, email = answer["messages"]
    assert (sms["attempts"], email["attempts"]) == (1, 1)
    assert sms["sent_at"] is None and sms["delivery"] is None
    assert email["sent_at"] is not None
    assert email["delivery"] == {
        "status": "delivered",
        "code": "250",
        "reported_at": "2026-03-10T10:05:00+07:00",
    }
    assert sms["created_at"] <= email["created_at"]


async def test_another_office_gets_the_same_404_as_an_unknown_dossier(rig: Rig) -> None:
    told = await told_by_email_after_the_sms_failed(rig)

    other = await read(rig, told.dossier_id, rig.tokens.other_clerk)
    unknown = await read(rig, str(uuid.uuid4()), rig.tokens.clerk)

    assert (other.status_code, unknown.status_code) == (404, 404)
    assert other.json() == unknown.json()
    assert other.json()["reason"] == "not_found"
    assert other.headers["content-type"] == "application/problem+json"


async def test_an_operator_and_the_dossiers_agency_read_what_the_clerk_reads(rig: Rig) -> None:
    told = await told_by_email_after_the_sms_failed(rig)

    clerk = await read(rig, told.dossier_id, rig.tokens.clerk)
    operator = await read(rig, told.dossier_id, rig.tokens.operator)
    agency = await read(rig, told.dossier_id, rig.tokens.agency)

    assert clerk.status_code == operator.status_code == agency.status_code == 200
    assert clerk.json() == operator.json() == agency.json()


async def test_the_answer_holds_no_address_phone_name_or_text(rig: Rig) -> None:
    told = await told_by_email_after_the_sms_failed(rig)
    [sent] = rig.mailbox.to(told.address)
    plain = sent.get_body(preferencelist=("plain",))
    assert plain is not None
    rendered = [line.strip() for line in plain.get_content().splitlines() if len(line.strip()) > 20]

    response = await read(rig, told.dossier_id, rig.tokens.operator)

    assert response.status_code == 200
    assert Needles([*told.person.strings(), told.address]).found_in(response.text) == []
    assert [line for line in rendered if line in response.text] == []
    assert rendered, "the e-mail had text to look for"


async def test_a_caller_without_a_valid_credential_is_refused_with_401(rig: Rig) -> None:
    dossier_id = str(uuid.uuid4())

    for token in (None, rig.tokens.revoked, "not-a-token"):
        response = await read(rig, dossier_id, token)
        assert response.status_code == 401, token
        assert response.json()["reason"] == "unauthenticated"
        assert response.headers["www-authenticate"] == "Bearer"


async def test_a_dossier_id_that_is_not_a_lower_case_uuid_is_refused_with_422(rig: Rig) -> None:
    response = await read(rig, str(uuid.uuid4()).upper(), rig.tokens.operator)

    assert response.status_code == 422
    assert response.json()["reason"] == "invalid_dossier_id"


def test_the_api_names_every_status_the_store_gives_a_message() -> None:
    assert set(typing.get_args(Status)) == {
        repository.PENDING,
        repository.SENDING,
        repository.SENT,
        repository.FAILED,
        repository.SUPPRESSED,
        repository.DEAD,
    }
