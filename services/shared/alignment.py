"""Keeping co-partitioned topics level in time while a consumer catches up.

A dossier's postal events and agency events are on two topics, keyed by the dossier, with the same
partition count: partition p of both holds the same dossiers. A consumer catching up on a backlog (after
an outage, a deployment, or a rebuild from the beginning) fetches every partition at the same pace in
records, but the agency topic holds fewer records per hour than the postal one, so it runs ahead in
time: a dossier's agency events arrive long before the postal events that happened earlier. The tracker
then takes each postal event as a late one and folds the dossier's whole history again (a third of the
dossiers of a catch-up batch did, reading back half as many history rows as it wrote).

``TimeAlignment.release`` merges each batch just read by record time, group by group (a group: the same
partition number of every topic), the way a merge of sorted files does: it applies the oldest record
among the members' next ones, again and again, and stops at a member whose next record it does not have
(it was not read yet and may be older than what is left). What is left is held in memory for the next
batch, and its partitions are paused (they fetch nothing more meanwhile), so the next fetches read the
member that stopped the merge. Live traffic, where every partition is at its end, holds nothing back.
Record timestamps are the producers' (CreateTime), close to when each event was published; a
partition's records are taken to come in time order, as they nearly do (offline scanners are what the
fold's late path is for).

Offsets stay safe: the consumer's position is past the records held, so a consumer that commits offsets
commits ``committable()`` (each partition's first record held, or the one after its last record
applied), never its position. Records held for a partition revoked in a rebalance are dropped: its new
owner reads them from the committed offset. Correctness never depends on the alignment: the fold puts
a late event in its place anyway; this only keeps catch-ups on the cheap path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Any, Protocol

from aiokafka import TopicPartition


class SteerableConsumer(Protocol):
    """What of aiokafka's AIOKafkaConsumer the alignment uses (all public)."""

    def assignment(self) -> Set[TopicPartition]: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...

    def paused(self) -> Set[TopicPartition]: ...

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...

    async def position(self, partition: TopicPartition) -> int: ...


Position = tuple[int, int]
"""(record time, topic rank): the order of the merge; equal times go by topic, so the merge is total."""

UNKNOWN = -1
"""The time of a member's next record when nothing is known of it: before every record."""


class TimeAlignment:
    """One consumer's merge state: of each partition, the offset after the last record applied, the time
    of that record, and the records read but not applied yet (held in memory, their partition paused)."""

    def __init__(self) -> None:
        self._next: dict[TopicPartition, int] = {}
        self._applied: dict[TopicPartition, int] = {}
        self._held: dict[TopicPartition, list[Any]] = {}

    async def release(
        self,
        consumer: SteerableConsumer,
        records: Sequence[Any],
        ends: Mapping[TopicPartition, int] | None = None,
    ) -> list[Any]:
        """Of the records held so far and a batch of ``records`` (aiokafka ConsumerRecords) just read,
        those to apply now, each partition's in offset order; the rest are held for a later batch, and
        their partitions paused.

        ``ends``: where each partition ends, when the caller knows better than the broker's high
        watermarks (a rebuild reads up to the end offsets it saw at start, and no further). A partition
        whose end is not known yet (no fetch of it answered) may hold the oldest records of all.
        """
        assigned = set(consumer.assignment())
        for known in (self._next, self._applied, self._held):
            for tp in [tp for tp in known if tp not in assigned]:
                del known[tp]  # revoked in a rebalance: another member reads it from the commit
        queues = self._held
        self._held = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if tp in assigned:
                queues.setdefault(tp, []).append(record)
        for tp in assigned - self._next.keys():
            # Nothing applied from it yet: where the consumer stands (no round trip). Past this batch's
            # records, if it has some: they are applied (and move it) or held (and committed from).
            self._next[tp] = await consumer.position(tp)
        groups: dict[int, list[TopicPartition]] = {}
        for tp in assigned:
            groups.setdefault(tp.partition, []).append(tp)
        ranks = {topic: rank for rank, topic in enumerate(sorted({tp.topic for tp in assigned}))}

        def end_of(tp: TopicPartition) -> int | None:
            return ends.get(tp) if ends is not None else consumer.highwater(tp)

        applied: list[Any] = []
        for members in groups.values():
            taken = dict.fromkeys(members, 0)

            def head(tp: TopicPartition, taken: dict[TopicPartition, int]) -> Position | None:
                """Where the member's next record stands in the merge; None: it has none left."""
                queue, n = queues.get(tp, []), taken[tp]
                if n < len(queue):
                    return (queue[n].timestamp, ranks[tp.topic])
                end = end_of(tp)
                if end is not None and self._next[tp] >= end:
                    return None
                # Not read yet: no older than the last record applied from it, as far as is known.
                return (self._applied.get(tp, UNKNOWN), ranks[tp.topic])

            while True:
                heads = {tp: at for tp in members if (at := head(tp, taken)) is not None}
                if not heads:
                    break
                oldest = min(heads, key=lambda tp: heads[tp])
                queue = queues.get(oldest, [])
                if taken[oldest] >= len(queue):
                    # Its next record must be read before anything newer is applied. It holds nothing,
                    # so it is not paused: the next fetches read it.
                    break
                record = queue[taken[oldest]]
                taken[oldest] += 1
                applied.append(record)
                self._next[oldest] = record.offset + 1
                self._applied[oldest] = max(self._applied.get(oldest, UNKNOWN), record.timestamp)
            for tp in members:
                left = queues.get(tp, [])[taken[tp] :]
                if left:
                    self._held[tp] = left
        wait = set(self._held)
        paused = set(consumer.paused()) & assigned
        if wait - paused:
            consumer.pause(*sorted(wait - paused))
        if paused - wait:
            consumer.resume(*sorted(paused - wait))
        return applied

    def committable(self) -> dict[TopicPartition, int]:
        """The offset to commit for each partition records were read from: its first record held, or the
        one after the last record applied. The consumer's own position is past the records held."""
        offsets = dict(self._next)
        offsets.update((tp, held[0].offset) for tp, held in self._held.items())
        return offsets

    @property
    def holding(self) -> int:
        """How many records are held."""
        return sum(len(held) for held in self._held.values())
