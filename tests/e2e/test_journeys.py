"""One complete journey of each service form, driven through the public HTTP APIs of the running stack,
then checked from every side: the tracker's staff and public lookups, the turnaround clocks, the
metrics as Prometheus scraped them, and the events on the topics as kcat (librdkafka, an independent
client) reads them.

- SEND_DOSSIER: accepted at the counter, one transit scan, handed over; received, processing, result
  ready (the citizen collects it in person).
- RECEIVE_RESULT: filed at the desk and registered for return by post; received, result ready; picked
  up, out for delivery, delivered to an authorised proxy.
- SEND_AND_RECEIVE: accepted, three transit scans, handed over; received, apology slip, processing,
  supplement requested and received (the clock restarts), result ready; picked up, a failed delivery
  attempt, delivered at the second.

The inbound legs lie on the last working day's morning (before the 15:00 cut-off, so every dossier's
filing day is already past whenever the tests run); the desks' reports carry the service's clock, so
everything after them happens now, in order.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from contracts.events.parts import Address, ApplicantContact
from contracts.topics import AGENCY_EVENTS, POSTAL_EVENTS, STAGE_CHANGED
from contracts.values import (
    dossier_id_for_agency_code,
    dossier_id_for_item,
)
from services.shared.calendar import VN_TZ, agency_due_date, load_calendar
from services.shared.catalog import load_catalog
from services.stack.lag import wait_caught_up
from services.stack.processes import SERVICES
from tests.e2e.support import Api, Prometheus, Stack, eventually, read_topic
from tests.fixtures.ids import unique_agency_dossier_code, unique_item_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CALENDAR = load_calendar()
CATALOG = load_catalog()
HANOI_OFFICE, CAU_GIAY_OFFICE, HANOI_FACILITY, SAIGON_OFFICE = "100000", "113000", "100900", "700000"
WARD_DESK, CITY_CENTRE, SAIGON_WARD_DESK = "000.01.11.H26", "000.00.01.H26", "000.02.11.H29"


def now() -> datetime:
    return datetime.now(VN_TZ)


def last_working_morning(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(CALENDAR.previous_working_day(now().date()), time(hour, minute), VN_TZ)


def legal_due(filed_at: datetime, procedure: str) -> date:
    return agency_due_date(filed_at, CATALOG.get(procedure).target, CALENDAR, time(15))


def applicant(name: str, phone: str, province: str, commune: str) -> ApplicantContact:
    address = Address(line="Số 12 Phố Tràng Tiền", commune=commune, province_code=province)
    return ApplicantContact(name=name, phone=phone, address=address, id_number="001085012345")


@dataclass
class Journey:
    form: str
    dossier_id: str
    item_id: str | None
    code: str | None
    applicant: ApplicantContact
    result_item_id: str | None = None
    agency: str = ""
    postal_types: list[str] = field(default_factory=list)
    agency_types: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)


def serial() -> str:
    """A record number no other journey uses."""
    return uuid.uuid4().hex[:12].upper()


def scan(item: str, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    return {"scan_id": str(uuid.uuid4()), "item_id": item, "scanned_at": (at or now()).isoformat(), **fields}


async def send_dossier(api: Api) -> Journey:
    item = unique_item_id("EB")
    person = applicant("Trần Thị Lan", "0912345671", "01", "Phường Hoàn Kiếm")
    j = Journey("SEND_DOSSIER", dossier_id_for_item(item), item, None, person, agency=WARD_DESK)
    start = last_working_morning(8)
    await api.post_office(
        "/v1/dossiers",
        HANOI_OFFICE,
        {
            "item_id": item,
            "procedure_code": "1.004873",
            "agency_code": WARD_DESK,
            "service_form": "SEND_DOSSIER",
            "channel": "COUNTER",
            "applicant": person.model_dump(mode="json"),
            "documents": [
                {"name": "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân", "form": "ORIGINAL", "count": 1}
            ],
            "fee_vnd": 0,
            "charge_vnd": 8000,
            "postage_vnd": 20000,
            "clerk_id": "clerk-100000-1",
            "post_office_code": HANOI_OFFICE,
            "route_class": "LOCAL",
            "accepted_at": start.isoformat(),
        },
    )
    await api.post_office(
        "/v1/scans/in-transit",
        HANOI_OFFICE,
        {**scan(item, start + timedelta(minutes=20), direction="DEPARTED"), "post_office_code": HANOI_OFFICE},
    )
    signed_at = start + timedelta(hours=1)
    await hand_over(api, HANOI_OFFICE, WARD_DESK, signed_at, [item])
    j.code = unique_agency_dossier_code(WARD_DESK)
    due = legal_due(signed_at, "1.004873")
    await api.agency(
        f"/dossiers/{item}/received",
        WARD_DESK,
        {"agency_dossier_code": j.code, "appointment_date": due.isoformat()},
    )
    await api.agency(f"/dossiers/{item}/processing", WARD_DESK, {"department": "Phòng Tư pháp"})
    await api.agency(
        f"/dossiers/{j.code}/result-ready", WARD_DESK, {"outcome": "APPROVED", "result_reference": "QD-E2E-1"}
    )
    j.postal_types = [
        "postal.dossier_accepted",
        "postal.dossier_in_transit",
        "postal.dossier_handed_to_agency",
    ]
    j.agency_types = ["agency.dossier_received", "agency.dossier_processing", "agency.result_ready"]
    j.stages = ["ACCEPTED", "IN_TRANSIT", "HANDED_TO_AGENCY", "RECEIVED", "PROCESSING", "RESULT_READY"]
    return j


async def receive_result(api: Api) -> Journey:
    filed_at = last_working_morning(9, 30)
    code = unique_agency_dossier_code(SAIGON_WARD_DESK)
    person = applicant("Lê Văn Hùng", "0987654322", "79", "Phường Sài Gòn")
    j = Journey(
        "RECEIVE_RESULT", dossier_id_for_agency_code(code), None, code, person, agency=SAIGON_WARD_DESK
    )
    await api.agency(
        "/dossiers",
        SAIGON_WARD_DESK,
        {
            "agency_dossier_code": code,
            "procedure_code": "1.001612",
            "filing_channel": "IN_PERSON",
            "filed_at": filed_at.isoformat(),
            "applicant": person.model_dump(mode="json"),
            "delivery_address": person.address.model_dump(mode="json"),
        },
    )
    due = legal_due(filed_at, "1.001612")
    await api.agency(
        f"/dossiers/{code}/received",
        SAIGON_WARD_DESK,
        {"agency_dossier_code": code, "appointment_date": due.isoformat()},
    )
    await api.agency(
        f"/dossiers/{code}/result-ready",
        SAIGON_WARD_DESK,
        {"outcome": "APPROVED", "result_reference": "QD-E2E-2"},
    )
    j.result_item_id = unique_item_id("RR")
    await pick_up(api, j, SAIGON_OFFICE)
    await api.post_office(
        "/v1/scans/out-for-delivery",
        SAIGON_OFFICE,
        {**scan(j.result_item_id, courier_id="courier-700000-1"), "post_office_code": SAIGON_OFFICE},
    )
    await api.post_office(
        "/v1/scans/delivered",
        SAIGON_OFFICE,
        {
            **scan(j.result_item_id, courier_id="courier-700000-1"),
            "recipient_kind": "AUTHORISED_PROXY",
            "id_document_type": "CCCD",
            "identity_verified": True,
            "authorisation_checked": True,
            "post_office_code": SAIGON_OFFICE,
        },
    )
    j.agency_types = [
        "agency.dossier_registered_for_return",
        "agency.dossier_received",
        "agency.result_ready",
    ]
    j.postal_types = ["postal.result_picked_up", "postal.result_out_for_delivery", "postal.result_delivered"]
    j.stages = ["RECEIVED", "RESULT_READY", "RESULT_PICKED_UP", "OUT_FOR_DELIVERY", "DELIVERED"]
    return j


async def send_and_receive(api: Api) -> Journey:
    item = unique_item_id("EB")
    person = applicant("Nguyễn Văn An", "0901234563", "01", "Phường Cầu Giấy")
    j = Journey("SEND_AND_RECEIVE", dossier_id_for_item(item), item, None, person, agency=CITY_CENTRE)
    start = last_working_morning(7, 30)
    await api.post_office(
        "/v1/dossiers",
        CAU_GIAY_OFFICE,
        {
            "item_id": item,
            "procedure_code": "3.000333",
            "agency_code": CITY_CENTRE,
            "service_form": "SEND_AND_RECEIVE",
            "channel": "AT_ADDRESS",
            "applicant": person.model_dump(mode="json"),
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
    for minutes, office, direction in (
        (10, CAU_GIAY_OFFICE, "DEPARTED"),
        (40, HANOI_FACILITY, "ARRIVED"),
        (70, HANOI_FACILITY, "DEPARTED"),
    ):
        body = {
            **scan(item, start + timedelta(minutes=minutes), direction=direction),
            "post_office_code": office,
        }
        await api.post_office("/v1/scans/in-transit", office, body)
    signed_at = start + timedelta(hours=2)
    await hand_over(api, CAU_GIAY_OFFICE, CITY_CENTRE, signed_at, [item])
    j.code = unique_agency_dossier_code(CITY_CENTRE)
    due = legal_due(signed_at, "3.000333")
    desk = CITY_CENTRE
    await api.agency(
        f"/dossiers/{item}/received",
        desk,
        {"agency_dossier_code": j.code, "appointment_date": due.isoformat()},
    )
    new_due = CALENDAR.add_working_days(due, 2)
    await api.agency(
        f"/dossiers/{j.code}/delay-notified",
        desk,
        {"new_due_date": new_due.isoformat(), "reason": "Cần xác minh thông tin với cơ quan liên quan"},
    )
    await api.agency(f"/dossiers/{j.code}/processing", desk, {"department": "Phòng Lý lịch tư pháp"})
    await api.agency(
        f"/dossiers/{j.code}/supplement-requested",
        desk,
        {
            "missing_documents": ["Giấy tờ tùy thân của người yêu cầu"],
            "reason": "Bản sao chưa được chứng thực",
        },
    )
    await api.agency(f"/dossiers/{j.code}/supplement-received", desk, {"received_at": now().isoformat()})
    await api.agency(
        f"/dossiers/{j.code}/result-ready", desk, {"outcome": "APPROVED", "result_reference": "QD-E2E-3"}
    )
    j.result_item_id = unique_item_id("RR")
    await pick_up(api, j, CAU_GIAY_OFFICE)
    courier = {"courier_id": "courier-113000-1", "post_office_code": CAU_GIAY_OFFICE}
    result = j.result_item_id
    await api.post_office("/v1/scans/out-for-delivery", CAU_GIAY_OFFICE, {**scan(result), **courier})
    next_day = CALENDAR.add_working_days(now().date(), 1).isoformat()
    failed = {"reason": "NOT_AT_HOME", "invitation_left": True, "next_attempt_on": next_day}
    await api.post_office("/v1/scans/delivery-failed", CAU_GIAY_OFFICE, {**scan(result), **courier, **failed})
    await api.post_office("/v1/scans/out-for-delivery", CAU_GIAY_OFFICE, {**scan(result), **courier})
    delivered = {"recipient_kind": "APPLICANT", "id_document_type": "CCCD", "identity_verified": True}
    await api.post_office("/v1/scans/delivered", CAU_GIAY_OFFICE, {**scan(result), **courier, **delivered})
    j.postal_types = [
        "postal.dossier_accepted",
        *["postal.dossier_in_transit"] * 3,
        "postal.dossier_handed_to_agency",
        "postal.result_picked_up",
        "postal.result_out_for_delivery",
        "postal.delivery_failed",
        "postal.result_out_for_delivery",
        "postal.result_delivered",
    ]
    j.agency_types = [
        "agency.dossier_received",
        "agency.delay_notified",
        "agency.dossier_processing",
        "agency.supplement_requested",
        "agency.supplement_received",
        "agency.result_ready",
    ]
    j.stages = [
        "ACCEPTED", "IN_TRANSIT", "HANDED_TO_AGENCY", "RECEIVED", "PROCESSING", "AWAITING_SUPPLEMENT",
        "RECEIVED", "RESULT_READY", "RESULT_PICKED_UP", "OUT_FOR_DELIVERY", "DELIVERY_FAILED",
        "OUT_FOR_DELIVERY", "DELIVERED",
    ]  # fmt: skip
    return j


async def hand_over(api: Api, office: str, agency: str, signed_at: datetime, items: list[str]) -> None:
    answer = await api.post_office(
        "/v1/handovers",
        office,
        {
            "handover_record_id": f"BBGN-E2E-{serial()}",
            "agency_code": agency,
            "post_office_code": office,
            "postal_worker_id": f"postman-{office}-1",
            "agency_officer_id": "officer-e2e-1",
            "signed_at": signed_at.isoformat(),
            "item_ids": items,
        },
    )
    assert answer["accepted"] == len(items), answer


async def pick_up(api: Api, j: Journey, office: str) -> None:
    assert j.result_item_id is not None and j.code is not None
    await api.post_office(
        "/v1/pickups",
        office,
        {
            "result_item_id": j.result_item_id,
            "dossier_item_id": j.item_id,
            "agency_dossier_code": j.code,
            "pickup_record_id": f"PN-E2E-{serial()}",
            "agency_code": j.agency,
            "post_office_code": office,
            "postal_worker_id": f"postman-{office}-2",
            "agency_officer_id": "officer-e2e-2",
            "route_class": "LOCAL",
            "picked_up_at": now().isoformat(),
        },
    )


# --------------------------------------------------------------------------- driving them once


COUNTERS = {
    "postal": "sum(post_office_events_published_total)",
    "agency": "sum(agency_events_published_total)",
    "applied": "sum(tracker_events_applied_total)",
    "inbound": 'sum(turnaround_clocks_finished_total{leg="INBOUND_POSTAL"})',
    "processing": 'sum(turnaround_clocks_finished_total{leg="AGENCY_PROCESSING"})',
    "return": 'sum(turnaround_clocks_finished_total{leg="RETURN_POSTAL"})',
}


@dataclass
class Driven:
    journeys: dict[str, Journey]
    before: dict[str, float]
    api: Api
    prometheus: Prometheus


@pytest.fixture(scope="module")
async def driven(stack: Stack) -> AsyncIterator[Driven]:
    api, prometheus = Api(stack), Prometheus(stack.prometheus_url)
    before = {name: await prometheus.value(expr) for name, expr in COUNTERS.items()}
    try:
        done = await asyncio.gather(send_dossier(api), receive_result(api), send_and_receive(api))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.logs()}") from exc
    lag = await wait_caught_up(stack.bootstrap, 60, stack.groups, security=stack.admin.security)
    assert not any(lag.values()), f"consumers behind: {lag}\n{stack.logs()}"
    yield Driven({j.form: j for j in done}, before, api, prometheus)
    await api.close()
    await prometheus.close()


# --------------------------------------------------------------------------- what each side says


async def test_the_tracker_knows_each_journeys_stage_custody_and_whole_history(driven: Driven) -> None:
    expected = {
        "SEND_DOSSIER": ("RESULT_READY", "AGENCY", WARD_DESK),
        "RECEIVE_RESULT": ("DELIVERED", "CITIZEN", None),
        "SEND_AND_RECEIVE": ("DELIVERED", "CITIZEN", None),
    }
    for form, j in driven.journeys.items():
        events = len(j.postal_types) + len(j.agency_types)

        async def projected(j: Journey = j, events: int = events) -> dict[str, Any] | None:
            response = await driven.api.tracker(f"/dossiers/{j.dossier_id}")
            body: dict[str, Any] = response.json()
            return body if response.status_code == 200 and len(body["history"]) == events else None

        detail = await eventually(projected, f"the tracker folds all {events} events of {form}")
        stage, holder, code = expected[form]
        assert (detail["stage"], detail["custody"]["kind"], detail["custody"]["code"]) == (
            stage,
            holder,
            code,
        )
        assert detail["service_form"] == form and detail["is_open"] is False
        assert [h["type"] for h in detail["history"] if h["type"].startswith("postal.")] == j.postal_types
        assert [h["type"] for h in detail["history"] if h["type"].startswith("agency.")] == j.agency_types
        moments = [h["occurred_at"] for h in detail["history"]]
        assert moments == sorted(moments, key=datetime.fromisoformat)
        anomalies = [h for h in detail["history"] if h["anomaly"]]
        assert anomalies == [] and detail["anomaly_count"] == 0
    both_ways = driven.journeys["SEND_AND_RECEIVE"]
    detail = (await driven.api.tracker(f"/dossiers/{both_ways.dossier_id}")).json()
    assert detail["failed_attempts"] == 1 and detail["delay_notified"] is True
    assert (
        detail["result_item_id"] == both_ways.result_item_id
        and detail["agency_dossier_code"] == both_ways.code
    )
    listed = (await driven.api.tracker("/dossiers", {"reference": both_ways.item_id or ""})).json()
    assert [item["dossier_id"] for item in listed["items"]] == [both_ways.dossier_id]


async def test_a_citizen_looks_up_a_dossier_with_the_phone_digits_and_sees_no_personal_data(
    driven: Driven,
) -> None:
    j = driven.journeys["SEND_AND_RECEIVE"]
    url = f"{driven.api.stack.endpoints.tracker}/public/dossiers/{j.item_id}"

    found = await driven.api.client.get(url, params={"phone_last4": j.applicant.phone[-4:]})
    wrong = await driven.api.client.get(url, params={"phone_last4": "0000"})

    assert found.status_code == 200, found.text
    body = found.json()
    assert body["stage"] == "DELIVERED" and body["overdue"] is False
    assert body["post_office"]["code"] == CAU_GIAY_OFFICE and body["post_office"]["name"]
    for personal in (j.applicant.name, j.applicant.phone, j.applicant.address.line, j.applicant.id_number):
        assert personal and personal not in found.text
    assert wrong.status_code == 404


async def test_each_leg_has_its_clock_finished_with_a_timeliness(driven: Driven) -> None:
    legs = {
        "SEND_DOSSIER": {"INBOUND_POSTAL", "AGENCY_PROCESSING"},
        "RECEIVE_RESULT": {"AGENCY_PROCESSING", "RETURN_POSTAL"},
        "SEND_AND_RECEIVE": {"INBOUND_POSTAL", "AGENCY_PROCESSING", "RETURN_POSTAL"},
    }
    for form, j in driven.journeys.items():

        async def finished(j: Journey = j, form: str = form) -> list[dict[str, Any]] | None:
            response = await driven.api.clocks(j.dossier_id)
            clocks: list[dict[str, Any]] = response.json().get("clocks", [])
            done = {c["leg"] for c in clocks if c["state"] == "finished"}
            return clocks if done >= legs[form] else None

        clocks = await eventually(finished, f"the clocks of {form} finish")
        latest = {c["leg"]: c for c in sorted(clocks, key=lambda c: c["generation"])}
        assert set(latest) == legs[form]
        for leg, clock in latest.items():
            assert clock["state"] == "finished" and clock["timeliness"] == "early", (form, leg, clock)
            assert clock["due_date"] is not None and clock["working_days"] is not None
    restarted = [
        c for c in (await driven.api.clocks(driven.journeys["SEND_AND_RECEIVE"].dossier_id)).json()["clocks"]
    ]
    agency = [c for c in restarted if c["leg"] == "AGENCY_PROCESSING"]
    assert max(c["generation"] for c in agency) >= 1, "the supplement restarted the agency clock"


async def test_prometheus_scraped_the_events_published_applied_and_the_clocks_finished(
    driven: Driven,
) -> None:
    journeys = driven.journeys.values()
    postal = sum(len(j.postal_types) for j in journeys)
    agency = sum(len(j.agency_types) for j in journeys)
    expected = {
        "postal": postal,
        "agency": agency,
        "applied": postal + agency,
        "inbound": 2,
        "processing": 3,
        "return": 2,
    }
    for name, delta in expected.items():
        want = driven.before[name] + delta

        async def scraped(name: str = name, want: float = want) -> float | None:
            value = await driven.prometheus.value(COUNTERS[name])
            return value if value == want else None

        await eventually(scraped, f"Prometheus shows {COUNTERS[name]} = {want}")
    up = await driven.prometheus.vector("up")
    # Every service of the stack and Prometheus itself.
    assert len(up) == len(SERVICES) + 1 and set(up.values()) == {1.0}, up


async def test_an_independent_client_reads_each_dossiers_events_in_order_keyed_by_the_dossier(
    driven: Driven, stack: Stack
) -> None:
    keys = {j.dossier_id for j in driven.journeys.values()}
    postal = read_topic(stack.admin, POSTAL_EVENTS.name, keys)
    agency = read_topic(stack.admin, AGENCY_EVENTS.name, keys)

    for j in driven.journeys.values():
        for records, types in (
            (postal[j.dossier_id], j.postal_types),
            (agency[j.dossier_id], j.agency_types),
        ):
            assert [r.value["type"] for r in records] == types
            assert len({r.partition for r in records}) <= 1, "one dossier, one partition"
            for record in records:
                assert record.value["subject"] == j.dossier_id
                assert record.headers["ce_type"] == record.value["type"]
                assert record.headers["ce_id"] == record.value["id"]
                assert j.applicant.name not in record.key and j.applicant.phone not in str(record.headers)

    # The tracker reads the two topics independently, so a stage may be learned after a later one: it is
    # still announced, once (marked late), and every message names the dossier's current stage.
    async def stage_changes() -> dict[str, list[dict[str, Any]]] | None:
        found = read_topic(stack.admin, STAGE_CHANGED.name, keys)
        changes = {key: [r.value for r in records] for key, records in found.items()}
        done = all(len(changes.get(j.dossier_id, [])) >= len(j.stages) for j in driven.journeys.values())
        return changes if done else None

    changes = await eventually(stage_changes, "the tracker announces every stage each dossier entered", 20)
    for j in driven.journeys.values():
        messages = changes[j.dossier_id]
        assert len({m["id"] for m in messages}) == len(messages), "each stage entered announced once"
        assert Counter(m["data"]["to_stage"] for m in messages) == Counter(j.stages), (messages, j.stages)
        assert messages[-1]["data"]["current_stage"] == j.stages[-1]
