"""`python -m services.simulator`: play one simulated day against a running stack, then summarise.

Settings come from the environment (services/simulator/settings.py, SIM_*); the service URLs default to
the local run's. The simulator issues its own day-long credentials in the registry of DATABASE_URL,
signed with DOSSIER_AUTH_SECRET (or the local run's .work/auth_secret).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from aiokafka.errors import GroupAuthorizationFailedError

from services.shared.kafka_security import kafka_security_of
from services.shared.logs import configure
from services.simulator.credentials import issue_credentials
from services.simulator.progress import TerminalBar
from services.simulator.run import endpoints_of, simulate
from services.simulator.settings import SimulatorSettings
from services.simulator.summary import collect, render_store
from services.stack.lag import settle

LOCAL_SECRET = Path(".work/auth_secret")


async def _main(settings: SimulatorSettings) -> int:
    secret = settings.auth_secret.get_secret_value()
    if not secret and LOCAL_SECRET.exists():  # noqa: ASYNC240 (once, at start-up)
        secret = LOCAL_SECRET.read_text().strip()  # noqa: ASYNC240
    if not secret:
        print("simulator: set DOSSIER_AUTH_SECRET (the services' signing key)", file=sys.stderr)
        return 2
    credentials = await issue_credentials(settings.database_url, secret)
    endpoints = endpoints_of(settings)
    report = await simulate(settings, endpoints, credentials, progress=TerminalBar())
    print("waiting for the consumers to catch up and the clocks' metrics to refresh", file=sys.stderr)
    try:
        await settle(settings.kafka_bootstrap_servers, security=kafka_security_of(settings))
    except GroupAuthorizationFailedError:
        # On the secured broker the simulator logs in as the agencies' systems, which may not describe
        # the services' consumer groups (deploy/kafka/acls.tsv): the summary may then lag the last events.
        print(
            "the simulator's Kafka login may not describe the consumer groups: not waiting for them",
            file=sys.stderr,
        )
    print("\n".join(report.lines()))
    print("\n".join(render_store(await collect(endpoints, credentials.operator))))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, help="dossiers to start (default: SIM_DOSSIERS or 200)")
    parser.add_argument("--seed", type=int, help="seed of the random choices (default: SIM_SEED)")
    args = parser.parse_args(argv)
    if args.dossiers is not None:
        os.environ["SIM_DOSSIERS"] = str(args.dossiers)
    if args.seed is not None:
        os.environ["SIM_SEED"] = str(args.seed)
    settings = SimulatorSettings()
    configure(settings.log_level)
    for noisy in ("aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return asyncio.run(_main(settings))


if __name__ == "__main__":
    raise SystemExit(main())
