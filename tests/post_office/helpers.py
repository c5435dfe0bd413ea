"""Builders of post office requests, a client that signs them, and a reader of the postal topic."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.envelope import Envelope, decode
from contracts.events import Event
from contracts.topics import POSTAL_EVENTS
from tests.fixtures.ids import unique_agency_dossier_code, unique_item_id
from tests.fixtures.kafka import KafkaLogin

VIETNAM = timezone(timedelta(hours=7))
OFFICE = "100000"
OTHER_OFFICE = "700000"
AGENCY = "000.00.01.H22"
OTHER_AGENCY = "000.00.02.H22"
BIRTH_REGISTRATION = "1.001193"  # by post; two original documents required
MARRIAGE_REGISTRATION = "1.000894"  # not by post: both partners must be present
RE_REGISTRATION = "1.004884"  # requires a copy of the proof

ACCEPTED_AT = datetime(2025, 3, 14, 9, 30, tzinfo=VIETNAM)  # a Friday
SIGNED_AT = datetime(2025, 3, 17, 10, 15, tzinfo=VIETNAM)
PICKED_UP_AT = datetime(2025, 3, 24, 14, 0, tzinfo=VIETNAM)  # a Monday


def new_item_id(prefix: str = "EB") -> str:
    """A fresh S10 id; the topic outlives a test, so ids are never reused, not fixed."""
    return unique_item_id(prefix)


def new_agency_dossier_code() -> str:
    return unique_agency_dossier_code(AGENCY)


def at(day: int, hour: int, month: int = 3, minute: int = 0) -> str:
    """A time in March 2025 (Vietnam), as the API takes it."""
    return datetime(2025, month, day, hour, minute, tzinfo=VIETNAM).isoformat()


def acceptance(item_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "item_id": item_id,
        "procedure_code": BIRTH_REGISTRATION,
        "agency_code": AGENCY,
        "service_form": "SEND_AND_RECEIVE",
        "channel": "COUNTER",
        "applicant": {
            "name": "Nguyễn Văn An",
            "phone": "0912 345 678",
            "address": {"line": "12 Phố Tràng Tiền", "commune": "Phường Hoàn Kiếm", "province_code": "01"},
            "id_number": "001085012345",
        },
        "documents": [
            {"name": "Tờ khai đăng ký khai sinh", "form": "ORIGINAL", "count": 1},
            {"name": "Giấy chứng sinh", "form": "ORIGINAL", "count": 1},
        ],
        "fee_vnd": 0,
        "charge_vnd": 0,
        "postage_vnd": 36_000,
        "clerk_id": "clerk-0042",
        "post_office_code": OFFICE,
        "route_class": "INTRA_PROVINCIAL",
        "accepted_at": ACCEPTED_AT.isoformat(),
    }
    return body | changes


def handover(item_ids: list[str], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "handover_record_id": f"BBGN-{uuid.uuid4().hex[:10]}",
        "agency_code": AGENCY,
        "post_office_code": OFFICE,
        "postal_worker_id": "postman-0007",
        "agency_officer_id": "officer-0003",
        "signed_at": SIGNED_AT.isoformat(),
        "item_ids": item_ids,
    }
    return body | changes


def pickup(result_item_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "result_item_id": result_item_id,
        "agency_dossier_code": new_agency_dossier_code(),
        "pickup_record_id": f"PN-{uuid.uuid4().hex[:10]}",
        "agency_code": AGENCY,
        "post_office_code": OFFICE,
        "postal_worker_id": "postman-0007",
        "agency_officer_id": "officer-0003",
        "route_class": "INTRA_PROVINCIAL",
        "picked_up_at": PICKED_UP_AT.isoformat(),
    }
    return body | changes


def scan(kind: str, item_id: str, scanned_at: str, **fields: Any) -> dict[str, Any]:
    """A scan as an offline batch carries it; defaults for the kind's required fields."""
    defaults: dict[str, dict[str, Any]] = {
        "IN_TRANSIT": {"direction": "DEPARTED"},
        "OUT_FOR_DELIVERY": {"courier_id": "courier-0011"},
        "DELIVERY_FAILED": {"courier_id": "courier-0011", "reason": "NOT_AT_HOME", "invitation_left": True},
        "DELIVERED": {
            "courier_id": "courier-0011",
            "recipient_kind": "APPLICANT",
            "id_document_type": "CCCD",
            "identity_verified": True,
        },
    }
    return {
        "kind": kind,
        "scan_id": str(uuid.uuid4()),
        "item_id": item_id,
        "scanned_at": scanned_at,
        **defaults[kind],
        **fields,
    }


def online(scan_body: dict[str, Any], post_office_code: str = OFFICE) -> dict[str, Any]:
    """The same scan sent to its online endpoint."""
    return scan_body | {"post_office_code": post_office_code}


