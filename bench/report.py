"""The results of a run: the table of targets, the JSON and Markdown files, and the README's table."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"

# The targets of issue 19.
TARGET_EVENTS_PER_S = 20_000
"""The tracker in one consumer process (several processes have no target: they give the scaling curve)."""
TARGET_STORE_SHARE = 0.5
"""... and at least this share of the store ceiling measured in the same run."""
TARGET_SCAN_P99_MS = 50.0
TARGET_SCAN_HIGH_P99_MS = 100.0  # at --high-rate (600 scans/s by default)
TARGET_BATCH_P99_MS = 1_000.0
TARGET_VISIBLE_P95_MS = 1_000.0
TARGET_REBUILD_S = 60.0
TARGET_RSS_BYTES = 150 * 2**20
"""Peak RSS of each service process under the benchmark."""
REBUILD_TARGET_EVENTS = 1_000_000
REBUILD_SIZE_SHARES = (0.25, 0.5, 1.0)
"""The log sizes the rebuild's cost per event is measured at, as shares of ``--rebuild-events``."""
FLAT_TOLERANCE = 1.2
"""Cost per event "stays flat": at the largest size at most 20 % above the smallest size's."""
NATIONAL_YEAR_EVENTS = 300_000_000
"""One national year of postal and agency events (issue 19), the size the rebuild is projected to."""


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (the smallest value with at least p % of the values at or below it)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def distribution(values: Sequence[float]) -> dict[str, float | int]:
    return {
        "count": len(values),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2) if values else math.nan,
    }


def per_second(offsets_s: Sequence[float], latencies_ms: Sequence[float]) -> list[dict[str, float | int]]:
    """Latency second by second, each request in the second it was scheduled to be sent.

    ``offsets_s[i]`` is request i's scheduled send time, in seconds from the start of the load. A
    second with no answered request is kept with a count of 0, so a gap stays where it happened.
    """
    buckets: dict[int, list[float]] = {}
    for offset, latency in zip(offsets_s, latencies_ms, strict=True):
        buckets.setdefault(math.floor(offset), []).append(latency)
    if not buckets:
        return []
    timeline: list[dict[str, float | int]] = []
    for second in range(min(buckets), max(buckets) + 1):
        values = buckets.get(second, [])
        timeline.append(
            {
                "second": second,
                "count": len(values),
                "p50": round(percentile(values, 50), 2),
                "p99": round(percentile(values, 99), 2),
                "max": round(max(values), 2) if values else math.nan,
            }
        )
    return timeline


def timeline_lines(timeline: Sequence[dict[str, float | int]], *, started_at: float) -> list[str]:
    """One line per second with its UTC wall-clock time, to line slow seconds up with other logs."""
    lines = []
    for s in timeline:
        at = datetime.fromtimestamp(started_at + s["second"], UTC).strftime("%H:%M:%S")
        lines.append(
            f"{at} +{s['second']:>3}s {s['count']:>4} scans  "
            f"p50 {s['p50']:7.1f}  p99 {s['p99']:7.1f}  max {s['max']:7.1f} ms"
        )
    return lines


def rebuild_sizes(full: int) -> list[int]:
    return sorted({max(1, round(full * share)) for share in REBUILD_SIZE_SHARES})


