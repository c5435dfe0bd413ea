"""The intake's single scans measured by an independent open-loop load generator, vegeta.

Our own generator (``bench.load``) could itself be the bottleneck, or measure in a way that flatters the
service; vegeta is a different program in a different language. Its ``attack`` sends requests at a fixed
rate whatever the answers (workers are added as needed, up to no limit), so a slow answer delays no later
request: it is open-loop, as ours is. Each request's latency runs from its actual send to the end of the
answer; the schedule it kept is checked here (``send_lag_ms``: how late the latest request left against
``start + seq / rate``), so that a lagging attacker cannot hide a slow service.

The post office, its database and the 2,000 accepted dossiers are set up as for the intake benchmark (by
``bench.load`` with no scans); the transit scans are the same requests, built here from the same seed,
one unique scan id each. A 3-second attack at the same rate comes first and is not counted: vegeta opens
its connections as it needs them, and ours were opened by the acceptances. vegeta is built from the Go
module proxy into ``.work/tools`` the first time (about 30 s; needs ``go``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import report
from bench.infra import ROOT, Environment, issue_token, new_migrated_database
from bench.intake import OFFICE, _drive, _post_office
from bench.load import Generator, Spec, transit_scan
from bench.tracker import Say
from services.shared.auth import Role

VEGETA_MODULE = "github.com/tsenart/vegeta/v12"
VEGETA_VERSION = "v12.13.0"
TOOLS = ROOT / ".work" / "tools"
ITEMS = 2000
SEED = 3
WARM_UP_S = 3.0


def vegeta() -> Path:
    """The vegeta binary, built from the Go module proxy the first time."""
    found = TOOLS / "vegeta"
    if found.exists():
        return found
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise RuntimeError("the cross-check needs Go to build vegeta (go install), and no `go` was found")
    TOOLS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [go, "install", f"{VEGETA_MODULE}@{VEGETA_VERSION}"],
        env={**os.environ, "GOBIN": str(TOOLS), "GOFLAGS": "-mod=mod"},
        check=True,
        capture_output=True,
    )
    return found


def targets(port: int, token: str, items: list[str], count: int) -> str:
    """vegeta's JSON targets: ``count`` transit scans of the items in turn, as ``bench.load`` sends them."""
    url = f"http://127.0.0.1:{port}/v1/scans/in-transit"
    header = {"Authorization": [f"Bearer {token}"], "Content-Type": ["application/json"]}
    lines = []
    for n in range(count):
        body = {**transit_scan(items[n % len(items)], n // len(items)), "post_office_code": OFFICE}
        encoded = base64.b64encode(json.dumps(body).encode()).decode()
        lines.append(json.dumps({"method": "POST", "url": url, "body": encoded, "header": header}))
    return "\n".join(lines) + "\n"


def summarise(results: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    """Latency distribution, second by second, statuses and the attacker's own send lag, from the
    results as ``vegeta encode --to json`` writes them (timestamps RFC 3339, latencies in ns)."""
    from datetime import datetime

    sent = sorted(
        (datetime.fromisoformat(r["timestamp"]).timestamp(), r["seq"], r["latency"] / 1e6, r["code"])
        for r in results
    )
    start = min(at - seq / rate for at, seq, _, _ in sent)
    latencies = [ms for _, _, ms, _ in sent]
    statuses: dict[str, int] = {}
    for _, _, _, code in sent:
        statuses[str(code)] = statuses.get(str(code), 0) + 1
    return {
        "rate": rate,
        "scan_ms": report.distribution(latencies),
        "scan_per_second": report.per_second([at - start for at, _, _, _ in sent], latencies),
        "scan_started_at": start,
        "scan_statuses": statuses,
        "errors": sum(n for code, n in statuses.items() if code not in ("200", "201")),
        "send_lag_ms": round(max(at - (start + seq / rate) for at, seq, _, _ in sent) * 1000, 1),
    }


def _vegeta_output(binary: Path, *arguments: str | Path) -> str:
    return subprocess.run(
        [str(binary), *map(str, arguments)], check=True, capture_output=True, text=True
    ).stdout


async def _attack(binary: Path, work: Path, name: str, lines: str, rate: float, duration_s: float) -> None:
    """One vegeta attack of the targets at the rate; its results in ``<work>/<name>.bin``."""
    (work / f"{name}-targets.json").write_text(lines)
    attack = await asyncio.create_subprocess_exec(
        str(binary),
        "attack",
        "-format=json",
        f"-targets={work / f'{name}-targets.json'}",
        f"-rate={rate:.0f}/1s",
        f"-duration={duration_s:.0f}s",
        "-timeout=30s",
        f"-output={work / f'{name}.bin'}",
    )
    if await attack.wait() != 0:
        raise RuntimeError(f"vegeta attack ({name}) exited with {attack.returncode}")


async def cross_check(
    env: Environment, *, rate: float, duration_s: float, workers: int, say: Say
) -> dict[str, Any]:
    """A fresh post office on ``workers`` processes, its dossiers accepted, then vegeta's attack."""
    binary = await asyncio.to_thread(vegeta)
    database = await new_migrated_database(env.admin_url, "crosscheck")
    token = await issue_token(database, Role.POST_OFFICE, OFFICE, "clerk-bench")
    post_office, port = await _post_office(env, database, workers)
    work = env.work_dir / f"crosscheck-{rate:.0f}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        # bench.load accepts the dossiers and sends no scans.
        spec = Spec(port, token, OFFICE, ITEMS, rate=0, duration_s=0, batches=0, batch_size=0, seed=SEED)
        await _drive(env, asdict(spec), {"post_office": post_office}, f"crosscheck-{rate:.0f}-accept", say)
        items = Generator(spec).items  # the items the acceptances used: same seed
        say(f"  cross-check: vegeta {VEGETA_VERSION}, {rate:.0f} scans/s for {duration_s:.0f} s")
        await _attack(
            binary, work, "warm-up", targets(port, token, items, int(rate * WARM_UP_S)), rate, WARM_UP_S
        )
        count = int(rate * duration_s)
        await _attack(binary, work, "results", targets(port, token, items, count), rate, duration_s)
        encoded = await asyncio.to_thread(
            _vegeta_output, binary, "encode", "--to", "json", work / "results.bin"
        )
        text_report = await asyncio.to_thread(_vegeta_output, binary, "report", work / "results.bin")
        (work / "report.txt").write_text(text_report)
        post_office.sample()
        found = summarise([json.loads(line) for line in encoded.splitlines() if line], rate)
        found.update(
            duration_s=duration_s,
            generator=f"vegeta {VEGETA_VERSION}",
            post_office_workers=workers,
            post_office_peak_rss=post_office.peak_rss,
        )
        return found
    finally:
        await post_office.stop()
