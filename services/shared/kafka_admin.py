"""Creates the topics of the registry (contracts/topics.py) on a broker; the `dossier-kafka` CLI.

    dossier-kafka create-topics [--bootstrap-servers HOST:PORT] [--replication-factor N]
    python -m services.shared.kafka_admin create-topics

Creating is idempotent: a topic that exists is left as it is, unless it has fewer partitions than the
registry says. Then keys would hash to other partitions than the services expect, so this refuses.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from contracts.topics import Topic, all_topics
from services.shared.kafka_security import (
    PLAINTEXT,
    KafkaSecurity,
    KafkaSecurityError,
    kafka_security_from_env,
)

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"

log = logging.getLogger(__name__)


class TopicMismatchError(RuntimeError):
    """An existing topic has fewer partitions than the registry gives it."""


def topic_configs(topic: Topic, min_insync_replicas: int = 1) -> dict[str, str]:
    return {
        "retention.ms": str(topic.retention_ms),
        "min.insync.replicas": str(min_insync_replicas),
    }


async def create_topics(
    bootstrap_servers: str,
    topics: Iterable[Topic],
    *,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
    timeout_s: float = 30.0,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Create every topic that is missing; return once all of them have a leader for each partition.
    On a secured broker only the admin principal may create topics."""
    wanted = list(topics)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="dossier-kafka-admin",
        request_timeout_ms=int(timeout_s * 1000),
        **security.client_options(),
    )
    await admin.start()
    try:
        existing = await _partition_counts(admin)
        too_few = [t for t in wanted if t.name in existing and existing[t.name] < t.partitions]
        if too_few:
            raise TopicMismatchError(
                "topics with fewer partitions than contracts/topics.py gives them: "
                + ", ".join(f"{t.name} has {existing[t.name]}, needs {t.partitions}" for t in too_few)
                + " (add partitions with kafka-topics --alter, or recreate the topic)"
            )
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=t.name,
                        num_partitions=t.partitions,
                        replication_factor=replication_factor,
                        topic_configs=topic_configs(t, min_insync_replicas),
                    )
                    for t in missing
                ],
                timeout_ms=int(timeout_s * 1000),
            )
            # Entries are (topic, error code, error message); another client may have won the race.
            failures = [
                f"{entry[0]}: {for_code(entry[1]).__name__} {entry[2] or ''}".rstrip()
                for entry in response.topic_errors
                if entry[1] not in (0, TopicAlreadyExistsError.errno)
            ]
            if failures:
                raise KafkaError("could not create topics: " + "; ".join(failures))
            for t in missing:
                log.info("kafka_topic_created topic=%s partitions=%d", t.name, t.partitions)
        await _wait_until_led(admin, wanted, time.monotonic() + timeout_s)
    finally:
        await admin.close()


async def wait_for_broker(
    bootstrap_servers: str, timeout_s: float = 30.0, security: KafkaSecurity = PLAINTEXT
) -> None:
    """Return once the broker answers a metadata request and lists at least one broker."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="dossier-kafka-admin",
            request_timeout_ms=5000,
            **security.client_options(),
        )
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
            if cluster["brokers"]:
                return
        except (KafkaError, OSError) as error:
            last_error = error
        finally:
            await admin.close()
        await asyncio.sleep(0.5)
    raise TimeoutError(f"no Kafka broker at {bootstrap_servers} within {timeout_s:g} s: {last_error!r}")


async def _partition_counts(admin: AIOKafkaAdminClient) -> dict[str, int]:
    # All topics (a null topic list): naming topics would let a broker with auto-creation create them.
    return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}


async def _wait_until_led(admin: AIOKafkaAdminClient, wanted: Sequence[Topic], deadline: float) -> None:
    # CreateTopics returns once the controller has the topics; the broker's metadata catches up a
    # moment later, and a producer that comes first gets UNKNOWN_TOPIC_OR_PARTITION.
    while True:
        described = {t["topic"]: t for t in await admin.describe_topics()}
        pending = [t.name for t in wanted if not _is_led(described.get(t.name), t.partitions)]
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"topics without a leader for every partition: {', '.join(pending)}")
        await asyncio.sleep(0.1)


def _is_led(described: dict[str, Any] | None, partitions: int) -> bool:
    if described is None or described["error_code"]:
        return False
    found = described["partitions"]
    return len(found) >= partitions and all(p["error_code"] == 0 and p["leader"] >= 0 for p in found)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dossier-kafka", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-topics", help="create the registry's topics that are missing")
    create.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP_SERVERS),
        help="host:port[,host:port] (default: $KAFKA_BOOTSTRAP_SERVERS or %(default)s)",
    )
    create.add_argument("--replication-factor", type=int, default=1)
    create.add_argument("--min-insync-replicas", type=int, default=1)
    create.add_argument(
        "--wait", type=float, default=30.0, metavar="SECONDS", help="how long to wait for the broker"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # aiokafka logs every refused connection while the broker starts; the outcome is reported below.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def create_all() -> None:
        # On a secured broker: KAFKA_SECURITY_PROTOCOL=SASL_SSL, the admin's KAFKA_USERNAME and password.
        security = kafka_security_from_env()
        await wait_for_broker(args.bootstrap_servers, args.wait, security)
        await create_topics(
            args.bootstrap_servers,
            all_topics(),
            replication_factor=args.replication_factor,
            min_insync_replicas=args.min_insync_replicas,
            security=security,
        )

    try:
        asyncio.run(create_all())
    except (TopicMismatchError, KafkaError, TimeoutError, KafkaSecurityError) as error:
        log.error("kafka_topics_not_created error=%s", error)
        return 1
    log.info("kafka_topics_ready count=%d bootstrap=%s", len(all_topics()), args.bootstrap_servers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
