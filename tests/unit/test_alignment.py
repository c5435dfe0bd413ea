"""A consumer catching up reads the postal and agency topics level in time (services.shared.alignment):
what runs ahead waits, rewound and paused, until its peer has caught up; nothing waits in live traffic,
and the slowest partition never waits, so the consumer always progresses."""

from __future__ import annotations

import random
from collections.abc import Set
from dataclasses import dataclass, field

import pytest
from aiokafka import TopicPartition

from services.shared.alignment import TimeAlignment

POSTAL = "postal.events.v1"
AGENCY = "agency.events.v1"


def tp(topic: str, partition: int = 0) -> TopicPartition:
    return TopicPartition(topic, partition)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int


@dataclass
class Consumer:
    """The few public calls of aiokafka's consumer the alignment makes, over a fixed assignment."""

    assigned: set[TopicPartition]
    ends: dict[TopicPartition, int]
    held: set[TopicPartition] = field(default_factory=set)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    calls: list[tuple[str, tuple[TopicPartition, ...]]] = field(default_factory=list)

    def assignment(self) -> Set[TopicPartition]:
        return self.assigned

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.ends.get(partition)

    def paused(self) -> Set[TopicPartition]:
        return set(self.held)

    def pause(self, *partitions: TopicPartition) -> None:
        self.calls.append(("pause", partitions))
        self.held |= set(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.calls.append(("resume", partitions))
        self.held -= set(partitions)

    async def position(self, partition: TopicPartition) -> int:
        return self.positions.get(partition, 0)


def records(topic: str, times: list[int], first_offset: int = 0, partition: int = 0) -> list[Record]:
    return [Record(topic, partition, first_offset + n, t) for n, t in enumerate(times)]


async def test_a_batch_is_applied_in_time_order_up_to_a_partition_not_read_far_enough() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 1_000, tp(AGENCY): 100})
    postal = records(POSTAL, [100, 200, 300])
    agency = records(AGENCY, [150, 250, 900, 400])
    alignment = TimeAlignment()
    ready = await alignment.release(consumer, [*agency, *postal])
    # Up to 300, the postal partition's last record read: what it holds next may be older than 900.
    assert ready == [postal[0], agency[0], postal[1], agency[1], postal[2]]
    assert consumer.held == {tp(AGENCY)} and alignment.holding == 2
    # The offsets to commit stop before the records held; the consumer itself is past them.
    assert alignment.committable() == {tp(AGENCY): 2, tp(POSTAL): 3}
    # The records held are applied from memory once the postal partition was read further.
    later = records(POSTAL, [350, 950], first_offset=3)
    assert await alignment.release(consumer, later) == [later[0], agency[2], agency[3]]
    # Now the agency partition's next record, not read yet, may be older than 950.
    assert consumer.held == {tp(POSTAL)} and alignment.holding == 1
    assert alignment.committable() == {tp(AGENCY): 4, tp(POSTAL): 4}


async def test_a_partition_nothing_was_read_from_holds_its_peers_back_until_it_is_read() -> None:
    # At start, the answer to the first fetch of the postal partition has not come yet.
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(AGENCY): 1})
    alignment = TimeAlignment()
    assert await alignment.release(consumer, records(AGENCY, [9_000])) == []
    assert consumer.held == {tp(AGENCY)} and alignment.committable()[tp(AGENCY)] == 0
    consumer.ends[tp(POSTAL)] = 2
    batch = records(POSTAL, [8_000, 9_500])
    # The agency record held (9,000) takes its place between the postal ones.
    assert await alignment.release(consumer, batch) == [batch[0], *records(AGENCY, [9_000]), batch[1]]
    assert consumer.held == set() and alignment.committable() == {tp(POSTAL): 2, tp(AGENCY): 1}


async def test_offsets_to_commit_stop_at_the_first_record_held_not_at_the_consumers_position() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 100, tp(AGENCY): 100})
    # As aiokafka does: after a batch, the position is past the records it returned.
    consumer.positions = {tp(AGENCY): 12, tp(POSTAL): 7}
    alignment = TimeAlignment()
    assert await alignment.release(consumer, records(AGENCY, [500, 600], first_offset=10)) == []
    assert alignment.committable() == {tp(AGENCY): 10, tp(POSTAL): 7}


async def test_a_partition_read_up_to_a_time_lets_older_records_of_its_peer_through() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 100, tp(AGENCY): 1})
    alignment = TimeAlignment()
    # The postal records applied reach 500 (one of them out of time order); more are to come.
    first = [*records(POSTAL, [300, 500, 450]), *records(AGENCY, [100])]
    assert await alignment.release(consumer, first) == [first[3], *first[:3]]
    # New agency records arrive. The postal partition's next record is taken to be no older than the
    # newest applied from it (500): 480 goes, 520 waits.
    consumer.ends[tp(AGENCY)] = 3
    batch = records(AGENCY, [480, 520], first_offset=1)
    assert await alignment.release(consumer, batch) == batch[:1]
    assert consumer.held == {tp(AGENCY)} and alignment.committable()[tp(AGENCY)] == 2