def fit_line(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least squares ``y = a + b·x``; through the origin when the points have one x."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if not spread:
        return 0.0, mean_y / mean_x
    b = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return mean_y - b * mean_x, b


def rebuild_projection(
    sizes: Sequence[dict[str, Any]], by_processes: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """The rebuild of ``NATIONAL_YEAR_EVENTS`` events, from the measured curve: the one-process times at
    the sizes fitted to ``t = a + b·n`` (a: start-up, b: seconds per event), extended to the year, and
    divided by each process count's speed-up at full size."""
    a, b = fit_line([(run["events"], run["seconds"]) for run in sizes])
    one = a + b * NATIONAL_YEAR_EVENTS
    full = by_processes[1]["seconds"]
    return {
        "events": NATIONAL_YEAR_EVENTS,
        "formula": "T_N = (a + b * 300e6) * t_N(full) / t_1(full); a, b: least squares of t_1 over the sizes",
        "fixed_seconds": round(a, 1),
        "marginal_us_per_event": round(b * 1e6, 1),
        "hours": {
            f"{n} process{'es' if n > 1 else ''}": round(one * run["seconds"] / full / 3600, 2)
            for n, run in sorted(by_processes.items())
        },
    }


def mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB"


@dataclass(frozen=True)
class Row:
    benchmark: str
    measured: str
    target: str
    met: bool | None
    """None: no target (informational)."""
    conditions: str


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:,.1f} ms"


def _load(contention: dict[str, Any]) -> str:
    load = contention.get("load_before", [0, 0, 0])
    return f"load {load[0]:.2f}, others {contention.get('others_cores', 0):.2f} cores"


def _ceilings(t: dict[str, Any]) -> str:
    """The tracker's rate as a share of each ceiling measured in its run (results written before the
    store ceiling existed have only the consume ceiling)."""
    consume = f"{100 * t['ratio']:.1f} % of the consume ceiling {t['ceiling_rate']:,.0f}/s"
    store = t.get("store_ceiling")
    if store is None:
        return consume
    return f"{consume}, {100 * t['store_ratio']:.1f} % of the store ceiling {store['rate']:,.0f}/s"


def rows(results: dict[str, Any]) -> list[Row]:
    found: list[Row] = []
    benches = results["benchmarks"]
    for key in sorted(k for k in benches if k.startswith("tracker")):
        t = benches[key]
        processes = t.get("replicas", 1)
        found.append(
            Row(
                f"Tracker throughput, {t['events']:,} events into PostgreSQL"
                + (f", {processes} consumer processes" if processes > 1 else ", one consumer process"),
                f"{t['rate']:,.0f} events/s ({_ceilings(t)})",
                "—" if processes > 1 else _tracker_target(),
                None if processes > 1 else _tracker_met(t),
                _load(t["contention"]),
            )
        )
    security = benches.get("security", {})
    if "tracker" in security:
        found.append(_secured_tracker(security["tracker"], benches.get("tracker")))
    if "intake" in benches:
        i = benches["intake"]
        found.append(_single_scans(i, TARGET_SCAN_P99_MS))
        if "intake" in security:
            found.append(_secured_single_scans(security["intake"], i))
        b = i["batch_ms"]
        found.append(
            Row(
                f"Intake: {i['batch_size']:,}-scan batch upload ({b['count']} of them){_on_workers(i)}, "
                "p50 / p99",
                f"{_ms(b['p50'])} / {_ms(b['p99'])}",
                f"p99 ≤ {TARGET_BATCH_P99_MS / 1000:.0f} s",
                b["p99"] <= TARGET_BATCH_P99_MS and not i["batch_errors"],
                _load(i["contention"]),
            )
        )
    if "intake_high" in benches:
        found.append(_single_scans(benches["intake_high"], TARGET_SCAN_HIGH_P99_MS))
    for key, target in (("crosscheck", TARGET_SCAN_P99_MS), ("crosscheck_high", TARGET_SCAN_HIGH_P99_MS)):
        if key in benches:
            found.append(_cross_check(benches[key], target))
    if "visible" in benches:
        v = benches["visible"]
        d = v["visible_ms"]
        found.append(
            Row(
                f"Scan to visible at {v['rate']:.0f} scans/s ({d['count']} looked up), p50 / p95",
                f"{_ms(d['p50'])} / {_ms(d['p95'])} (max {_ms(d['max'])}, {v['timeouts']} not seen)",
                f"p95 ≤ {TARGET_VISIBLE_P95_MS / 1000:.0f} s",
                d["p95"] <= TARGET_VISIBLE_P95_MS and not v["timeouts"],
                _load(v["contention"]),
            )
        )
    found.extend(_rebuild_rows(benches))
    memory = results.get("peak_rss", {})
    if memory:
        found.append(
            Row(
                "Peak RSS of each service",
                ", ".join(f"{name} {mib(size)}" for name, size in memory.items()),
                f"each ≤ {mib(TARGET_RSS_BYTES)}",
                max(memory.values()) <= TARGET_RSS_BYTES,
                "",
            )
        )
    return found


SECURED = "security on (SASL_SSL, SCRAM-SHA-512, ACLs)"


def _change(secured: float, plain: float) -> str:
    return f"{100 * (secured - plain) / plain:+.1f} %" if plain else "n/a"


def _secured_tracker(t: dict[str, Any], plain: dict[str, Any] | None) -> Row:
    """The tracker on the secured broker beside the same run's tracker without security (the row above):
    the same events, one consumer process, each service logged in as its own principal."""
    beside = ""
    judged = dict(t)
    if plain is not None:
        beside = f" (without: {plain['rate']:,.0f} events/s, {_change(t['rate'], plain['rate'])})"
        store = plain.get("store_ceiling")
        if store is not None:  # the same rows into the same kind of database: the same store ceiling
            judged["store_ratio"] = t["rate"] / store["rate"]
    return Row(
        f"Tracker throughput, {t['events']:,} events into PostgreSQL, one consumer process, {SECURED}",
        f"{t['rate']:,.0f} events/s{beside}",
        _tracker_target(),
        _tracker_met(judged),
        _load(t["contention"]),
    )


def _secured_single_scans(secured: dict[str, Any], plain: dict[str, Any]) -> Row:
    """The intake's single scans on the secured broker beside the same run's without security."""
    row = _single_scans(secured, TARGET_SCAN_P99_MS)
    p99, before = secured["scan_ms"]["p99"], plain["scan_ms"]["p99"]
    return Row(
        f"{row.benchmark}, {SECURED}",
        f"{row.measured[:-1]}; without: p99 {_ms(before)}, {_change(p99, before)})",
        row.target,
        row.met,
        row.conditions,
    )


def _tracker_target() -> str:
    return f"≥ {TARGET_EVENTS_PER_S:,} events/s and ≥ {100 * TARGET_STORE_SHARE:.0f} % of the store ceiling"


def _tracker_met(t: dict[str, Any]) -> bool:
    """Both parts of the target; a result from before the store ceiling is judged by its rate alone."""
    share_met = t.get("store_ratio", TARGET_STORE_SHARE) >= TARGET_STORE_SHARE
    return bool(t["rate"] >= TARGET_EVENTS_PER_S and share_met)


def _on_workers(bench: dict[str, Any]) -> str:
    """The post office's worker processes, as a row says them (results from before the option: one)."""
    workers = int(bench.get("post_office_workers", 1))
    return f" on {workers} worker{'s' if workers > 1 else ''}"


def _rebuild_rows(benches: dict[str, Any]) -> list[Row]:
    if "rebuild" not in benches:
        return []
    one = benches["rebuild"]
    found = []
    # Results from before the process counts have only the one-process run.
    runs = [one] + [benches[k] for k in sorted(benches) if re.fullmatch(r"rebuild_\d+_processes", k)]
    for r in runs:
        processes = r.get("processes", 1)
        # The target is for a million events; a smaller run is scaled to it.
        scaled = r["seconds"] * REBUILD_TARGET_EVENTS / r["events"] if r["events"] else math.inf
        speedup = f", ×{one['seconds'] / r['seconds']:.2f} of one process" if processes > 1 else ""
        found.append(
            Row(
                f"Rebuild: {r['events']:,} events replayed into an empty projection"
                + (f", {processes} processes" if processes > 1 else ""),
                f"{r['seconds']:,.0f} s ({r['rate']:,.0f} events/s{speedup})"
                + ("" if r["events"] >= REBUILD_TARGET_EVENTS else f"; {scaled:,.0f} s per million"),
                f"≤ {TARGET_REBUILD_S:.0f} s per {REBUILD_TARGET_EVENTS:,}",
                scaled <= TARGET_REBUILD_S,
                _load(r["contention"]),
            )
        )
    sizes = benches.get("rebuild_sizes", [])
    if len(sizes) > 1:
        growth = sizes[-1]["wall_us_per_event"] / sizes[0]["wall_us_per_event"]
        found.append(
            Row(
                "Rebuild cost per event as the log grows (one process), wall / CPU",
                "; ".join(
                    f"{s['events']:,}: {s['wall_us_per_event']:,.0f} / {s['cpu_us_per_event']:,.0f} µs"
                    for s in sizes
                ),
                f"flat: ≤ +{100 * (FLAT_TOLERANCE - 1):.0f} % from {sizes[0]['events']:,} to "
                f"{sizes[-1]['events']:,}",
                growth <= FLAT_TOLERANCE,
                _load(sizes[-1]["contention"]),
            )
        )
    projection = benches.get("rebuild_projection")
    if projection:
        found.append(
            Row(
                f"Rebuild of one national year ({projection['events']:,} events), projected",
                ", ".join(f"{n} {hours:,.1f} h" for n, hours in projection["hours"].items())
                + f" (t = {projection['fixed_seconds']:,.0f} s + "
                f"{projection['marginal_us_per_event']:,.0f} µs × events, ÷ speed-up)",
                "—",
                None,
                "",
            )
        )
    return found


def table(results: dict[str, Any]) -> str:
    lines = [
        "| benchmark | measured | target | met | machine load meanwhile |",
        "|---|---|---|---|---|",
    ]
    for row in rows(results):
        met = "—" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.benchmark} | {row.measured} | {row.target} | {met} | {row.conditions} |")
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items())
    return (
        f"Benchmark run of {results['date']} on `{machine['host']}`: "
        f"{machine['cpus']} × {machine['cpu_model']}, "
        f"{machine['memory_gib']} GiB, Linux {machine['kernel']}; Python {machine['python']}, "
        f"{machine['postgresql']}, Kafka {machine['kafka']}; commit {machine['commit']}. "
        f"Command: `{results['command']}`.\n\n"
        + table(results)
        + "\n\n"
        + f"Packages: {packages}.\n"
        + "Machine load: the 1-minute load average before the benchmark, and the CPU other work on the "
        "machine took while it ran (in cores; 0 means the machine was otherwise quiet).\n"
    )


