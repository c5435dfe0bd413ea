"""The proof of issue 21: one person, with strings no other test uses, carried through the whole stack —
accepted at a post office, handed to an agency, a result delivered at the second attempt after a courier
wrote the person's phone and address in a note, and a second dossier registered at an agency desk with a
delivery address. Then every topic of the broker (read end to end by kcat), every table of the stack's
database (pg_dump), every service's log and /metrics are scanned for the person's strings.

Before erasure they are nowhere in readable form: only sealed in the two vaults that collected them.
After the person's erasure request (the post office's and the agency's API, by phone) they are still
nowhere, the vault rows keep no sealed blob and no wrapped key (a tombstone only), and the tracker's
public lookup no longer knows the phone's last digits.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from contracts.events.parts import ApplicantContact
from contracts.values import dossier_id_for_agency_code, dossier_id_for_item
from services.agency.adapters.tables import personal_data_tables as agency_vault
from services.post_office.adapters.tables import personal_data_tables as post_office_vault
from services.shared.db.engine import make_engine
from services.shared.personal_data.tables import VaultTables
from services.stack.lag import wait_caught_up
from tests.e2e.support import Api, Stack, eventually
from tests.e2e.test_journeys import (
    CALENDAR,
    CAU_GIAY_OFFICE,
    CITY_CENTRE,
    WARD_DESK,
    Journey,
    hand_over,
    last_working_morning,
    legal_due,
    now,
    pick_up,
    scan,
)
from tests.fixtures.ids import unique_agency_dossier_code, unique_item_id
from tests.fixtures.privacy_scan import Person, Scan, Scanner

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def carry(api: Api, person: Person) -> tuple[Journey, str]:
    """The person's two dossiers through every service; their dossier ids."""
    item = unique_item_id("EB")
    contact = person.contact()
    j = Journey(
        "SEND_AND_RECEIVE",
        dossier_id_for_item(item),
        item,
        None,
        ApplicantContact.model_validate(contact),
        agency=CITY_CENTRE,
    )
    start = last_working_morning(7, 45)
    await api.post_office(
        "/v1/dossiers",
        CAU_GIAY_OFFICE,
        {
            "item_id": item,
            "procedure_code": "3.000333",
            "agency_code": CITY_CENTRE,
            "service_form": "SEND_AND_RECEIVE",
            "channel": "AT_ADDRESS",
            "applicant": contact,
            "documents": [
                {"name": "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp", "form": "ORIGINAL", "count": 1},
                {"name": "Giấy tờ tùy thân của người yêu cầu", "form": "CERTIFIED_COPY", "count": 1},
            ],
            "fee_vnd": 0,
            "charge_vnd": 200000,
            "postage_vnd": 40000,
            "clerk_id": "clerk-113000-2",
            "post_office_code": CAU_GIAY_OFFICE,
            "route_class": "LOCAL",
            "accepted_at": start.isoformat(),
        },
    )
    signed_at = start + timedelta(hours=1)
    await hand_over(api, CAU_GIAY_OFFICE, CITY_CENTRE, signed_at, [item])
    j.code = unique_agency_dossier_code(CITY_CENTRE)
    due = legal_due(signed_at, "3.000333")
    await api.agency(
        f"/dossiers/{item}/received",
        CITY_CENTRE,
        {"agency_dossier_code": j.code, "appointment_date": due.isoformat()},
    )
    await api.agency(
        f"/dossiers/{j.code}/result-ready",
        CITY_CENTRE,
        {"outcome": "APPROVED", "result_reference": "QD-PROOF"},
    )
    j.result_item_id = unique_item_id("RR")
    await pick_up(api, j, CAU_GIAY_OFFICE)
    courier = {"courier_id": "courier-113000-1", "post_office_code": CAU_GIAY_OFFICE}
    result = j.result_item_id
    await api.post_office("/v1/scans/out-for-delivery", CAU_GIAY_OFFICE, {**scan(result), **courier})
    failed = {
        "reason": "OTHER",
        "invitation_left": True,
        "next_attempt_on": CALENDAR.add_working_days(now().date(), 1).isoformat(),
        # What a courier writes: the person's phone and address, free text, kept by the post office.
        "note": f"Gọi {person.phone} trước; nhà {person.address_line}, chị {person.name}",
    }
    await api.post_office("/v1/scans/delivery-failed", CAU_GIAY_OFFICE, {**scan(result), **courier, **failed})
    await api.post_office("/v1/scans/out-for-delivery", CAU_GIAY_OFFICE, {**scan(result), **courier})
    delivered = {"recipient_kind": "APPLICANT", "id_document_type": "CCCD", "identity_verified": True}
    await api.post_office("/v1/scans/delivered", CAU_GIAY_OFFICE, {**scan(result), **courier, **delivered})

    code = unique_agency_dossier_code(WARD_DESK)
    await api.agency(
        "/dossiers",
        WARD_DESK,
        {
            "agency_dossier_code": code,
            "procedure_code": "1.001612",
            "filing_channel": "IN_PERSON",
            "filed_at": last_working_morning(9).isoformat(),
            "applicant": contact,
            "delivery_address": person.address(),
        },
    )
    return j, dossier_id_for_agency_code(code)


