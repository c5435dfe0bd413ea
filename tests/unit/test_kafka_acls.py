"""The secured broker's ACL table agrees with the topic registry: each service may write only what it
produces (and the dead letters of what it consumes), read only what it consumes, with its own groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.topics import Topic, all_topics
from services.agency.settings import AgencySettings
from services.shared.kafka_acls import ACL_TABLE, GROUP_PREFIXES, Acl, implied_by, markdown_table, read_table
from services.tracker.settings import TrackerSettings
from services.turnaround.settings import TurnaroundSettings


def test_the_acl_table_is_exactly_what_the_topic_registry_implies() -> None:
    table = read_table()
    assert len(table) == len(set(table)), "a row is repeated"
    assert set(table) == implied_by(all_topics())


def test_no_service_may_write_a_topic_another_service_produces() -> None:
    table = read_table()
    writers = {(acl.principal, acl.name) for acl in table if acl.operation == "Write"}
    assert ("post-office", "postal.events.v1") in writers
    assert ("post-office", "agency.events.v1") not in writers
    assert ("tracker", "postal.events.v1") not in writers
    # Nobody but the admin may create topics or touch the cluster.
    assert not [acl for acl in table if acl.resource == "cluster" or acl.operation in ("Create", "All")]


def test_every_default_consumer_group_is_within_its_services_prefix() -> None:
    groups = {
        "agency": [AgencySettings.model_fields[f].default for f in ("postal_group_id", "intake_group_id")],
        "tracker": [TrackerSettings.model_fields["consumer_group"].default],
        "turnaround": [TurnaroundSettings.model_fields["consumer_group"].default],
    }
    for principal, ids in groups.items():
        assert all(str(group).startswith(GROUP_PREFIXES[principal]) for group in ids), (principal, ids)


def test_a_malformed_row_names_its_line(tmp_path: Path) -> None:
    table = tmp_path / "acls.tsv"
    table.write_text("# comment\npost-office\ttopic\tliteral\tpostal.events.v1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"acls.tsv:2: want 5 tab-separated fields, got 4"):
        read_table(table)


def test_one_row_per_operation(tmp_path: Path) -> None:
    table = tmp_path / "acls.tsv"
    table.write_text("a\ttopic\tliteral\tt\tRead,Write\n", encoding="utf-8")
    assert read_table(table) == [
        Acl("a", "topic", "literal", "t", "Read"),
        Acl("a", "topic", "literal", "t", "Write"),
    ]


def test_the_readme_shows_the_table_as_it_is() -> None:
    readme = ACL_TABLE.parent / "README.md"
    assert markdown_table(read_table()) in readme.read_text(encoding="utf-8"), (
        "deploy/kafka/README.md's ACL table is out of date: paste services.shared.kafka_acls.markdown_table()"
    )


def test_a_topic_the_operator_also_reads_still_grants_its_other_consumers() -> None:
    """The admin needs no row, but skipping it must not skip the consumers listed after it."""
    shared = Topic(name="t", partitions=1, description="", consumers=("operator CLI", "tracker"))

    implied = implied_by([shared])

    assert Acl("tracker", "topic", "literal", "t", "Read") in implied
    assert Acl("tracker", "group", "prefixed", GROUP_PREFIXES["tracker"], "Read") in implied
    assert not [acl for acl in implied if acl.principal == "admin"]
