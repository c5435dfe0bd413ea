"""Operator commands of the tracker: dead letters and rebuilds.

    python -m services.tracker.cli dead-letters list [--topic T] [--reason R] [--consumer C] [--json]
    python -m services.tracker.cli dead-letters republish --topic T --offset N [--offset M] [--value-file F]
    python -m services.tracker.cli dead-letters republish --topic T --all [--reason R] [--consumer C]
    python -m services.tracker.cli rebuild --database-url URL [--processes N]

``list --payload`` adds the bytes of each letter.

``list`` shows why each message was refused and where it came from, never its bytes unless ``--payload``
is given (they may hold personal data). ``republish`` sends the original bytes and key back to the
original topic once the consumer (or, with ``--value-file``, the message) is fixed; idempotent consumers
make that safe, and a letter several consumer groups refused is re-published once. ``rebuild`` migrates
an empty database and replays postal.events.v1 and agency.events.v1 from their beginning into it, then
exits once it reached the end offsets it saw at start (services/tracker/rebuild.py); with
``--processes N``, N processes share the partitions (services/tracker/rebuild_processes.py). It
publishes no stage changes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.topics import by_name
from services.shared.consuming import (
    DLT_CONSUMER,
    DLT_DETAIL,
    DLT_OFFSET,
    DLT_PARTITION,
    DLT_REASON,
    DLT_TIME,
    DLT_TOPIC,
)
from services.shared.kafka_security import PLAINTEXT, KafkaSecurity, kafka_security_of
from services.tracker.app import run
from services.tracker.consumers import TOPICS
from services.tracker.rebuild import RebuildRefusedError, Share, rebuild
from services.tracker.rebuild_processes import RebuildFailedError, rebuild_in_processes
from services.tracker.settings import TrackerSettings

REPUBLISHED_FROM = "dlt.republished_from"
DEFAULT_DEAD_LETTER_TOPICS = tuple(topic.dead_letter.name for topic in TOPICS if topic.dead_letter)

Out = Callable[[str], None]


# --------------------------------------------------------------------------- dead letters


@dataclass(frozen=True)
class DeadLetterRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value.decode("utf-8", "replace") if value is not None else None

    @property
    def origin(self) -> tuple[str, int, int] | None:
        topic, partition, offset = self.header(DLT_TOPIC), self.header(DLT_PARTITION), self.header(DLT_OFFSET)
        if topic is None or partition is None or offset is None:
            return None
        return topic, int(partition), int(offset)

    def describe(self, *, payload: bool = False) -> dict[str, Any]:
        origin = self.origin
        described: dict[str, Any] = {
            "dlt_topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "dead_lettered_at": self.header(DLT_TIME)
            or datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).isoformat(),
            "consumer": self.header(DLT_CONSUMER),
            "reason": self.header(DLT_REASON),
            "detail": self.header(DLT_DETAIL),
            "original_topic": origin[0] if origin else None,
            "original_partition": origin[1] if origin else None,
            "original_offset": origin[2] if origin else None,
            "key": self.key.decode("utf-8", "replace") if self.key is not None else None,
            "bytes": len(self.value),
        }
        if payload:
            described["payload"] = self.value.decode("utf-8", "replace")
        return described


def dead_letter_topic_name(name: str) -> str:
    """Accepts a dead-letter topic or the topic it collects for."""
    topic = by_name(name)
    if topic.dead_letter is not None:
        return topic.dead_letter.name
    if not topic.name.endswith(".dlt"):
        raise KeyError(f"{name} has no dead-letter topic")
    return topic.name


async def read_dead_letters(
    bootstrap: str, topics: Sequence[str], security: KafkaSecurity = PLAINTEXT
) -> list[DeadLetterRecord]:
    """Every record of the dead-letter topics, up to the end offsets seen at start."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        client_id="tracker-dlt",
        **security.client_options(),
    )
    await consumer.start()
    found: list[DeadLetterRecord] = []
    try:
        partitions = [TopicPartition(name, p) for name in topics for p in range(by_name(name).partitions)]
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in fetched.items():
                found.extend(
                    DeadLetterRecord(
                        topic=r.topic,
                        partition=r.partition,
                        offset=r.offset,
                        timestamp_ms=r.timestamp,
                        key=r.key,
                        value=r.value or b"",
                        headers={name: value for name, value in (r.headers or ())},
                    )
                    for r in records
                    if r.offset < ends[tp]
                )
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return sorted(found, key=lambda r: (r.topic, r.partition, r.offset))


def select_letters(
    letters: Sequence[DeadLetterRecord],
    *,
    offsets: Sequence[int] = (),
    reason: str | None = None,
    consumer: str | None = None,
) -> list[DeadLetterRecord]:
    chosen = [
        letter
        for letter in letters
        if (not offsets or letter.offset in offsets)
        and (reason is None or letter.header(DLT_REASON) == reason)
        and (consumer is None or letter.header(DLT_CONSUMER) == consumer)
    ]
    # Several consumer groups may have refused the same record: re-publish it once.
    unique: dict[tuple[str, int, int] | tuple[str, int], DeadLetterRecord] = {}
    for letter in chosen:
        unique.setdefault(letter.origin or (letter.topic, letter.offset), letter)
    return list(unique.values())


