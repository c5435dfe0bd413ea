"""Consumer lag, one definition for every place that measures it (the local run's wait for the consumers,
the `dossier_consumer_lag_records` metric): per partition, the records a group has yet to read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.shared.kafka_security import PLAINTEXT, KafkaSecurity


def partition_lag(end: int, committed: int | None, log_start: int) -> int:
    """Records of one partition a group has yet to read: the end offset minus the committed offset.

    A partition the group never committed counts from the log start, not from 0: every consumer group of
    the project reads it from there (``auto_offset_reset="earliest"``), and the records before it were
    deleted by retention (or by delete-records), so nobody will ever read them. For the same reason a
    commit older than the log start counts from the log start: the consumer resets to it.
    """
    position = committed if committed is not None and committed >= 0 else log_start
    return max(0, end - max(position, log_start))


async def consumer_lag(
    bootstrap_servers: str,
    groups: Mapping[str, Sequence[str]],
    client_id: str,
    security: KafkaSecurity = PLAINTEXT,
) -> dict[str, dict[TopicPartition, int]]:
    """Each group's lag on every partition of the topics it reads (group → the topics it consumes).

    Partitions are the broker's (a topic that does not exist has none), so the figure holds whatever the
    registry says.
    """
    options = security.client_options()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=client_id, **options)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, client_id=client_id, **options)
    await admin.start()
    await consumer.start()
    try:
        topics = sorted({topic for group_topics in groups.values() for topic in group_topics})
        described = await admin.describe_topics(topics)
        partitions = sorted(
            TopicPartition(d["topic"], p["partition"])
            for d in described
            if not d["error_code"]
            for p in d["partitions"]
        )
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        lag: dict[str, dict[TopicPartition, int]] = {}
        for group, group_topics in sorted(groups.items()):
            read = [tp for tp in partitions if tp.topic in group_topics]
            lag[group] = {}
            if not read:  # no partitions would ask for every partition the group ever committed
                continue
            committed = await admin.list_consumer_group_offsets(group, partitions=read)
            for tp in read:
                meta = committed.get(tp)
                lag[group][tp] = partition_lag(
                    ends[tp], meta.offset if meta is not None else None, starts[tp]
                )
        return lag
    finally:
        await consumer.stop()
        await admin.close()
