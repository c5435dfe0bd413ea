"""The load generator: a process of its own that drives the post office API (and watches the tracker).

    python -m bench.load <spec.json> <result.json>

1. Accepts ``items`` dossiers at the counter (untimed set-up, a few requests at a time).
2. Sends transit scans of those items open-loop at ``rate`` per second for ``duration`` seconds: each
   request has a scheduled send time, and its latency runs from that time to the end of the answer,
   so a slow answer delays no later measurement (no coordinated omission).
3. With a tracker in the spec, every ``visible_every``-th accepted scan is looked up on the tracker's
   staff API (GET /dossiers/{id}, operator credential) every ``poll_s`` until its event is in the
   history: the scan-to-visible time runs from the scan's 2xx to that lookup's answer.
4. Uploads ``batches`` offline batches of ``batch_size`` transit scans one after the other and times
   each.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.http import Client, HttpError
from contracts.values import make_s10

BIRTH_REGISTRATION = "1.001193"  # by post, two original documents
AGENCY = "000.00.01.H22"


@dataclass
class Spec:
    post_office_port: int
    post_office_token: str
    office: str
    items: int
    rate: float
    duration_s: float
    batches: int
    batch_size: int
    tracker_port: int | None = None
    tracker_token: str | None = None
    visible_every: int = 10
    poll_s: float = 0.02
    visible_timeout_s: float = 15.0
    seed: int = 0

    @classmethod
    def load(cls, path: Path) -> Spec:
        return cls(**json.loads(path.read_text()))


@dataclass
class Result:
    accept_seconds: float = 0.0
    accept_statuses: Counter[int] = field(default_factory=Counter)
    scan_latencies_ms: list[float] = field(default_factory=list)
    # Each answered scan's scheduled send time in seconds from the first (parallel to the latencies),
    # and that first one's wall-clock time: the per-second timeline, lined up with other logs.
    scan_offsets_s: list[float] = field(default_factory=list)
    scan_started_at: float = 0.0
    scan_statuses: Counter[str] = field(default_factory=Counter)
    scan_send_lag_ms: float = 0.0
    scan_seconds: float = 0.0
    visible_ms: list[float] = field(default_factory=list)
    visible_timeouts: int = 0
    batch_latencies_ms: list[float] = field(default_factory=list)
    batch_statuses: Counter[str] = field(default_factory=Counter)
    batch_scans_accepted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "accept_seconds": self.accept_seconds,
            "accept_statuses": {str(k): v for k, v in self.accept_statuses.items()},
            "scan_latencies_ms": self.scan_latencies_ms,
            "scan_offsets_s": self.scan_offsets_s,
            "scan_started_at": self.scan_started_at,
            "scan_statuses": dict(self.scan_statuses),
            "scan_send_lag_ms": self.scan_send_lag_ms,
            "scan_seconds": self.scan_seconds,
            "visible_ms": self.visible_ms,
            "visible_timeouts": self.visible_timeouts,
            "batch_latencies_ms": self.batch_latencies_ms,
            "batch_statuses": dict(self.batch_statuses),
            "batch_scans_accepted": self.batch_scans_accepted,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat()


def acceptance(item_id: str, office: str, rng: random.Random) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "procedure_code": BIRTH_REGISTRATION,
        "agency_code": AGENCY,
        "service_form": "SEND_AND_RECEIVE",
        "channel": "COUNTER",
        "applicant": {
            "name": "Nguyễn Văn An",
            "phone": f"09{rng.randrange(10**8):08d}",
            "address": {"line": "12 Phố Tràng Tiền", "commune": "Phường Hoàn Kiếm", "province_code": "01"},
            "id_number": f"{rng.randrange(10**12):012d}",
        },
        "documents": [
            {"name": "Tờ khai đăng ký khai sinh", "form": "ORIGINAL", "count": 1},
            {"name": "Giấy chứng sinh", "form": "ORIGINAL", "count": 1},
        ],
        "fee_vnd": 0,
        "charge_vnd": 0,
        "postage_vnd": 36_000,
        "clerk_id": "clerk-0042",
        "post_office_code": office,
        "route_class": "INTRA_PROVINCIAL",
        "accepted_at": _now(),
    }


def transit_scan(item_id: str, n: int) -> dict[str, Any]:
    return {
        "kind": "IN_TRANSIT",
        "scan_id": str(uuid.uuid4()),
        "item_id": item_id,
        "scanned_at": _now(),
        "direction": "DEPARTED" if n % 2 == 0 else "ARRIVED",
    }


class Generator:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.result = Result()
        auth = {"Authorization": f"Bearer {spec.post_office_token}"}
        self.post = Client("127.0.0.1", spec.post_office_port, auth)
        self.tracker = (
            Client("127.0.0.1", spec.tracker_port, {"Authorization": f"Bearer {spec.tracker_token}"})
            if spec.tracker_port
            else None
        )
        base = self.rng.randrange(10**7, 9 * 10**7)
        self.items = [make_s10("EB", base + n) for n in range(spec.items)]
        self.dossiers: dict[str, str] = {}
        self._start = 0.0

    async def accept(self) -> None:
        started = time.monotonic()
        gate = asyncio.Semaphore(8)

        async def one(item_id: str) -> None:
            async with gate:
                status, body = await self.post.request(
                    "POST", "/v1/dossiers", acceptance(item_id, self.spec.office, self.rng)
                )
            self.result.accept_statuses[status] += 1
            if status in (200, 201):
                self.dossiers[item_id] = json.loads(body)["dossier_id"]

        await asyncio.gather(*(one(item_id) for item_id in self.items))
        self.result.accept_seconds = time.monotonic() - started
        if len(self.dossiers) < len(self.items):
            raise RuntimeError(f"only {len(self.dossiers)} of {len(self.items)} acceptances succeeded")

    async def scans(self) -> None:
        spec = self.spec
        # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
        clock = time.perf_counter
        total = int(spec.rate * spec.duration_s)
        tasks: set[asyncio.Task[None]] = set()
        start = clock() + 0.2
        self.result.scan_started_at = time.time() + (start - clock())
        self._start = start
        lag = 0.0
        for n in range(total):
            due = start + n / spec.rate
            wait = due - clock()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                lag = max(lag, -wait)
            task = asyncio.create_task(self._scan(n, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        self.result.scan_seconds = clock() - start
        self.result.scan_send_lag_ms = lag * 1000

    async def _scan(self, n: int, due: float) -> None:
        item_id = self.items[n % len(self.items)]
        try:
            status, body = await self.post.request(
                "POST",
                "/v1/scans/in-transit",
                {**transit_scan(item_id, n // len(self.items)), "post_office_code": self.spec.office},
            )
        except HttpError:
            self.result.scan_statuses["connection_error"] += 1
            return
        done = time.perf_counter()
        self.result.scan_latencies_ms.append((done - due) * 1000)
        self.result.scan_offsets_s.append(due - self._start)
        self.result.scan_statuses[str(status)] += 1
        if status == 201 and self.tracker is not None and n % self.spec.visible_every == 0:
            answer = json.loads(body)
            await self._until_visible(answer["dossier_id"], answer["event_id"], done)

    async def _until_visible(self, dossier_id: str, event_id: str, since: float) -> None:
        assert self.tracker is not None
        needle = f'"event_id":"{event_id}"'.encode()
        while time.perf_counter() - since < self.spec.visible_timeout_s:
            status, body = await self.tracker.request("GET", f"/dossiers/{dossier_id}")
            if status == 200 and needle in body:
                self.result.visible_ms.append((time.perf_counter() - since) * 1000)
                return
            await asyncio.sleep(self.spec.poll_s)
        self.result.visible_timeouts += 1

    async def batches(self) -> None:
        for b in range(self.spec.batches):
            first = (b * self.spec.batch_size) % len(self.items)
            chosen = [self.items[(first + k) % len(self.items)] for k in range(self.spec.batch_size)]
            body = {
                "post_office_code": self.spec.office,
                "device_id": f"scanner-{b:03d}",
                "scans": [transit_scan(item_id, b) for item_id in chosen],
            }
            started = time.monotonic()
            status, answer = await self.post.request("POST", "/v1/scans/batches", body)
            self.result.batch_latencies_ms.append((time.monotonic() - started) * 1000)
            self.result.batch_statuses[str(status)] += 1
            if status == 200:
                self.result.batch_scans_accepted += json.loads(answer)["accepted"]
            await asyncio.sleep(0.5)

    async def run(self) -> Result:
        try:
            await self.accept()
            print(f"accepted {len(self.dossiers)} dossiers in {self.result.accept_seconds:.1f} s", flush=True)
            if self.tracker is not None:
                # Every acceptance visible before the clock starts: scans then measure scans only.
                await self._all_visible()
            if self.spec.rate and self.spec.duration_s:
                await self.scans()
            if self.spec.batches:
                await self.batches()
        finally:
            await self.post.close()
            if self.tracker is not None:
                await self.tracker.close()
        return self.result

    async def _all_visible(self) -> None:
        assert self.tracker is not None
        deadline = time.monotonic() + 120
        pending = list(self.dossiers.values())
        while pending:
            status, _ = await self.tracker.request("GET", f"/dossiers/{pending[-1]}")
            if status == 200:
                pending.pop()
            elif time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} accepted dossiers never reached the tracker")
            else:
                await asyncio.sleep(0.2)


def main() -> None:
    spec = Spec.load(Path(sys.argv[1]))
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover
        runner = asyncio.Runner()
    with runner:
        result = runner.run(Generator(spec).run())
    Path(sys.argv[2]).write_text(json.dumps(result.as_dict()))


if __name__ == "__main__":
    main()