SCAN_PATHS = {
    "IN_TRANSIT": "/v1/scans/in-transit",
    "OUT_FOR_DELIVERY": "/v1/scans/out-for-delivery",
    "DELIVERY_FAILED": "/v1/scans/delivery-failed",
    "DELIVERED": "/v1/scans/delivered",
}


def returning(result_item_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "result_item_id": result_item_id,
        "agency_code": AGENCY,
        "post_office_code": OFFICE,
        "return_record_id": f"BBTL-{uuid.uuid4().hex[:10]}",
        "postal_worker_id": "postman-0007",
        "agency_officer_id": "officer-0003",
        "returned_at": at(31, 10),
    }
    return body | changes


def incident(item_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "item_id": item_id,
        "post_office_code": OFFICE,
        "reported_by": "supervisor-0001",
        "at_fault": False,
        "reported_at": at(16, 16),
    }
    return body | changes


@dataclass(frozen=True)
class Tokens:
    clerk: str  # post office 100000
    other_clerk: str  # post office 700000
    operator: str
    agency: str
    revoked: str
    notifier: str  # the notifications service's


class PostOfficeClient:
    """The API through ASGI, signed as the clerk of post office 100000 unless told otherwise."""

    def __init__(self, http: httpx.AsyncClient, tokens: Tokens) -> None:
        self.http = http
        self.tokens = tokens

    async def post(self, path: str, body: Any, *, token: str | None = None) -> httpx.Response:
        return await self.http.post(
            path, json=body, headers={"Authorization": f"Bearer {token or self.tokens.clerk}"}
        )

    async def ok(self, path: str, body: Any, *, token: str | None = None) -> dict[str, Any]:
        """POST and insist on 2xx; the answer's JSON."""
        response = await self.post(path, body, token=token)
        assert response.is_success, (response.status_code, response.text)
        answer: dict[str, Any] = response.json()
        return answer

    async def accepted_dossier(self, **changes: Any) -> dict[str, Any]:
        return await self.ok("/v1/dossiers", acceptance(new_item_id(), **changes))

    async def handed_over_dossier(self, **changes: Any) -> dict[str, Any]:
        receipt = await self.accepted_dossier(**changes)
        await self.ok("/v1/handovers", handover([receipt["item_id"]]))
        return receipt

    async def picked_up_result(self, **changes: Any) -> dict[str, Any]:
        """A result of a dossier filed at the agency (form RECEIVE_RESULT), picked up."""
        return await self.ok("/v1/pickups", pickup(new_item_id("RR"), **changes))


class PostalTopic:
    """Reads postal.events.v1 from where it ended when the reader started, in the background."""

    def __init__(self, kafka: KafkaLogin) -> None:
        self._kafka = kafka
        self._partitions = [TopicPartition(POSTAL_EVENTS.name, p) for p in range(POSTAL_EVENTS.partitions)]
        self.records: list[tuple[Any, Envelope[Event]]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(**self._kafka.options(), enable_auto_commit=False)
        await self._consumer.start()
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_end(*self._partitions)
        for tp in self._partitions:
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._consumer is not None:
            await self._consumer.stop()

    async def _poll(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            for records in batches.values():
                self.records.extend((r, decode(r.value, r.key)) for r in records)

    def of(self, dossier_id: str) -> list[Envelope[Event]]:
        """The envelopes read so far for one dossier, in the order Kafka holds them."""
        return [envelope for _, envelope in self.records if envelope.subject == dossier_id]

    async def wait_for(self, dossier_id: str, count: int, timeout_s: float = 15.0) -> list[Envelope[Event]]:
        """Wait until `count` envelopes of the dossier were read; return them all."""
        return await self.wait_until(
            lambda: self.of(dossier_id), lambda found: len(found) >= count, timeout_s
        )

    async def wait_until(
        self,
        read: Callable[[], list[Envelope[Event]]],
        done: Callable[[list[Envelope[Event]]], bool],
        timeout_s: float = 15.0,
    ) -> list[Envelope[Event]]:
        async with asyncio.timeout(timeout_s):
            while not done(found := read()):
                await asyncio.sleep(0.02)
        return found

    async def settled(self, timeout_s: float = 15.0) -> None:
        """Wait until everything acknowledged so far has been read (to assert that nothing more came)."""
        assert self._consumer is not None
        ends = await self._consumer.end_offsets(self._partitions)
        async with asyncio.timeout(timeout_s):
            for tp, end in ends.items():
                while await self._consumer.position(tp) < end:
                    await asyncio.sleep(0.02)

    def record_of(self, event_id: str) -> Any:
        """The Kafka record carrying an event id (the first one, when a retry stored it twice)."""
        return next(record for record, envelope in self.records if str(envelope.id) == event_id)


def utc_now() -> datetime:
    return datetime.now(UTC)