async def vault_rows(database_url: str, tables: VaultTables, dossier_id: str) -> list[Any]:
    t = tables.records
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            return list(
                (await conn.execute(select(t).where(t.c.dossier_id == dossier_id).order_by(t.c.kind))).all()
            )
    finally:
        await engine.dispose()


async def scan_everything(stack: Stack, scanner: Scanner) -> Scan:
    endpoints = stack.endpoints
    metrics = {
        "post_office": endpoints.post_office,
        "agency": endpoints.agency,
        "tracker": endpoints.tracker,
        "turnaround": endpoints.turnaround,
    }
    return await asyncio.to_thread(
        scanner.scan,
        kafka=stack.admin,
        databases=[stack.database_url],
        logs=[p.log_path for p in stack.processes],
        metrics=metrics,
    )


async def test_a_persons_data_is_nowhere_readable_and_after_erasure_its_key_is_gone_too(stack: Stack) -> None:
    started = time.monotonic()
    person = Person.unique()
    scanner = Scanner([person])
    api = Api(stack)
    try:
        journey, registered = await carry(api, person)
        lag = await wait_caught_up(stack.bootstrap, 60, stack.groups, security=stack.admin.security)
        assert not any(lag.values()), f"consumers behind: {lag}\n{stack.logs()}"

        async def delivered() -> bool | None:
            response = await api.tracker(f"/dossiers/{journey.dossier_id}")
            return True if response.json().get("stage") == "DELIVERED" else None

        await eventually(delivered, "the tracker follows the person's dossier to its delivery", 60)

        # The control: the person's data is held, where it is kept, and the scanner knows it when it sees it.
        operator = {"Authorization": f"Bearer {stack.credentials.operator}"}
        contact = await api.client.get(
            f"{stack.endpoints.post_office}/v1/dossiers/{journey.item_id}/contact",
            params={"purpose": "result_delivery"},
            headers=operator,
        )
        assert contact.status_code == 200, contact.text
        assert scanner.needles.found_in(contact.text), "the scanner finds the contact where staff read it"

        before = await scan_everything(stack, scanner)
        assert before.places() == [], "\n".join(before.places())
        held = {
            "post office": await vault_rows(stack.database_url, post_office_vault, journey.dossier_id),
            "agency": await vault_rows(stack.database_url, agency_vault, registered),
        }
        assert "applicant" in {r.kind for r in held["post office"]}
        assert any(r.kind.startswith("delivery_note:") for r in held["post office"])
        assert [r.kind for r in held["agency"]] == ["applicant", "delivery_address"]
        assert all(r.sealed and r.wrapped_key and r.kid for rows in held.values() for r in rows)

        # Before: the citizen's lookup with the phone's last four digits finds the dossier.
        lookup = f"/public/dossiers/{journey.item_id}"
        assert (await api.tracker(lookup, params={"phone_last4": person.phone[-4:]})).status_code == 200

        # The person's erasure request, by phone, to both services that hold their data (what
        # `dossier-privacy erase --phone` sends): every record of each dossier found is erased, and an
        # erasure event tells the tracker to drop the phone check it kept.
        erased = 0
        for service, path in ((stack.endpoints.post_office, "/v1"), (stack.endpoints.agency, "")):
            answer = await api.client.post(
                f"{service}{path}/personal-data/erasure-requests",
                json={"phone": person.phone},
                headers=operator,
            )
            assert answer.status_code == 200, answer.text
            erased += sum(len(dossier["kinds"]) for dossier in answer.json()["erased"])
        assert erased == sum(len(rows) for rows in held.values())

        async def tracker_knows() -> bool | None:
            detail = (await api.tracker(f"/dossiers/{journey.dossier_id}")).json()
            return True if detail.get("contact_erased_at") else None

        # Polled on the staff detail: failed public lookups are rate-limited per client.
        await eventually(tracker_knows, "the tracker learns of the erasure", 60)
        forgotten = await api.tracker(lookup, params={"phone_last4": person.phone[-4:]})
        assert forgotten.status_code == 404, forgotten.text

        after = await scan_everything(stack, scanner)
        assert after.places() == [], "\n".join(after.places())
        tombstones = [
            *await vault_rows(stack.database_url, post_office_vault, journey.dossier_id),
            *await vault_rows(stack.database_url, agency_vault, registered),
        ]
        assert len(tombstones) == erased
        assert all(
            r.sealed is None and r.wrapped_key is None and r.kid is None and r.erased_at is not None
            for r in tombstones
        )
        answer = await api.client.get(
            f"{stack.endpoints.post_office}/v1/dossiers/{journey.item_id}/contact",
            params={"purpose": "result_delivery"},
            headers=operator,
        )
        assert (answer.status_code, answer.json()["erased"]) == (200, True), answer.text
    finally:
        await api.close()
    print(
        f"\nerasure proof: {len(scanner.needles)} strings of {person.name!r} searched; before erasure "
        f"{before.tally}; after {after.tally}; 0 found; whole test {time.monotonic() - started:.1f} s"
    )
