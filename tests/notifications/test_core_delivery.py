"""How messages go out, on the real broker, database, post office and SMTP server: quiet hours (a fixed
clock), an erased applicant gets nothing more, a provider that keeps deferring ends in a dead letter with
its reason, the agency's desk is told of an overdue clock, and the service's endpoints and metrics."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from contracts.enums import ErasureReason, Leg, Outcome, Stage
from contracts.envelope import Envelope
from contracts.events import ClockOverdue, Event, PersonalDataErased, ResultReady
from contracts.sources import TURNAROUND_SOURCE
from contracts.values import dossier_id_for_agency_code
from services.notifications.adapters.tables import contact, dead_letter
from services.post_office.adapters.tables import personal_data_tables
from services.shared.kafka_security import PLAINTEXT
from services.shared.personal_data.vault import Vault
from tests.fixtures.kafka import KafkaLogin
from tests.notifications.core_support import (
    DESK,
    VN,
    Accepted,
    Rig,
    accept,
    agency,
    consumed,
    dispatched_until,
    mailbox,
    new_email,
    postal,
    rig,
    sentinels,
    stage,
)
from tests.post_office.conftest import settings_for
from tests.post_office.helpers import AGENCY, new_agency_dossier_code
from tests.tracker.support import publish

__all__ = ["mailbox", "rig"]

NO_KAFKA = KafkaLogin(bootstrap="127.0.0.1:9", security=PLAINTEXT, env_vars=())
"""The post office's settings, for its vault's keys only."""


def vn(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=VN).astimezone(UTC)


async def accepted_and_announced(rig: Rig, notify_by: list[str], email: str | None) -> Accepted:
    accepted = await accept(rig, notify_by=notify_by, email=email)
    events = [stage(accepted.dossier_id, accepted, Stage.ACCEPTED)]
    await publish(rig.admin, events)
    await consumed(rig, events)
    return accepted


def result_ready(accepted: Accepted) -> list[Envelope[Event]]:
    ready = agency(
        accepted.dossier_id,
        ResultReady(
            agency_code=AGENCY,
            officer_id="officer-0003",
            agency_dossier_code=new_agency_dossier_code(),
            outcome=Outcome.APPROVED,
            result_reference=f"QD-{uuid.uuid4().hex[:6]}",
        ),
        datetime(2025, 3, 21, 15, 0, tzinfo=VN),
    )
    return [ready, stage(accepted.dossier_id, ready, Stage.RESULT_READY)]


async def test_an_sms_ready_at_night_waits_until_seven_and_the_email_goes_at_once(rig: Rig) -> None:
    rig.clock.at = vn(10, 22, 30)
    address = new_email()
    accepted = await accepted_and_announced(rig, ["SMS"], new_email())
    by_email = await accepted_and_announced(rig, ["EMAIL"], address)

    await dispatched_until(rig, address, 1)
    assert by_email.item_id in rig.mailbox.to(address)[0].get_content()
    assert not [m for _, m in rig.sms.sent if accepted.item_id in m.body]
    sms_row = next(m for m in await rig.messages(accepted.dossier_id) if m.channel == "sms")
    assert (sms_row.status, sms_row.next_attempt_at, sms_row.attempts) == ("pending", vn(11, 7, 0), 0)

    rig.clock.at = vn(11, 6, 59)
    await rig.dispatch()
    assert not [m for _, m in rig.sms.sent if accepted.item_id in m.body]

    rig.clock.at = vn(11, 7, 0)
    await rig.dispatch()
    await rig.dispatch()
    sent = [(at, m) for at, m in rig.sms.sent if accepted.item_id in m.body]
    assert len(sent) == 1
    at, sms = sent[0]
    assert at == vn(11, 7, 0)
    assert sms.to == "+84912345678" and sms.template == "accepted.sms"
    assert "Bưu cục" in sms.body


async def test_an_applicant_erased_at_the_owner_gets_nothing_more(rig: Rig) -> None:
    rig.clock.at = vn(12, 10, 0)
    address = new_email()
    accepted = await accepted_and_announced(rig, ["EMAIL"], address)
    await dispatched_until(rig, address, 1)

    settings = settings_for(rig.database_url, NO_KAFKA)
    vault = Vault(personal_data_tables, settings.keyring(), settings.blind_index())
    async with rig.engine.begin() as conn:
        assert await vault.erase(conn, accepted.dossier_id, ErasureReason.REQUEST.value, rig.clock.at) == 1
    # A day later our sealed copy has run out: the owner is asked again, and answers "erased".
    rig.clock.at = vn(13, 11, 0)
    events = result_ready(accepted)
    await publish(rig.admin, events)
    await consumed(rig, events)
    await rig.dispatch()

    assert len(rig.mailbox.to(address)) == 1
    outcomes = {(m.kind, m.status, m.reason) for m in await rig.messages(accepted.dossier_id)}
    assert outcomes == {("accepted", "sent", None), ("result_ready", "suppressed", "erased")}
    async with rig.engine.connect() as conn:
        kept = await conn.execute(select(contact).where(contact.c.dossier_id == accepted.dossier_id))
        assert kept.first() is None


async def test_the_owners_erasure_announcement_deletes_the_sealed_copy_at_once(rig: Rig) -> None:
    rig.clock.at = vn(14, 10, 0)
    address = new_email()
    accepted = await accepted_and_announced(rig, ["EMAIL"], address)
    await dispatched_until(rig, address, 1)
    erased = postal(
        accepted.dossier_id,
        PersonalDataErased(
            reason=ErasureReason.REQUEST,
            erased_at=datetime(2026, 3, 14, 10, 5, tzinfo=VN),
            kinds=["applicant"],
        ),
        datetime(2026, 3, 14, 10, 5, tzinfo=VN),
    )
    await publish(rig.admin, [erased])
    await consumed(rig, [erased])
    async with rig.engine.connect() as conn:
        kept = await conn.execute(select(contact).where(contact.c.dossier_id == accepted.dossier_id))
        assert kept.first() is None

    events = result_ready(accepted)
    await publish(rig.admin, events)
    await consumed(rig, events)
    await rig.dispatch()

    assert len(rig.mailbox.to(address)) == 1
    ready = [m for m in await rig.messages(accepted.dossier_id) if m.kind == "result_ready"]
    assert [(m.status, m.reason) for m in ready] == [("suppressed", "erased")]


async def test_a_mailbox_that_keeps_deferring_is_retried_with_backoff_then_dead_lettered(rig: Rig) -> None:
    start = vn(16, 9, 0)
    rig.clock.at = start
    address = new_email()
    rig.mailbox.deferring.add(address)
    accepted = await accepted_and_announced(rig, ["EMAIL"], address)

    async def row() -> tuple[str, int, datetime]:
        (m,) = await rig.messages(accepted.dossier_id)
        return m.status, m.attempts, m.next_attempt_at

    await rig.dispatch()
    assert await row() == ("pending", 1, start + timedelta(seconds=60))
    await rig.dispatch()  # not due yet: no attempt
    assert (await row())[1] == 1
    rig.clock.at = start + timedelta(seconds=60)
    await rig.dispatch()
    assert await row() == ("pending", 2, start + timedelta(seconds=60 + 120))
    rig.clock.at = start + timedelta(seconds=180)
    await rig.dispatch()
    rig.clock.at = start + timedelta(days=1)
    await rig.dispatch()

    (final,) = await rig.messages(accepted.dossier_id)
    assert (final.status, final.attempts, final.reason) == ("dead", 3, "451")
    async with rig.engine.connect() as conn:
        letter = (
            await conn.execute(select(dead_letter).where(dead_letter.c.message_id == final.message_id))
        ).one()
    assert (letter.channel, letter.kind, letter.reason, letter.attempts) == ("email", "accepted", "451", 3)
    assert rig.mailbox.to(address) == []


async def test_the_agency_desk_is_told_of_an_overdue_clock(rig: Rig) -> None:
    rig.clock.at = vn(17, 9, 0)
    accepted = await accepted_and_announced(rig, [], None)  # the citizen chose no channel: the desk still
    alert: Envelope[Event] = Envelope.new(
        ClockOverdue(leg=Leg.AGENCY_PROCESSING, due_date=date(2026, 3, 16), agency_code=AGENCY),
        subject=accepted.dossier_id,
        source=TURNAROUND_SOURCE,
        time=datetime(2026, 3, 17, 0, 5, tzinfo=VN),
    )
    events = [alert, *sentinels(accepted.item_id, accepted.dossier_id)]
    await publish(rig.admin, events)
    await consumed(rig, events)

    await dispatched_until(rig, DESK, 1)

    mails = [m for m in rig.mailbox.to(DESK) if accepted.item_id in str(m["Subject"])]
    assert [str(m["Subject"]) for m in mails] == [
        f"Hồ sơ {accepted.item_id} đã quá hạn giải quyết hồ sơ tại cơ quan (hạn ngày 16/03/2026)"
    ]


async def test_health_ready_and_metrics_name_no_person(rig: Rig) -> None:
    import httpx

    transport = httpx.ASGITransport(app=rig.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications.test") as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/ready")).status_code == 200
        metrics = (await http.get("/metrics")).text
    assert 'notifications_messages_total{channel="email",outcome="sent",template="accepted"}' in metrics
    assert 'notifications_messages_total{channel="none",outcome="suppressed",template="accepted"}' in metrics
    assert 'notifications_messages_total{channel="email",outcome="dead",template="accepted"}' in metrics
    assert "notifications_provider_latency_seconds_bucket" in metrics
    assert 'notifications_queue_depth{channel="sms"}' in metrics
    for address, _ in rig.mailbox.received:
        assert address not in metrics
    assert "912345678" not in metrics


async def test_a_dossier_registered_at_the_agency_desk_is_told_with_the_contact_the_agency_holds(
    rig: Rig,
) -> None:
    rig.clock.at = vn(20, 9, 0)
    address, code = new_email(), new_agency_dossier_code()
    registration = {
        "agency_dossier_code": code,
        "procedure_code": "1.004873",
        "filing_channel": "IN_PERSON",
        "filed_at": "2026-03-02T09:00:00+07:00",
        "applicant": {
            "name": "Trần Thị Bình",
            "phone": "0987654321",
            "email": address,
            "address": {"line": "5 Lê Lợi", "commune": "Phường Bến Thành", "province_code": "79"},
        },
        "delivery_address": {"line": "5 Lê Lợi", "commune": "Phường Bến Thành", "province_code": "79"},
        "notify_by": ["EMAIL"],
    }
    answer = await rig.agency.post(
        "/dossiers", json=registration, headers={"Authorization": f"Bearer {rig.tokens.agency}"}
    )
    assert answer.status_code == 201, answer.text
    dossier_id = dossier_id_for_agency_code(code)
    ready = agency(
        dossier_id,
        ResultReady(
            agency_code=AGENCY,
            officer_id="officer-0003",
            agency_dossier_code=code,
            outcome=Outcome.APPROVED,
            result_reference=f"QD-{uuid.uuid4().hex[:6]}",
        ),
        datetime(2026, 3, 5, 15, 0, tzinfo=VN),
    )
    events = [ready, stage(dossier_id, ready, Stage.RESULT_READY)]
    await publish(rig.admin, events)
    await consumed(rig, events)

    await dispatched_until(rig, address, 1)

    (mail,) = rig.mailbox.to(address)
    assert str(mail["Subject"]) == f"Hồ sơ {code} đã có kết quả"
    reads = await rig.agency.get(
        "/audit/personal-data-reads",
        params={"dossier": code},
        headers={"Authorization": f"Bearer {rig.tokens.operator}"},
    )
    assert reads.status_code == 200, reads.text
    assert [(r["purpose"], r["reader"]) for r in reads.json()["reads"]] == [
        ("notifications", "notifications")
    ]
