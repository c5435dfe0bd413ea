"""The secured broker's ACL table (deploy/kafka/acls.tsv) and the table contracts/topics.py implies.

deploy/kafka/kafka.sh start-secure applies the file; tests/unit/test_kafka_acls.py checks that it is
exactly what the topic registry says each service produces and consumes, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from contracts.topics import Topic

ACL_TABLE = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "acls.tsv"

ADMIN_PRINCIPAL = "admin"
"""The super user: creates topics, runs the dead-letter CLI, applies ACLs; needs no ACL rows."""

# The registry names services and outside parties; each has one Kafka principal. The operator CLI (the
# dead-letter tool) runs as the admin.
PRINCIPALS: dict[str, str] = {
    "post_office": "post-office",
    "agency": "agency",
    "agency systems": "agency-systems",
    "tracker": "tracker",
    "turnaround": "turnaround",
    "notifications": "notifications",
    "operator CLI": ADMIN_PRINCIPAL,
}

# The consumer groups a principal may use: the prefix of every group id its service's settings name.
GROUP_PREFIXES: dict[str, str] = {
    "post-office": "post-office",
    "agency": "agency.",
    "tracker": "tracker",
    "turnaround": "turnaround",
    "notifications": "notifications",
}


LAG_OBSERVER = "turnaround"
"""The service that exports every consumer group's lag for the pipeline dashboard: it may describe the
other services' consumer groups and the topics they read. Describe reads no record and joins no group:
it shows committed offsets and end offsets, nothing more."""


class Acl(NamedTuple):
    principal: str
    resource: str  # topic | group | cluster
    pattern: str  # literal | prefixed
    name: str
    operation: str  # Kafka's AclOperation name: Read, Write, Describe...


def read_table(path: Path = ACL_TABLE) -> list[Acl]:
    """The rows of the table, one Acl per operation; '#' starts a comment line."""
    rows: list[Acl] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 5:
            raise ValueError(f"{path.name}:{number}: want 5 tab-separated fields, got {len(fields)}")
        principal, resource, pattern, name, operations = fields
        rows.extend(Acl(principal, resource, pattern, name, op) for op in operations.split(","))
    return rows


def implied_by(topics: Iterable[Topic]) -> set[Acl]:
    """What the registry implies: a producer writes its topic (Write also lets an idempotent producer
    get its producer id, KIP-679), a consumer reads it and writes its dead letters, and every consumer
    reads its own groups; the lag observer describes every other consumer's groups and the topics they
    read (Read and Write imply Describe, so only topics it neither reads nor writes get a row)."""
    acls: set[Acl] = set()
    observer = PRINCIPALS[LAG_OBSERVER]
    for topic in topics:
        for producer in topic.producers:
            acls.add(_topic(producer, topic.name, "Write"))
        uses = {PRINCIPALS[party] for party in (*topic.producers, *topic.consumers) if party in PRINCIPALS}
        for consumer in topic.consumers:
            acls.add(_topic(consumer, topic.name, "Read"))
            principal = PRINCIPALS[consumer]
            if principal == ADMIN_PRINCIPAL:
                continue
            acls.add(Acl(principal, "group", "prefixed", GROUP_PREFIXES[principal], "Read"))
            if principal != observer:
                acls.add(Acl(observer, "group", "prefixed", GROUP_PREFIXES[principal], "Describe"))
                if observer not in uses:
                    acls.add(Acl(observer, "topic", "literal", topic.name, "Describe"))
    return {acl for acl in acls if acl.principal != ADMIN_PRINCIPAL}


def _topic(party: str, name: str, operation: str) -> Acl:
    return Acl(PRINCIPALS[party], "topic", "literal", name, operation)


def markdown_table(acls: Iterable[Acl]) -> str:
    """The table by principal, as deploy/kafka/README.md shows it (a test keeps the two the same).
    A prefixed name ends in "…"."""
    acls = list(acls)
    rows = [
        "| Principal | Writes | Reads | Consumer groups | Describes (lag only) |",
        "|---|---|---|---|---|",
    ]
    for principal in dict.fromkeys(acl.principal for acl in acls):
        cells = [
            ", ".join(
                f"`{acl.name}`" + ("…" if acl.pattern == "prefixed" else "")
                for acl in acls
                if acl.principal == principal and (acl.resource, acl.operation) == wanted
            )
            or "—"
            for wanted in (("topic", "Write"), ("topic", "Read"), ("group", "Read"))
        ]
        described = [
            f"{acl.resource} `{acl.name}`" + ("…" if acl.pattern == "prefixed" else "")
            for acl in acls
            if acl.principal == principal and acl.operation == "Describe"
        ]
        cells.append(", ".join(described) or "—")
        rows.append(f"| `{principal}` | " + " | ".join(cells) + " |")
    return "\n".join(rows)
