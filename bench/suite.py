"""``python -m bench``: run the benchmarks against a broker and a PostgreSQL server, print the table,
write the results.

    python -m bench --bootstrap-servers HOST:PORT --database-url URL
                    [--only tracker,intake,crosscheck,visible,rebuild]
                    [--events 500000] [--rebuild-events 1000000] [--rebuild-processes 1,2,4]
                    [--rate 300] [--duration 60] [--batches 20] [--batch-size 1000]
                    [--results-dir bench/results] [--readme README.md]

``bash bench/run.sh`` starts a throwaway broker and PostgreSQL and calls this; see bench/README.md. The
benchmarks run in this order, because each leaves the topics as the next one wants them: rebuild (fills
the event topics to a quarter, a half and all of ``--rebuild-events``, replaying them in one process
after each step, then at full size in each of ``--rebuild-processes``), tracker (adds ``--events``
events, measures the ceilings and the tracker on those alone), intake, crosscheck (the intake's single
scans from vegeta), visible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import cross_check, events, intake, machine, report, store, tracker
from bench.infra import ROOT, Environment, end_offsets, prepare_broker, secured_environment
from bench.tracker import TOPICS
from services.shared.kafka_security import kafka_security_from_env
from services.tracker.settings import TrackerSettings

ALL = ("tracker", "rebuild", "intake", "crosscheck", "visible")


def say(line: str) -> None:
    print(line, flush=True)


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--database-url", required=True, help="a database on the server; others are created")
    parser.add_argument("--work-dir", type=Path, default=ROOT / ".work" / "bench" / "run")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--events", type=int, default=500_000, help="events for the throughput benchmark")
    parser.add_argument(
        "--rebuild-events",
        type=int,
        default=1_000_000,
        help="events the rebuild replays at full size; also at a quarter and half of it, one process",
    )
    parser.add_argument(
        "--rebuild-processes",
        default="1,2,4",
        help="processes sharing the rebuild at full size, one run for each count (default 1,2,4)",
    )
    parser.add_argument("--rate", type=float, default=300.0, help="single scans per second")
    parser.add_argument(
        "--high-rate", type=float, default=600.0, help="a second intake run at this rate (0: none)"
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of single scans")
    parser.add_argument(
        "--post-office-workers",
        type=int,
        default=2,
        help="uvicorn worker processes of the post office in the intake and visible runs (default 2)",
    )
    parser.add_argument("--batches", type=int, default=20, help="batch uploads after the single scans")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--readme", type=Path, help="rewrite this file's <!-- bench:start/end --> section")
    parser.add_argument("--kafka-pid-file", type=Path, help="the broker's pid file (to tell its CPU apart)")
    parser.add_argument("--pg-pid-file", type=Path, help="postmaster.pid (to tell PostgreSQL's CPU apart)")
    parser.add_argument(
        "--tracker-replicas",
        default="1,2,4",
        help="consumer processes sharing the group, one throughput run for each count (default 1,2,4)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the tracker consumer and the one-process rebuilds (work dir)",
    )
    parser.add_argument(
        "--secure-bootstrap-servers",
        help="a second broker, of `kafka.sh start-secure` (SASL_SSL, SCRAM, ACLs): the tracker and intake "
        "runs again on it, one process each, for the cost of the security",
    )
    parser.add_argument(
        "--secure-data-dir", type=Path, help="that broker's data dir (its CA and the principals' passwords)"
    )
    options = parser.parse_args(argv)
    options.only = [name.strip() for name in options.only.split(",") if name.strip()]
    options.tracker_replicas = [int(n) for n in options.tracker_replicas.split(",") if n.strip()]
    options.rebuild_processes = [int(n) for n in options.rebuild_processes.split(",") if n.strip()]
    if bool(options.secure_bootstrap_servers) != bool(options.secure_data_dir):
        parser.error("--secure-bootstrap-servers and --secure-data-dir go together")
    unknown = set(options.only) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return options


async def _run(options: argparse.Namespace, command: str) -> dict[str, Any]:
    # The bench's own clients log in with the shared KAFKA_* settings (PLAINTEXT when none are set); the
    # services it starts inherit them unless a secured pass gives each its own principal.
    env = Environment(
        options.bootstrap_servers, options.database_url, options.work_dir, kafka_security_from_env()
    )
    env.work_dir.mkdir(parents=True, exist_ok=True)
    pid_files = (options.kafka_pid_file, options.pg_pid_file)
    results: dict[str, Any] = {
        "date": machine.now().isoformat(timespec="seconds"),
        "command": command,
        "machine": machine.describe(),
        "settings": {
            "events": options.events,
            "rebuild_events": options.rebuild_events,
            "rebuild_processes": options.rebuild_processes,
            "rate": options.rate,
            "duration_s": options.duration,
            "batches": options.batches,
            "batch_size": options.batch_size,
        },
        "benchmarks": {},
        "peak_rss": {},
    }
    benches = results["benchmarks"]
    memory = results["peak_rss"]
    await prepare_broker(env.bootstrap, env.security)
    # Events already on the topics (a shared test broker) belong to no benchmark.
    starts = await end_offsets(env.bootstrap, TOPICS, env.security)
    preexisting = sum(starts.values())
    dossiers = 0
    published = 0

    if "rebuild" in options.only:
        # First, on topics holding no benchmark's events yet, so that the smallest size can be replayed:
        # the topics are topped up from one size to the next and replayed each time.
        sizes: list[dict[str, Any]] = []
        for size in report.rebuild_sizes(options.rebuild_events):
            missing = size - published
            if missing > 0:
                population = events.Population(events.dossiers_for(missing), first=dossiers)
                say(f"topping the event topics up with {missing:,} events ...")
                filled = await tracker.fill(env.bootstrap, population, missing, say, env.security)
                published += filled.events
                dossiers += population.count
            contention = machine.Contention(pid_files).start()
            say(f"rebuild of {published + preexisting:,} events (one process) ...")
            rebuilt = await tracker.rebuild(
                env,
                published if not preexisting else None,
                say,
                profile=env.work_dir / f"profile-rebuild-{size}.txt" if options.profile else None,
            )
            sizes.append(_rebuild_result(rebuilt, contention.finish()))
        benches["rebuild"] = sizes[-1]
        benches["rebuild_sizes"] = sizes
        memory["tracker rebuild"] = sizes[-1]["peak_rss"]
        by_processes = {1: sizes[-1]}
        for processes in options.rebuild_processes:
            if processes == 1:
                continue
            contention = machine.Contention(pid_files).start()
            say(f"rebuild of {published + preexisting:,} events in {processes} processes ...")
            rebuilt = await tracker.rebuild(
                env, published if not preexisting else None, say, processes=processes
            )
            by_processes[processes] = benches[f"rebuild_{processes}_processes"] = _rebuild_result(
                rebuilt, contention.finish()
            )
            memory[f"tracker rebuild ×{processes} (each)"] = rebuilt.largest_rss
        benches["rebuild_projection"] = report.rebuild_projection(sizes, by_processes)
        for processes, hours in benches["rebuild_projection"]["hours"].items():
            say(f"  one national year ({report.NATIONAL_YEAR_EVENTS:,} events) in {processes}: {hours:.1f} h")
        # The tracker benchmark measures from here: its events come after these.
        starts = await end_offsets(env.bootstrap, TOPICS, env.security)

    tracker_population: events.Population | None = None
    if "tracker" in options.only:
        population = tracker_population = events.Population(
            events.dossiers_for(options.events), first=dossiers
        )
        say(f"filling the event topics with {options.events:,} events ...")
        filled = await tracker.fill(env.bootstrap, population, options.events, say, env.security)
        dossiers += population.count
        say(
            f"  {filled.events:,} events ({filled.bytes / filled.events:,.0f} bytes each) "
            f"in {filled.seconds:.0f} s"
        )
        contention = machine.Contention(pid_files).start()
        ceiling = await tracker.ceiling(env.bootstrap, starts, filled.events, env.security)
        say(f"  consume ceiling: {ceiling.rate:,.0f} events/s (bare consumer)")
        ceiling_contention = contention.finish()
        # The same rows the tracker will write, built before the store ceiling's clock starts.
        batch_size = TrackerSettings().max_batch
        say(f"building the tracker's rows for the store ceiling ({batch_size:,} events a batch) ...")
        work = store.build(population, filled.events, batch_size)
        contention = machine.Contention(pid_files).start()
        stored = await store.store_ceiling(env.admin_url, work)
        store_contention = contention.finish()
        say(
            f"  store ceiling: {stored.rate:,.0f} events/s ({stored.batches} batches, "
            f"{stored.dossier_upserts:,} dossier rows upserted)"
        )
        del work
        for replicas in options.tracker_replicas:
            contention = machine.Contention(pid_files).start()
            measured = await tracker.tracker_throughput(
                env,
                starts,
                filled.events,
                say,
                profile=env.work_dir / f"profile-tracker-{replicas}.txt" if options.profile else None,
                replicas=replicas,
            )
            key = "tracker" if replicas == 1 else f"tracker_{replicas}_processes"
            benches[key] = {
                "events": measured.events,
                "replicas": replicas,
                "dossiers": measured.dossiers,
                "rate": round(measured.rate, 1),
                "steady_rate": round(measured.steady_rate, 1),
                "seconds": round(measured.seconds, 2),
                "outbox_drained_s": round(measured.outbox_seconds, 2),
                "ceiling_rate": round(ceiling.rate, 1),
                "ceiling_seconds": round(ceiling.seconds, 2),
                "ceiling_contention": ceiling_contention,
                "ratio": round(measured.rate / ceiling.rate, 4),
                "store_ceiling": {
                    "rate": round(stored.rate, 1),
                    "seconds": round(stored.seconds, 2),
                    "batch_size": batch_size,
                    "batches": stored.batches,
                    "dossier_upserts": stored.dossier_upserts,
                    "events": stored.stored_events,
                    "inbox_rows": stored.inbox_rows,
                    "dossiers": stored.dossiers,
                    "contention": store_contention,
                },
                "store_ratio": round(measured.rate / stored.rate, 4),
                "stored_events": measured.stored_events,
                "inbox_rows": measured.inbox_rows,
                "cpu_seconds": round(measured.cpu_seconds, 1),
                "cpu_us_per_event": round(measured.cpu_seconds / measured.events * 1e6, 1),
                "peak_rss": measured.peak_rss,
                "fill_seconds": round(filled.seconds, 1),
                "contention": contention.finish(),
            }
            memory["tracker consume" if replicas == 1 else f"tracker consume ×{replicas}"] = measured.peak_rss
            say(
                f"  tracker ({replicas} process{'es' if replicas > 1 else ''}): "
                f"{measured.rate:,.0f} events/s "
                f"({measured.seconds:.1f} s), {100 * measured.rate / ceiling.rate:.1f} % of the consume "
                f"ceiling, {100 * measured.rate / stored.rate:.1f} % of the store ceiling"
            )

    workers = options.post_office_workers
    post_office = "post office" if workers == 1 else f"post office ({workers} workers)"
    if "intake" in options.only:
        benches["intake"] = await _intake(env, pid_files, options, options.rate, options.batches, say)
        # The post office's whole process tree: the supervising parent and every worker.
        memory[post_office] = benches["intake"]["post_office_peak_rss"]
        if options.high_rate:
            # The higher level: single scans only, on a post office of its own.
            benches["intake_high"] = await _intake(env, pid_files, options, options.high_rate, 0, say)
            memory[post_office] = max(memory[post_office], benches["intake_high"]["post_office_peak_rss"])

    if options.secure_bootstrap_servers and {"tracker", "intake"} & set(options.only):
        benches["security"] = await _security_cost(env, options, tracker_population, pid_files, say)

    if "crosscheck" in options.only:
        # The same single scans from an independent open-loop generator, at each intake rate.
        for key, rate in (("crosscheck", options.rate), ("crosscheck_high", options.high_rate)):
            if not rate:
                continue
            contention = machine.Contention(pid_files).start()
            checked = await cross_check.cross_check(
                env, rate=rate, duration_s=options.duration, workers=workers, say=say
            )
            benches[key] = {**checked, "contention": contention.finish()}
            memory[post_office] = max(memory.get(post_office, 0), checked["post_office_peak_rss"])
            shown = checked["scan_ms"]
            say(
                f"  vegeta at {rate:.0f}/s: p50 {shown['p50']} ms, p99 {shown['p99']} ms, "
                f"its send lag at most {checked['send_lag_ms']} ms"
            )

    if "visible" in options.only:
        contention = machine.Contention(pid_files).start()
        run = await intake.visible(
            env,
            rate=options.rate,
            duration_s=options.duration,
            workers=options.post_office_workers,
            say=say,
        )
        load = run.load
        errors = sum(n for status, n in load["scan_statuses"].items() if status not in ("200", "201"))
        benches["visible"] = {
            "rate": options.rate,
            "duration_s": options.duration,
            "visible_ms": report.distribution(load["visible_ms"]),
            "timeouts": load["visible_timeouts"],
            "scan_ms": report.distribution(load["scan_latencies_ms"]),
            "errors": errors,
            "tracker_cpu_seconds": round(run.services["tracker"].cpu_s, 1),
            "tracker_peak_rss": run.services["tracker"].peak_rss,
            "post_office_peak_rss": run.services["post_office"].peak_rss,
            "post_office_workers": options.post_office_workers,
            "contention": contention.finish(),
        }
        memory["tracker serve"] = run.services["tracker"].peak_rss
        memory[post_office] = max(memory.get(post_office, 0), run.services["post_office"].peak_rss)
        shown = benches["visible"]["visible_ms"]
        say(f"  scan to visible p50 {shown['p50']} ms, p95 {shown['p95']} ms, max {shown['max']} ms")
    return results


async def _security_cost(
    plain: Environment,
    options: argparse.Namespace,
    population: events.Population | None,
    pid_files: Any,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The tracker (one process, the same events) and the intake (the same rate, scans and batches) once
    more on the secured broker, each service logged in as its own principal: beside the figures above,
    what TLS, SCRAM and the ACLs cost."""
    env = secured_environment(plain, options.secure_bootstrap_servers, options.secure_data_dir)
    await prepare_broker(env.bootstrap, env.security)
    cost: dict[str, Any] = {"protocol": "SASL_SSL", "mechanism": env.security.mechanism}
    if population is not None:
        starts = await end_offsets(env.bootstrap, TOPICS, env.security)
        say(f"security: filling the secured broker's topics with the same {options.events:,} events ...")
        filled = await tracker.fill(env.bootstrap, population, options.events, say, env.security)
        contention = machine.Contention(pid_files).start()
        measured = await tracker.tracker_throughput(env, starts, filled.events, say)
        cost["tracker"] = {
            "events": measured.events,
            "rate": round(measured.rate, 1),
            "steady_rate": round(measured.steady_rate, 1),
            "seconds": round(measured.seconds, 2),
            "cpu_us_per_event": round(measured.cpu_seconds / measured.events * 1e6, 1),
            "peak_rss": measured.peak_rss,
            "contention": contention.finish(),
        }
        say(f"  tracker on the secured broker: {measured.rate:,.0f} events/s ({measured.seconds:.1f} s)")
    if "intake" in options.only:
        say("security: the intake on the secured broker ...")
        cost["intake"] = await _intake(env, pid_files, options, options.rate, options.batches, say)
    return cost