def write(results: dict[str, Any], directory: Path, *, latest: bool = True) -> tuple[Path, Path]:
    """<date>-<host>.json and .md in the directory, and latest.md (the last complete run's table)."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{results['date'][:19].replace(':', '').replace('-', '')}-{results['machine']['host']}"
    json_path = directory / f"{stem}.json"
    md_path = directory / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    md_path.write_text(markdown(results))
    if latest:
        (directory / "latest.md").write_text(markdown(results))
    return json_path, md_path


def update_readme(readme: Path, results: dict[str, Any]) -> bool:
    """Rewrite the README's marked benchmark section; False when the markers are missing."""
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        return False
    section = f"{README_START}\n{markdown(results)}{README_END}"
    readme.write_text(pattern.sub(lambda _: section, text, count=1))
    return True


def _single_scans(run: dict[str, Any], target_p99_ms: float) -> Row:
    """The row of an intake run's single scans, against its p99 target."""
    s = run["scan_ms"]
    return Row(
        f"Intake: single scan at {run['rate']:.0f}/s for {run['duration_s']:.0f} s{_on_workers(run)}, "
        "p50 / p99",
        f"{_ms(s['p50'])} / {_ms(s['p99'])} (max {_ms(s['max'])}, {run['errors']} errors)",
        f"p99 ≤ {target_p99_ms:.0f} ms",
        s["p99"] <= target_p99_ms and not run["errors"],
        _load(run["contention"]),
    )


def _cross_check(run: dict[str, Any], target_p99_ms: float) -> Row:
    """The row of the independent generator's single scans: the intake's row, named by its generator and
    with how late that generator sent its latest request (a lagging generator would hide a slow service)."""
    row = _single_scans(run, target_p99_ms)
    return Row(
        row.benchmark.replace("Intake: single scan", f"Intake cross-check ({run['generator']}): single scan"),
        f"{row.measured[:-1]}, sent at most {_ms(run['send_lag_ms'])} late)",
        row.target,
        row.met,
        row.conditions,
    )
