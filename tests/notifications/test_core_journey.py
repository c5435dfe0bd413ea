"""A dossier's journey on the real broker, database, post office and SMTP server: the stage changes make
exactly the expected e-mails, once each, also when every event is delivered twice; the contact is read
from the post office once, audited under the service's own credential, and kept only sealed."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select, text

from contracts.enums import (
    IdDocumentType,
    Outcome,
    RecipientKind,
    Stage,
)
from contracts.envelope import Envelope
from contracts.events import (
    DossierReceived,
    Event,
    ResultDelivered,
    ResultOutForDelivery,
    ResultReady,
)
from services.notifications.adapters.tables import contact
from tests.notifications.core_support import (
    VN,
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
from tests.post_office.helpers import (
    AGENCY,
    OFFICE,
    new_agency_dossier_code,
    new_item_id,
)
from tests.tracker.support import publish

__all__ = ["mailbox", "rig"]


def journey(item_id: str, dossier_id: str) -> dict[str, Envelope[Event]]:
    """The agency's receipt and result, and the result's delivery, as their producers publish them."""
    code = new_agency_dossier_code()
    received = agency(
        dossier_id,
        DossierReceived(
            agency_code=AGENCY,
            officer_id="officer-0003",
            agency_dossier_code=code,
            procedure_code="1.001193",
            item_id=item_id,
            filed_at=datetime(2025, 3, 17, 10, 15, tzinfo=VN),
            legal_due_date=date(2025, 3, 24),
            appointment_date=date(2025, 3, 24),
            appointment_later_than_legal=False,
        ),
        datetime(2025, 3, 17, 10, 20, tzinfo=VN),
    )
    ready = agency(
        dossier_id,
        ResultReady(
            agency_code=AGENCY,
            officer_id="officer-0003",
            agency_dossier_code=code,
            outcome=Outcome.APPROVED,
            result_reference=f"QD-{uuid.uuid4().hex[:6]}",
        ),
        datetime(2025, 3, 21, 15, 0, tzinfo=VN),
    )
    result_item = new_item_id("RR")
    out = postal(
        dossier_id,
        ResultOutForDelivery(
            result_item_id=result_item, courier_id="courier-7", post_office_code=OFFICE, attempt=1
        ),
        datetime(2025, 3, 25, 8, 0, tzinfo=VN),
    )
    delivered = postal(
        dossier_id,
        ResultDelivered(
            result_item_id=result_item,
            courier_id="courier-7",
            post_office_code=OFFICE,
            attempt=1,
            recipient_kind=RecipientKind.APPLICANT,
            id_document_type=IdDocumentType.CCCD,
            identity_verified=True,
        ),
        datetime(2025, 3, 25, 9, 30, tzinfo=VN),
    )
    return {"received": received, "ready": ready, "out": out, "delivered": delivered}


async def test_a_journey_sends_each_expected_email_once_even_when_its_events_come_twice(rig: Rig) -> None:
    address = new_email()
    accepted = await accept(rig, notify_by=["EMAIL"], email=address)
    item_id, dossier_id = accepted.item_id, accepted.dossier_id
    steps = journey(item_id, dossier_id)
    # Stages and facts in both orders: the receipt's stage before its fact, the others after.
    first = [
        stage(dossier_id, accepted, Stage.ACCEPTED),
        stage(dossier_id, steps["received"], Stage.RECEIVED),
        steps["received"],
        steps["ready"],
        stage(dossier_id, steps["ready"], Stage.RESULT_READY),
        steps["delivered"],
        stage(dossier_id, steps["delivered"], Stage.DELIVERED),
    ]
    await publish(rig.admin, first)
    await consumed(rig, first)
    # "Out for delivery", learned only after "delivered" was told: late, and no longer helpful.
    late = [
        steps["out"],
        stage(dossier_id, steps["out"], Stage.OUT_FOR_DELIVERY, late=True, current=Stage.DELIVERED),
    ]
    await publish(rig.admin, late)
    await consumed(rig, late)

    await dispatched_until(rig, address, 4)

    subjects = sorted(str(mail["Subject"]) for mail in rig.mailbox.to(address))
    assert subjects == sorted(
        [
            f"Hồ sơ {item_id} đã được bưu điện tiếp nhận",
            f"Hồ sơ {item_id} đã được cơ quan tiếp nhận",
            f"Hồ sơ {item_id} đã có kết quả",
            f"Kết quả hồ sơ {item_id} đã được giao",
        ]
    )
    accepted_mail = next(m for m in rig.mailbox.to(address) if "bưu điện tiếp nhận" in str(m["Subject"]))
    body = accepted_mail.get_content()
    assert "14/03/2025" in body and f"chậm nhất ngày {accepted.due:%d/%m/%Y}" in body, body
    outcomes = {(m.kind, m.status, m.reason) for m in await rig.messages(dossier_id)}
    assert outcomes == {
        ("accepted", "sent", None),
        ("received", "sent", None),
        ("result_ready", "sent", None),
        ("delivered", "sent", None),
        ("out_for_delivery", "suppressed", "late"),
    }

    # Every event again (a replay, a rebalance, a producer's retry), then events that make no message.
    again = [*first, *late, *sentinels(item_id, dossier_id)]
    await publish(rig.admin, again)
    await consumed(rig, again)
    await rig.dispatch()
    await rig.dispatch()

    assert len(rig.mailbox.to(address)) == 4
    assert len(await rig.messages(dossier_id)) == 5

    # The contact was asked of its owner once (then kept sealed), and that read is in the owner's audit.
    reads = await rig.post_office.get(
        "/v1/audit/personal-data-reads",
        params={"dossier": item_id},
        headers={"Authorization": f"Bearer {rig.tokens.operator}"},
    )
    assert [(r["purpose"], r["reader"]) for r in reads.json()["reads"]] == [
        ("notifications", "notifications")
    ]
    async with rig.engine.connect() as conn:
        kept = (await conn.execute(select(contact).where(contact.c.dossier_id == dossier_id))).one()
        dumped = await conn.execute(
            text("SELECT * FROM notification_message WHERE dossier_id = :d"), {"d": dossier_id}
        )
    assert address.encode() not in kept.blob and b"0912" not in kept.blob
    assert address not in repr(dumped.all())


async def test_an_applicant_who_chose_no_channel_gets_no_message_and_no_contact_is_read(rig: Rig) -> None:
    accepted = await accept(rig, notify_by=[])
    item_id, dossier_id = accepted.item_id, accepted.dossier_id
    events = [stage(dossier_id, accepted, Stage.ACCEPTED), *sentinels(item_id, dossier_id)]
    await publish(rig.admin, events)
    await consumed(rig, events)
    await rig.dispatch()

    assert [(m.kind, m.channel, m.status, m.reason) for m in await rig.messages(dossier_id)] == [
        ("accepted", None, "suppressed", "no_consent")
    ]
    reads = await rig.post_office.get(
        "/v1/audit/personal-data-reads",
        params={"dossier": item_id},
        headers={"Authorization": f"Bearer {rig.tokens.operator}"},
    )
    assert reads.json()["reads"] == []