async def test_records_of_the_same_millisecond_go_by_topic() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 1, tp(AGENCY): 1})
    batch = [*records(POSTAL, [5]), *records(AGENCY, [5])]
    assert await TimeAlignment().release(consumer, batch) == batch[::-1]


async def test_in_live_traffic_every_partition_is_at_its_end_and_everything_is_released() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 1, tp(AGENCY): 1})
    batch = [*records(POSTAL, [1_000]), *records(AGENCY, [9_000])]
    alignment = TimeAlignment()
    assert await alignment.release(consumer, batch) == batch
    assert consumer.calls == [] and alignment.holding == 0


async def test_the_caller_may_say_where_each_partition_ends() -> None:
    # A rebuild stops at the end offsets it saw at start, though more records keep arriving.
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 1_000, tp(AGENCY): 1_000})
    batch = [*records(POSTAL, [1_000]), *records(AGENCY, [9_000])]
    assert await TimeAlignment().release(consumer, batch, {tp(POSTAL): 1, tp(AGENCY): 1_000}) == batch
    assert await TimeAlignment().release(consumer, batch) == batch[:1]


async def test_only_the_same_partition_number_of_other_topics_are_peers() -> None:
    assigned = {tp(POSTAL, 0), tp(AGENCY, 0), tp(POSTAL, 1), tp(AGENCY, 1)}
    consumer = Consumer(assigned, dict.fromkeys(assigned, 1))
    batch = [*records(AGENCY, [9_000], partition=1), *records(POSTAL, [1_000], partition=0)]
    # Partition 1's postal records are still to come; partition 0 of the agency topic is empty.
    consumer.ends.update({tp(POSTAL, 1): 5, tp(AGENCY, 0): 0})
    assert await TimeAlignment().release(consumer, batch) == batch[1:]
    assert consumer.held == {tp(AGENCY, 1)}


async def test_partitions_revoked_in_a_rebalance_are_forgotten() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 1_000, tp(AGENCY): 1_000})
    alignment = TimeAlignment()
    await alignment.release(consumer, [*records(POSTAL, [1_000]), *records(AGENCY, [9_000])])
    assert consumer.held == {tp(AGENCY)}
    # The agency partition went to another member; the postal one goes on alone.
    consumer.assigned = {tp(POSTAL)}
    batch = records(POSTAL, [1_100], first_offset=1)
    assert await alignment.release(consumer, batch) == batch
    # Given back later, it is judged by what is read from it from then on: until it is read again,
    # the postal partition waits.
    consumer.assigned = {tp(POSTAL), tp(AGENCY)}
    assert await alignment.release(consumer, records(POSTAL, [1_200], first_offset=2)) == []
    assert consumer.held == {tp(POSTAL)} and alignment.committable()[tp(POSTAL)] == 2


@pytest.mark.parametrize("seed", range(40))
async def test_any_fetch_pattern_applies_each_record_once_in_time_order_and_ends(seed: int) -> None:
    """A consumer that fetches a random few records of random unpaused partitions from their positions:
    every record is applied once, each group's records in time order (ties by topic), within a bounded
    number of batches, whatever the interleaving."""
    rng = random.Random(seed)
    topics = (AGENCY, POSTAL)
    logs = {
        tp(topic, p): sorted(rng.sample(range(1_000), rng.randint(0, 30))) for topic in topics for p in (0, 1)
    }
    consumer = Consumer(set(logs), {t: len(times) for t, times in logs.items()})
    alignment = TimeAlignment()
    applied: list[Record] = []
    for _ in range(2_000):
        if len(applied) == sum(len(times) for times in logs.values()):
            break
        fetchable = [t for t in logs if t not in consumer.held]
        batch = []
        for t in rng.sample(fetchable, rng.randint(0, len(fetchable))):
            start = consumer.positions.get(t, 0)
            taken = logs[t][start : start + rng.randint(1, 6)]
            batch += records(t.topic, taken, first_offset=start, partition=t.partition)
            consumer.positions[t] = start + len(taken)
        # A batch is applied as one (the tracker sorts each dossier's events in it): its order within
        # does not matter, only that no later batch brings anything older.
        applied += sorted(await alignment.release(consumer, batch), key=lambda r: (r.timestamp, r.topic))
    else:
        raise AssertionError("the consumer stopped making progress")
    assert sorted((r.topic, r.partition, r.offset) for r in applied) == sorted(
        (t.topic, t.partition, n) for t, times in logs.items() for n in range(len(times))
    )
    for p in (0, 1):
        order = [(r.timestamp, r.topic) for r in applied if r.partition == p]
        assert order == sorted(order)
