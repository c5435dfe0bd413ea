"""Keeping co-partitioned topics level in time while a consumer catches up.

A dossier's postal events and agency events are on two topics, keyed by the dossier, with the same
partition count: partition p of both holds the same dossiers. A consumer catching up on a backlog (after
an outage, a deployment, or a rebuild from the beginning) fetches every partition at the same pace in
records, but the agency topic holds fewer records per hour than the postal one, so it runs ahead in
time: a dossier's agency events arrive long before the postal events that happened earlier. The tracker
then takes each postal event as a late one and folds the dossier's whole history again (a third of the
dossiers of a catch-up batch did, reading back half as many history rows as it wrote).

``TimeAlignment.release`` takes a batch just read and keeps back each partition's records that are newer
than the newest record read from a peer (the same partition number of another topic) that still has
records to read: the consumer is rewound to the first record kept back, and the partition is paused
until its peers have caught up in time. The laggard of a group is always released whole, so the
consumer always progresses. Live traffic, where every partition is at its end, keeps nothing back.
Record timestamps are the producers' (CreateTime), close to when each event was published.

Offsets stay safe: a rewound partition's position is its first record kept back, so the offsets
committed after the batch stop before it, and it is read again later (aiokafka drops what it had
prefetched for a paused or rewound partition). Correctness never depends on the alignment: the fold
puts a late event in its place anyway; this only keeps catch-ups on the cheap path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from typing import Any, Protocol

from aiokafka import TopicPartition


class SteerableConsumer(Protocol):
    """What of aiokafka's AIOKafkaConsumer the alignment uses (all public)."""

    def assignment(self) -> Set[TopicPartition]: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...

    def paused(self) -> Set[TopicPartition]: ...

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    async def position(self, partition: TopicPartition) -> int: ...


def watermarks(
    assigned: Iterable[TopicPartition],
    newest: Mapping[TopicPartition, int],
    lagging: Set[TopicPartition],
) -> dict[TopicPartition, int]:
    """The newest record time each partition may be read up to (inclusive), by its group's laggard: the
    lagging member (same partition number, any topic) with the oldest newest record. The laggard may be
    read whole; the others only up to just before the laggard's newest time, since the laggard may still
    hold records of that very millisecond (producers stamp many records a millisecond). Ties are broken
    by topic name, so exactly one member of a group is its laggard and the group always progresses.

    A lagging member nothing was read from yet may hold the oldest records of all: it is the laggard,
    and until it is read its peers may read nothing. A partition without a lagging peer is not limited
    (absent). ``newest``: the timestamp (ms) of the newest record read from each partition;
    ``lagging``: the partitions known to have records left to read.
    """
    groups: dict[int, list[TopicPartition]] = {}
    for tp in assigned:
        groups.setdefault(tp.partition, []).append(tp)
    limits: dict[TopicPartition, int] = {}
    for members in groups.values():
        laggards = [tp for tp in members if tp in lagging]
        if not laggards:
            continue
        laggard = min(laggards, key=lambda tp: (newest.get(tp, -1), tp.topic))
        slowest = newest.get(laggard, -1)
        limits.update((tp, slowest if tp == laggard else slowest - 1) for tp in members)
    return limits


class TimeAlignment:
    """The state of one consumer's alignment: of each partition, the newest record time read and the
    offset after the last record read (a partition with records beyond it is lagging)."""

    def __init__(self) -> None:
        self._newest: dict[TopicPartition, int] = {}
        self._next: dict[TopicPartition, int] = {}

    async def release(
        self,
        consumer: SteerableConsumer,
        records: Sequence[Any],
        ends: Mapping[TopicPartition, int] | None = None,
    ) -> list[Any]:
        """Of a batch of ``records`` (aiokafka ConsumerRecords) just read, those to apply now.

        A partition's records newer than the newest record read from a lagging peer wait: the consumer is
        rewound to the first of them (so the offsets committed after the batch stop before it) and the
        partition is paused until its peers have caught up in time. Each partition's records are
        released as a prefix, in their order. The laggard of each group is released whole, so every
        batch that holds some of a group's laggard's records applies them.

        ``ends``: where each partition ends, when the caller knows better than the broker's high
        watermarks (a rebuild reads up to the end offsets it saw at start, and no further). A partition
        is lagging while records before its end were never read: records read and sent back to wait
        count as read, so the laggard of a group is always one that gives new records when read again.
        """
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if record.timestamp > self._newest.get(tp, -1):
                self._newest[tp] = record.timestamp
            if record.offset + 1 > self._next.get(tp, -1):
                self._next[tp] = record.offset + 1
        assigned = set(consumer.assignment())
        for known in (self._newest, self._next):
            for tp in [tp for tp in known if tp not in assigned]:
                del known[tp]  # revoked in a rebalance: another member reads it now
        for tp in assigned - self._next.keys():
            # Nothing read from it yet: where it stands (known to the consumer, no round trip).
            self._next[tp] = await consumer.position(tp)
        lagging = {
            tp
            for tp in assigned
            if self._behind(tp, ends.get(tp) if ends is not None else consumer.highwater(tp))
        }
        limits = watermarks(assigned, self._newest, lagging)
        ready: list[Any] = []
        rewind: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if tp in rewind:
                continue
            limit = limits.get(tp)
            if limit is not None and record.timestamp > limit and tp in assigned:
                rewind[tp] = record.offset
                continue
            ready.append(record)
        # What was read stays read for the alignment (its time is known, it is no longer a partition's
        # unknown rest), though the consumer reads it again.
        for tp, offset in rewind.items():
            consumer.seek(tp, offset)
        held = {tp for tp, limit in limits.items() if self._newest.get(tp, -1) > limit}
        paused = set(consumer.paused())
        if held - paused:
            consumer.pause(*sorted(held - paused))
        if (paused & assigned) - held:
            consumer.resume(*sorted((paused & assigned) - held))
        return ready

    def _behind(self, tp: TopicPartition, end: int | None) -> bool:
        return end is not None and tp in self._next and self._next[tp] < end
