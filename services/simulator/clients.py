"""How the simulator reaches the system: the services' public HTTP APIs (httpx) and, for agency systems,
the agency.intake.v1 topic. Credentials are bearer tokens, one per post office, agency and operator."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from contracts.envelope import Envelope, kafka_record
from contracts.events import Event
from contracts.topics import AGENCY_INTAKE
from services.shared.kafka_security import PLAINTEXT, KafkaSecurity


@dataclass(frozen=True)
class Endpoints:
    post_office: str
    agency: str
    tracker: str
    turnaround: str
    kafka_bootstrap: str
    # The agency systems' login (principal agency-systems) on a secured broker.
    kafka_security: KafkaSecurity = PLAINTEXT


@dataclass(frozen=True)
class Credentials:
    operator: str
    post_offices: Mapping[str, str]
    agencies: Mapping[str, str]


@dataclass
class Answer:
    status: int
    body: Any

    @property
    def reason(self) -> str | None:
        return self.body.get("reason") if isinstance(self.body, dict) else None


@dataclass
class Traffic:
    """What the run sent and how it was answered."""

    answers: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    intake_events: int = 0

    def count(self, service: str, status: int) -> None:
        self.answers[f"{service} {status}"] += 1


class Http:
    """One client per service, sharing a cap on requests in flight. Retries what is meant to be retried:
    503 (after Retry-After), a concurrent update (409 concurrent_update) and connection errors."""

    RETRIES = 8

    def __init__(self, endpoints: Endpoints, *, concurrency: int, timeout_s: float, traffic: Traffic) -> None:
        self.traffic = traffic
        self._gate = asyncio.Semaphore(concurrency)
        self._clients = {
            name: httpx.AsyncClient(base_url=url, timeout=timeout_s)
            for name, url in (
                ("post_office", endpoints.post_office),
                ("agency", endpoints.agency),
                ("tracker", endpoints.tracker),
                ("turnaround", endpoints.turnaround),
            )
        }

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        token: str | None,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = self._clients[service]
        for attempt in range(self.RETRIES):
            try:
                async with self._gate:
                    response = await client.request(method, path, json=body, headers=headers, params=params)
            except httpx.TransportError:
                self.traffic.retries += 1
                await asyncio.sleep(min(0.2 * 2**attempt, 3.0))
                continue
            self.traffic.count(service, response.status_code)
            answer = Answer(response.status_code, _json(response))
            if response.status_code == 503 or answer.reason == "concurrent_update":
                self.traffic.retries += 1
                wait = response.headers.get("retry-after", "1")
                await asyncio.sleep(min(float(wait) if wait.isdigit() else 1.0, 2.0) * (0.5 + attempt / 4))
                continue
            return answer
        return Answer(
            599, {"reason": "gave_up", "detail": f"{service} {method} {path}: no answer after retries"}
        )


def _json(response: httpx.Response) -> Any:
    with contextlib.suppress(ValueError):
        return response.json()
    return None


class Intake:
    """Publishes agency systems' reports on agency.intake.v1 (acks=all, idempotent producer)."""

    def __init__(self, bootstrap: str, traffic: Traffic, security: KafkaSecurity = PLAINTEXT) -> None:
        self._bootstrap = bootstrap
        self._security = security
        self._producer: AIOKafkaProducer | None = None
        self._traffic = traffic

    async def publish(self, envelope: Envelope[Event]) -> None:
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                enable_idempotence=True,
                client_id="dossier-simulator",
                **self._security.client_options(),
            )
            await self._producer.start()
        record = kafka_record(envelope)
        await self._producer.send_and_wait(
            AGENCY_INTAKE.name, record.value, key=record.key, headers=list(record.headers)
        )
        self._traffic.intake_events += 1

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