def _rebuild_result(rebuilt: tracker.Rebuild, contention: dict[str, Any]) -> dict[str, Any]:
    return {
        "events": rebuilt.events,
        "processes": rebuilt.processes,
        "seconds": round(rebuilt.seconds, 1),
        "rate": round(rebuilt.rate, 1),
        "cpu_seconds": round(rebuilt.cpu_seconds, 1),
        "wall_us_per_event": round(rebuilt.wall_us_per_event, 1),
        "cpu_us_per_event": round(rebuilt.cpu_us_per_event, 1),
        "peak_rss": rebuilt.peak_rss,
        "largest_rss": rebuilt.largest_rss,
        "contention": contention,
    }


async def _intake(
    env: Environment,
    pid_files: Any,
    options: argparse.Namespace,
    rate: float,
    batches: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The intake benchmark at one rate of single scans, then ``batches`` batch uploads."""
    contention = machine.Contention(pid_files).start()
    run = await intake.intake(
        env,
        rate=rate,
        duration_s=options.duration,
        batches=batches,
        batch_size=options.batch_size,
        workers=options.post_office_workers,
        say=say,
    )
    load = run.load
    errors = sum(n for status, n in load["scan_statuses"].items() if status not in ("200", "201"))
    found = {
        "rate": rate,
        "duration_s": options.duration,
        "scan_ms": report.distribution(load["scan_latencies_ms"]),
        "scan_per_second": report.per_second(load["scan_offsets_s"], load["scan_latencies_ms"]),
        "scan_started_at": load["scan_started_at"],
        "scan_statuses": load["scan_statuses"],
        "errors": errors,
        "send_lag_ms": round(load["scan_send_lag_ms"], 1),
        "batch_size": options.batch_size,
        "batch_ms": report.distribution(load["batch_latencies_ms"]),
        "batch_statuses": load["batch_statuses"],
        "batch_errors": sum(n for status, n in load["batch_statuses"].items() if status != "200"),
        "batch_scans_accepted": load["batch_scans_accepted"],
        "accept_seconds": round(load["accept_seconds"], 1),
        "post_office_cpu_seconds": round(run.services["post_office"].cpu_s, 1),
        "post_office_peak_rss": run.services["post_office"].peak_rss,
        "post_office_workers": options.post_office_workers,
        "load_generator_peak_rss": run.load_peak_rss,
        "contention": contention.finish(),
    }
    scan = found["scan_ms"]
    say("  single scans second by second (UTC, by scheduled send time):")
    for line in report.timeline_lines(found["scan_per_second"], started_at=load["scan_started_at"]):
        say(f"    {line}")
    say(f"  single scans p50 {scan['p50']} ms, p99 {scan['p99']} ms; batches {found['batch_ms']}")
    return found


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    # bench/run.sh names itself; the broker's and database's addresses would only be noise.
    command = os.environ.get("BENCH_COMMAND") or "python -m bench " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    started = time.monotonic()
    results = asyncio.run(_run(options, command))
    results["seconds"] = round(time.monotonic() - started, 1)
    print()
    print(report.table(results))
    complete = set(options.only) == set(ALL)
    json_path, md_path = report.write(results, options.results_dir, latest=complete)
    print(f"\nresults: {json_path.relative_to(ROOT) if json_path.is_relative_to(ROOT) else json_path}")
    if options.readme is not None and complete:
        if report.update_readme(options.readme, results):
            print(f"table written to {options.readme}")
        else:
            print(
                f"{options.readme} has no {report.README_START} … {report.README_END} section; see {md_path}"
            )
    elif options.readme is not None:
        print(f"a partial run: {options.readme} and latest.md keep the last complete run's table")
    print(json.dumps({"met": all(r.met is not False for r in report.rows(results))}))
    return 0
