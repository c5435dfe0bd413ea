"""What the end-to-end tests share: the running stack, and independent ways to look at it — HTTP calls
as a clerk or officer makes them, Prometheus's query API, and kcat reading the topics."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from services.shared.launcher import ManagedProcess
from services.simulator.clients import Credentials, Endpoints
from tests.fixtures.kafka import KafkaLogin

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
KAFKA_LIBS = Path(os.environ.get("KAFKA_HOME", ROOT / ".work" / "kafka")) / "libs"
TOPIC_DUMP = Path(__file__).with_name("TopicDump.java")


@dataclass
class Stack:
    bootstrap: str
    admin: KafkaLogin
    """The operator's login, for the tests' own looks at the topics and the consumer groups."""
    agency_systems: KafkaLogin
    database_url: str
    endpoints: Endpoints
    prometheus_url: str
    credentials: Credentials
    groups: dict[str, tuple[str, ...]]
    """The e2e consumer groups (unique to the session) and the topics each reads."""
    processes: list[ManagedProcess]

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ({p.log_path})\n{p.tail(25)}" for p in self.processes)


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, timeout_s: float = 30.0) -> T:
    """Until ``check`` returns something other than None; fails naming ``what`` after the timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last: Any = None
    while True:
        try:
            result = await check()
        except (AssertionError, httpx.HTTPError, KeyError) as exc:
            result, last = None, exc
        if result is not None:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s (last: {last!r})")
        await asyncio.sleep(0.25)


class Api:
    """The services' HTTP APIs, as staff call them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.client = httpx.AsyncClient(timeout=15.0)

    async def close(self) -> None:
        await self.client.aclose()

    def _auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def post_office(self, path: str, office: str, body: dict[str, Any]) -> dict[str, Any]:
        token = self.stack.credentials.post_offices[office]
        response = await self.client.post(
            f"{self.stack.endpoints.post_office}{path}", json=body, headers=self._auth(token)
        )
        assert response.status_code in (200, 201), f"POST {path}: {response.status_code} {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    async def agency(self, path: str, agency: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """An officer's report; right after a handover the desk may not know the dossier yet: retry."""
        token = self.stack.credentials.agencies[agency]

        async def attempt() -> dict[str, Any] | None:
            response = await self.client.post(
                f"{self.stack.endpoints.agency}{path}", json=body, headers=self._auth(token)
            )
            if response.status_code in (404, 409) and response.json().get("reason") in (
                "unknown_dossier",
                "not_handed_over",
            ):
                return None
            assert response.status_code == 201, f"POST {path}: {response.status_code} {response.text}"
            answer: dict[str, Any] = response.json()
            return answer

        return await eventually(attempt, f"the agency accepts {path}")

    async def tracker(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.get(
            f"{self.stack.endpoints.tracker}{path}",
            params=params,
            headers=self._auth(self.stack.credentials.operator),
        )

    async def clocks(self, dossier_id: str) -> httpx.Response:
        return await self.client.get(
            f"{self.stack.endpoints.turnaround}/dossiers/{dossier_id}/clocks",
            headers=self._auth(self.stack.credentials.operator),
        )


class Prometheus:
    def __init__(self, url: str) -> None:
        self.client = httpx.AsyncClient(base_url=url, timeout=10.0)

    async def close(self) -> None:
        await self.client.aclose()

    async def vector(self, expr: str) -> dict[str, float]:
        """The instant vector of ``expr`` keyed by its labels as JSON."""
        body = (await self.client.get("/api/v1/query", params={"query": expr})).json()
        assert body["status"] == "success", body
        return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in body["data"]["result"]}

    async def value(self, expr: str) -> float:
        values = await self.vector(expr)
        return sum(values.values())


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str
    value: dict[str, Any]
    headers: dict[str, str]


def read_topic(kafka: KafkaLogin, topic: str, keys: Collection[str]) -> dict[str, list[Record]]:
    """Every record of ``topic`` whose key is one of ``keys``, read by an independent client from the
    beginning to the end, per key in partition order, logged in as ``kafka``: kcat (librdkafka) on a
    PLAINTEXT broker, Kafka's own Java client (TopicDump.java) on a secured one, since the kcat of the
    distribution cannot log in to Kafka 4 with SCRAM (see TopicDump.java)."""
    with tempfile.TemporaryDirectory(prefix="topic-dump-") as work:
        # The login in a file of the owner's, not on a command line, where `ps` would show it.
        config = Path(work) / "client.properties"
        config.touch(mode=0o600)
        if kafka.security.secured:
            config.write_text("".join(f"{k}={v}\n" for k, v in java_login(kafka).items()), encoding="utf-8")
            command = [
                shutil.which("java") or "java",
                "-Xmx128m",
                "-XX:TieredStopAtLevel=1",
                "-cp",
                f"{KAFKA_LIBS}/*",
                str(TOPIC_DUMP),
                str(config),
                topic,
            ]
        else:
            kcat = shutil.which("kcat")
            assert kcat is not None, "kcat is not installed (scripts/setup.sh installs the Debian package)"
            command = [kcat, "-C", "-b", kafka.bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, f"reading {topic} failed: {done.stderr[-2000:]}"
    found: dict[str, list[Record]] = defaultdict(list)
    for line in done.stdout.splitlines():
        entry = json.loads(line)
        if entry.get("key") not in keys:
            continue
        headers = entry.get("headers") or []
        found[entry["key"]].append(
            Record(
                topic=entry["topic"],
                partition=entry["partition"],
                offset=entry["offset"],
                key=entry["key"],
                value=json.loads(entry["payload"]),
                headers=dict(zip(headers[::2], headers[1::2], strict=True)),
            )
        )
    for records in found.values():
        records.sort(key=lambda r: (r.partition, r.offset))
    return found


def java_login(kafka: KafkaLogin) -> dict[str, str]:
    """The login as Kafka's Java client properties."""
    security = kafka.security
    password = security.password.get_secret_value()
    login = {
        "bootstrap.servers": kafka.bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": security.mechanism,
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{security.username}" password="{password}";',
    }
    if security.ca_file is not None:
        login |= {"ssl.truststore.type": "PEM", "ssl.truststore.location": str(security.ca_file)}
    return login