async def republish(
    bootstrap: str,
    letters: Sequence[DeadLetterRecord],
    *,
    value: bytes | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> list[tuple[DeadLetterRecord, str, int, int]]:
    """Send each letter's original bytes (or ``value``) and key back to its original topic (acks=all).
    Returns (letter, topic, partition, offset) of each re-publication."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        client_id="tracker-dlt",
        **security.client_options(),
    )
    await producer.start()
    sent: list[tuple[DeadLetterRecord, str, int, int]] = []
    try:
        for letter in letters:
            origin = letter.origin
            if origin is None:
                raise ValueError(f"{letter.topic}@{letter.offset} does not name its original topic")
            headers = [(name, data) for name, data in letter.headers.items() if not name.startswith("dlt.")]
            headers.append((REPUBLISHED_FROM, f"{letter.topic}:{letter.partition}:{letter.offset}".encode()))
            metadata = await producer.send_and_wait(
                origin[0], value if value is not None else letter.value, key=letter.key, headers=headers
            )
            sent.append((letter, metadata.topic, metadata.partition, metadata.offset))
    finally:
        await producer.stop()
    return sent


# --------------------------------------------------------------------------- the command line


def _print(line: str) -> None:
    print(line, flush=True)


async def _run(args: argparse.Namespace, settings: TrackerSettings) -> int:
    bootstrap = args.bootstrap_servers or settings.kafka_bootstrap_servers
    # The dead-letter tool reads every dead-letter topic and writes every topic: on a secured broker it
    # runs as the admin principal (KAFKA_USERNAME=admin).
    security = kafka_security_of(settings)
    if args.command == "rebuild":
        try:
            if args.share is not None or args.processes == 1:
                summary = await rebuild(settings, args.database_url, progress=_print, share=args.share)
            else:
                summary = await rebuild_in_processes(
                    settings, args.database_url, args.processes, progress=_print
                )
        except (RebuildRefusedError, RebuildFailedError) as exc:
            print(f"rebuild: {exc}", file=sys.stderr)
            return 1
        share = {"share": str(args.share)} if args.share is not None else {}
        _print(json.dumps({"rebuild": "done", **share, **summary.as_dict()}))
        return 0

    topics = (
        [dead_letter_topic_name(name) for name in args.topic] if args.topic else DEFAULT_DEAD_LETTER_TOPICS
    )
    letters = await read_dead_letters(bootstrap, topics, security)
    if args.action == "list":
        shown = [
            letter
            for letter in letters
            if (args.reason is None or letter.header(DLT_REASON) == args.reason)
            and (args.consumer is None or letter.header(DLT_CONSUMER) == args.consumer)
        ]
        for letter in shown:
            described = letter.describe(payload=args.payload)
            if args.json:
                _print(json.dumps(described, ensure_ascii=False))
            else:
                _print(
                    f"{described['dlt_topic']}@{described['offset']}  {described['dead_lettered_at']}  "
                    f"{described['consumer']}  {described['reason']}  from {described['original_topic']}"
                    f"[{described['original_partition']}]@{described['original_offset']}  "
                    f"key={described['key']}  {described['detail']}"
                )
        if not args.json:
            _print(f"{len(shown)} dead letter(s)")
        return 0

    if len(topics) != 1:
        print("republish: name exactly one --topic", file=sys.stderr)
        return 2
    if not args.all and not args.offset:
        print("republish: give --offset (repeatable) or --all", file=sys.stderr)
        return 2
    chosen = select_letters(letters, offsets=args.offset or (), reason=args.reason, consumer=args.consumer)
    missing = sorted(set(args.offset or ()) - {letter.offset for letter in letters})
    if missing:
        print(f"republish: no dead letter at offset(s) {missing} of {topics[0]}", file=sys.stderr)
        return 1
    value = None
    if args.value_file:
        if len(chosen) != 1:
            print("republish: --value-file replaces the bytes of exactly one dead letter", file=sys.stderr)
            return 2
        value = await asyncio.to_thread(Path(args.value_file).read_bytes)
    sent = await republish(bootstrap, chosen, value=value, security=security)
    for letter, topic, partition, offset in sent:
        _print(
            json.dumps(
                {
                    "republished": f"{letter.topic}@{letter.offset}",
                    "to": topic,
                    "partition": partition,
                    "offset": offset,
                    "replaced_bytes": value is not None,
                }
            )
        )
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.tracker.cli", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--bootstrap-servers", help="default: $KAFKA_BOOTSTRAP_SERVERS")
    commands = parser.add_subparsers(dest="command", required=True)

    dead = commands.add_parser("dead-letters", help="list or re-publish dead letters")
    actions = dead.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="reason and origin of each dead letter (no bytes by default)")
    again = actions.add_parser("republish", help="send dead letters back to their original topic")
    for sub in (listing, again):
        sub.add_argument(
            "--topic",
            action="append",
            help="a dead-letter topic or the topic it collects for (repeatable; default: "
            + ", ".join(DEFAULT_DEAD_LETTER_TOPICS)
            + ")",
        )
        sub.add_argument("--reason", help="only letters refused for this reason")
        sub.add_argument("--consumer", help="only letters of this consumer group")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--payload", action="store_true", help="include the bytes (may hold personal data)")
    again.add_argument("--offset", type=int, action="append", help="offset in the dead-letter topic")
    again.add_argument("--all", action="store_true", help="every letter that matches the filters")
    again.add_argument("--value-file", help="send these bytes instead of the original (one letter only)")

    rebuilding = commands.add_parser("rebuild", help="replay the event topics into an empty database")
    rebuilding.add_argument("--database-url", required=True, help="an empty database (it is migrated first)")
    rebuilding.add_argument(
        "--processes",
        type=_positive,
        default=1,
        help="processes sharing the partitions, each with TRACKER_CONSUMERS database connections "
        "(default 1; at most the topics' partition count)",
    )
    # Internal: how the processes of a shared rebuild are started (one share each, no migration).
    rebuilding.add_argument("--share", type=Share.parse, help=argparse.SUPPRESS)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    return run(_run(args, TrackerSettings()))


if __name__ == "__main__":
    raise SystemExit(main())
