"""The closing summary: what the run did, and what the system now says about every dossier in its store.

Stages come from the tracker's staff list API (an operator sees every dossier); timeliness and overdue
clocks from the turnaround service's /metrics (its store-derived counters and gauges); refused
reports of agency systems from the agency service's /metrics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from contracts.enums import Leg, Stage
from services.simulator.clients import Endpoints

LEG_NAMES = {
    Leg.INBOUND_POSTAL.value: "inbound postal",
    Leg.AGENCY_PROCESSING.value: "agency processing",
    Leg.RETURN_POSTAL.value: "return postal",
}


@dataclass
class StoreView:
    dossiers: int = 0
    open: int = 0
    anomalies: int = 0
    overdue_dossiers: int = 0
    stages: Counter[str] = field(default_factory=Counter)
    forms: Counter[str] = field(default_factory=Counter)
    finished: dict[str, Counter[str]] = field(default_factory=dict)
    """leg → timeliness → clocks."""
    overdue_clocks: Counter[str] = field(default_factory=Counter)
    open_clocks: Counter[str] = field(default_factory=Counter)
    returned: int = 0
    failed_attempts: int = 0
    intake_refused: int = 0
    dead_letters: int = 0

    def on_time_share(self, leg: str) -> tuple[float | None, int]:
        counts = self.finished.get(leg, Counter())
        total = sum(counts.values())
        if not total:
            return None, 0
        return (counts["early"] + counts["on_time"]) / total, total


def samples(text: str, name: str) -> Iterable[tuple[dict[str, str], float]]:
    """The samples of one metric (counters: name without _total) from Prometheus text exposition."""
    for family in text_string_to_metric_families(text):
        if family.name == name:
            for sample in family.samples:
                if sample.name in (name, f"{name}_total"):
                    yield sample.labels, sample.value


async def collect(endpoints: Endpoints, operator_token: str, *, timeout_s: float = 30.0) -> StoreView:
    view = StoreView()
    headers = {"Authorization": f"Bearer {operator_token}"}
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        async for item in _pages(client, f"{endpoints.tracker}/dossiers", headers, {}):
            view.dossiers += 1
            view.stages[item.get("stage") or "(not started)"] += 1
            view.forms[item.get("service_form") or "(unknown)"] += 1
            view.open += bool(item.get("is_open"))
            view.anomalies += int(item.get("anomaly_count") or 0)
        async for _ in _pages(client, f"{endpoints.tracker}/dossiers", headers, {"overdue": "true"}):
            view.overdue_dossiers += 1
        turnaround = (await client.get(f"{endpoints.turnaround}/metrics")).text
        for labels, value in samples(turnaround, "turnaround_clocks_finished"):
            view.finished.setdefault(labels["leg"], Counter())[labels["timeliness"]] += int(value)
        for labels, value in samples(turnaround, "turnaround_overdue_clocks"):
            view.overdue_clocks[labels["leg"]] += int(value)
        for labels, value in samples(turnaround, "turnaround_open_clocks"):
            view.open_clocks[labels["leg"]] += int(value)
        view.returned = int(sum(v for _, v in samples(turnaround, "turnaround_results_returned")))
        view.failed_attempts = int(sum(v for _, v in samples(turnaround, "turnaround_delivery_failures")))
        for url in (endpoints.post_office, endpoints.agency, endpoints.tracker, endpoints.turnaround):
            text = (await client.get(f"{url}/metrics")).text
            view.dead_letters += int(sum(v for _, v in samples(text, "dossier_dead_letters")))
            view.intake_refused += int(sum(v for _, v in samples(text, "agency_intake_dead_letters")))
    return view


async def _pages(client: httpx.AsyncClient, url: str, headers: dict[str, str], params: dict[str, str]) -> Any:
    cursor: str | None = None
    while True:
        query = {**params, "limit": "200", **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, headers=headers, params=query)
        response.raise_for_status()
        page = response.json()
        for item in page["items"]:
            yield item
        cursor = page.get("next_cursor")
        if not cursor:
            return


def render_store(view: StoreView) -> list[str]:
    stage_order = [s.value for s in Stage]
    stages = sorted(
        view.stages.items(), key=lambda kv: stage_order.index(kv[0]) if kv[0] in stage_order else 99
    )
    lines = [
        f"In the store (every run so far): {view.dossiers} dossiers, {view.open} open, "
        f"{view.anomalies} anomalies flagged by the tracker",
        "  by stage      " + _columns(stages),
        "  by form       " + _columns(sorted(view.forms.items())),
    ]
    first = True
    for leg, name in LEG_NAMES.items():
        share, total = view.on_time_share(leg)
        counts = view.finished.get(leg, Counter())
        text = (
            f"{name:<18} {share:6.1%} of {total:>5} finished clocks "
            f"(early {counts['early']}, on time {counts['on_time']}, late {counts['late']})"
            if share is not None
            else f"{name:<18}      – no finished clock yet"
        )
        lines.append(("  on time       " if first else "                ") + text)
        first = False
    overdue = sum(view.overdue_clocks.values())
    lines.append(
        f"  overdue       {overdue} running clocks past their due date ("
        + ", ".join(f"{LEG_NAMES[leg]} {view.overdue_clocks[leg]}" for leg in LEG_NAMES)
        + f"); {view.overdue_dossiers} dossiers overdue in the tracker"
    )
    lines.append(
        f"  delivery      failed attempts {view.failed_attempts}, results returned to the agency "
        f"{view.returned}"
    )
    if view.dead_letters or view.intake_refused:
        lines.append(
            f"  dead letters  {view.dead_letters} (agency systems' reports refused: {view.intake_refused}) — "
            "see `python -m services.tracker.cli dead-letters list`"
        )
    return lines


def _columns(pairs: Iterable[tuple[str, int]]) -> str:
    items = [f"{name} {count}" for name, count in pairs]
    out, line = [], ""
    for item in items:
        if line and len(line) + len(item) > 90:
            out.append(line)
            line = ""
        line = f"{line}  {item}" if line else item
    out.append(line)
    return ("\n" + " " * 16).join(out)
