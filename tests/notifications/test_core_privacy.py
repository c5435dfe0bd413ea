"""The privacy scan of the existing suite (tests/fixtures/privacy_scan.py), extended to this service: after
a person's dossier was told by e-mail, their name, phone, ID number, address and e-mail address are
readable nowhere in the database (every table, pg_dump, binary columns as text), nor in the service's log
records or its /metrics — only sealed."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from contracts.enums import Stage
from tests.fixtures.privacy_scan import Needles, Person, Scanner
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


async def test_a_told_persons_contact_is_readable_nowhere_but_sealed(
    rig: Rig, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    person, address = Person.unique(), new_email()
    item_id = new_item_id()
    body = acceptance(item_id, notify_by=["EMAIL", "SMS"])
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
    # The SMS provider refuses the number for good: the message falls back to the e-mail, so the phone
    # and the address have both been handled (and must both be found nowhere but sealed).
    rig.sms.refusing.add("+84" + person.phone[1:])
    await dispatched_until(rig, address, 1)
    outcomes = {(m.channel, m.status, m.fallback_from) for m in await rig.messages(receipt["dossier_id"])}
    assert outcomes == {("sms", "failed", None), ("email", "sent", "sms")}

    logs = tmp_path / "notifications.log"
    # Every record of the process but the SMTP server's ("mail.log"): it plays the citizen's mail system,
    # which must know the address it delivers to.
    ours = [r for r in caplog.records if not r.name.startswith("mail.")]
    logs.write_text("\n".join(f"{r.name} {r.getMessage()} {getattr(r, 'fields', '')}" for r in ours))
    scan = Scanner([person], extra=[address]).scan(databases=[rig.database_url], logs=[logs])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=rig.app), base_url="http://notifications.test"
    ) as http:
        metrics = (await http.get("/metrics")).text

    lines = logs.read_text().splitlines()
    assert scan.places() == [], [lines[int(h.place.rsplit(":", 1)[1]) - 1][:200] for h in scan.hits]
    assert Needles([*person.strings(), address]).found_in(metrics) == []
    assert scan.tally.tables > 0 and scan.tally.rows > 0
