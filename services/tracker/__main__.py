"""Run the tracker.

    python -m services.tracker [serve]   # HTTP API + consumer group + outbox relay (uvicorn)
    python -m services.tracker api       # HTTP API only (more replicas for lookups)
    python -m services.tracker consume   # consumer group + outbox relay, no HTTP

Settings come from the environment (services/tracker/settings.py): KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL,
DOSSIER_AUTH_SECRET and TRACKER_*.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from services.shared.logs import configure, log_event
from services.tracker.app import build, run
from services.tracker.settings import TrackerSettings

logger = logging.getLogger("services.tracker")


async def consume(settings: TrackerSettings) -> None:
    tracker = build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with tracker.consuming():
            log_event(logger, "tracker_consuming", group=settings.consumer_group)
            await stop.wait()
    finally:
        await tracker.dispose()
    log_event(logger, "tracker_stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.tracker", description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="serve", choices=["serve", "api", "consume"])
    args = parser.parse_args(argv)
    settings = TrackerSettings()
    configure(settings.log_level)
    if args.mode == "consume":
        run(consume(settings))
        return 0
    from services.shared.http_server import serve

    app = build(settings, consume=args.mode == "serve").api
    serve(app, settings, host=settings.host, port=settings.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
